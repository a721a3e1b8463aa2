"""Master-key rotation: re-seal every secret at rest under the current master key.

The sealed values are merchant credentials, merchant channel credentials
(private keys, APIv3 keys) and the sealed platform settings (the platform RSA
private key, the demo merchant's credentials). Each is opened with whichever
known key sealed it and sealed again under the current one, all in one
transaction: a crash half-way leaves every value as it was, still openable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select, update

from paymux.secretbox import PREFIX, SecretBox
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork

CR = t.credentials.c
CC = t.channel_credentials.c
KV = t.settings_kv.c


def _sealed(uow: UnitOfWork) -> Iterator[tuple[str, Any, str]]:
    """Every sealed value at rest: (kind, the UPDATE that replaces it (needs .values), value)."""
    conn = uow.conn
    for row in conn.execute(select(CR.id, CR.secret_enc)).all():
        yield "merchant credentials", update(t.credentials).where(CR.id == row.id), row.secret_enc
    for row in conn.execute(select(CC.merchant_id, CC.channel, CC.config_enc)).all():
        where = (CC.merchant_id == row.merchant_id, CC.channel == row.channel)
        yield "channel credentials", update(t.channel_credentials).where(*where), row.config_enc
    for row in conn.execute(select(KV.key, KV.value).where(KV.value.startswith(PREFIX))).all():
        yield "platform settings", update(t.settings_kv).where(KV.key == row.key), row.value


_COLUMN = {
    "merchant credentials": "secret_enc",
    "channel credentials": "config_enc",
    "platform settings": "value",
}


def reseal_all(uow: UnitOfWork) -> dict[str, int]:
    """Re-seal every sealed value under the current master key; counts per kind."""
    box = uow.env.box
    counts = dict.fromkeys(_COLUMN, 0)
    for kind, statement, value in list(_sealed(uow)):
        uow.conn.execute(statement.values({_COLUMN[kind]: box.seal(box.open(value))}))
        counts[kind] += 1
    return counts


def unopenable(uow: UnitOfWork, box: SecretBox) -> int:
    """How many sealed values `box` cannot open (0 before a previous key may be forgotten)."""
    count = 0
    for _kind, _statement, value in _sealed(uow):
        try:
            box.open(value)
        except ValueError:
            count += 1
    return count
