"""The signing-key cache reads an expired entry once for all the requests that want it.

`merchants.find_by_key` is wrapped (not replaced) to count the reads the cache makes.
"""

from __future__ import annotations

from typing import Any

import pytest

from paymux.services import merchants
from paymux.store.uow import UnitOfWork
from tests.vpay.test_concurrency import shared_client, together


@pytest.fixture
def key_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The key ids `find_by_key` was asked for, in order."""
    asked: list[str] = []
    real = merchants.find_by_key

    def counted(uow: UnitOfWork, dialect: str, key_id: str) -> Any:
        asked.append(key_id)
        return real(uow, dialect, key_id)

    monkeypatch.setattr(merchants, "find_by_key", counted)
    return asked


def test_requests_that_find_the_key_expired_together_read_it_once(server, vpay, key_reads):
    client = shared_client(vpay, 24)
    client.merchant_info()
    assert key_reads == [vpay.app_id]
    server.advance_clock(5)  # past the cache's two seconds: every entry is stale
    results = together(24, lambda _: client.merchant_info())
    assert all(code == "ok" for code, _ in results), results
    assert key_reads == [vpay.app_id, vpay.app_id], key_reads
