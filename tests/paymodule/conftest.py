"""paymodule fixtures: the merchant's SDK client, a callback receiver, a QR decoder, and
read-only looks at paymux's tables to prove a refused request changed nothing."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from paymux.dialects.paymodule.client import PaymoduleClient
from paymux.store import tables as t
from tests.harness import Server
from tests.notify.receiver import Receiver


@pytest.fixture
def pm(server: Server, merchant: dict[str, Any]) -> Iterator[PaymoduleClient]:
    client = PaymoduleClient(
        server.base_url,
        merchant["paymodule"]["apiKey"],
        merchant["paymodule"]["callbackSignSecret"],
    )
    yield client
    client.http.close()


@pytest.fixture
def shop() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def decode_qr(data_uri: str) -> str:
    """The text of the QR code in a `data:image/png;base64,…` URI, read by zxing-cpp."""
    prefix = "data:image/png;base64,"
    assert data_uri.startswith(prefix), data_uri[:40]
    image = Image.open(io.BytesIO(base64.b64decode(data_uri[len(prefix) :])))
    assert image.format == "PNG"
    (barcode,) = zxingcpp.read_barcodes(image)
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    return barcode.text


def row_counts(server: Server) -> dict[str, int]:
    """Row counts of every table a paymodule request could touch."""
    tables = (
        t.orders,
        t.payment_attempts,
        t.notifications,
        t.journal_entries,
        t.channel_mismatches,
    )

    def read(uow: Any) -> dict[str, int]:
        return {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        }

    return server.ctx.store.read_sync(read)


def outbox(server: Server, merchant_id: str) -> list[dict[str, Any]]:
    def read(uow: Any) -> list[dict[str, Any]]:
        n = t.notifications.c
        rows = uow.conn.execute(
            select(t.notifications).where(n.merchant_id == merchant_id).order_by(n.id)
        ).all()
        return [dict(r._mapping) for r in rows]

    return server.ctx.store.read_sync(read)
