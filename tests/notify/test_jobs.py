"""Timed jobs run on the dispatcher's machinery and follow the sandbox clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from paymux.services import orders
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork
from tests.harness import Server
from tests.notify.conftest import new_merchant
from tests.notify.receiver import Receiver


def _expired_nonces(uow: UnitOfWork) -> int:
    now = uow.env.clock.now()
    query = select(func.count()).select_from(t.nonces).where(t.nonces.c.expires_at <= now)
    return uow.conn.execute(query).scalar_one()


def test_expiry_and_pruning_run_when_the_clock_moves(
    fresh_server: Server, receiver: Receiver
) -> None:
    server = fresh_server
    merchant = new_merchant(server)
    delivered = merchant.paid_order(receiver.url())
    receiver.modes["/fail"] = "500"
    failing = merchant.paid_order(receiver.url("/fail"))
    merchant.wait_attempts(delivered, 1)
    merchant.wait_attempts(failing, 1)
    delivered_id = merchant.notification(delivered)["id"]
    unpaid = merchant.client.create_order("UNPAID-1", 500, "QR_CODE")["order_id"]
    expire_at: datetime = server.ctx.store.read_sync(orders.get_by_no, unpaid).expire_at
    to_expiry = (expire_at - server.ctx.env.clock.now()).total_seconds()

    server.advance_clock(to_expiry - 60)
    assert server.ctx.store.read_sync(orders.get_by_no, unpaid).status == "PENDING"
    server.advance_clock(61)  # past expire_at: the expiry job has run when this returns
    assert server.ctx.store.read_sync(orders.get_by_no, unpaid).status == "EXPIRED"
    assert server.ctx.store.read_sync(_expired_nonces) == 0  # spent nonces were pruned

    server.advance_clock(31 * 86400)  # past the 30-day retention of delivered rows
    assert server.admin("GET", f"/admin/v1/notifications/{delivered_id}").status_code == 404
    kept = merchant.notification(failing)  # not delivered: never pruned
    assert kept["status"] in ("PENDING", "EXHAUSTED") and kept["attempt_log"]
