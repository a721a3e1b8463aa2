"""Console actions over real HTTP, checked against the services and the ledger afterwards."""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from paymux.dialects.vpay.client import VpayClient, VpayError
from paymux.notify import outbox
from paymux.services import audit, orders, refunds, withdrawals
from paymux.services import console_queries as q
from tests.console.conftest import World, dead_url

TSK_PUBLIC = Path(__file__).parent.parent / "data" / "tsk-test-public.pem"


def _audit(world: World, **flt: str) -> list[audit.Entry]:
    return world.server.ctx.store.read_sync(audit.list_entries, audit.AuditFilter(**flt))


def test_find_orders_by_filter_and_keyset_pages(world: World) -> None:
    console = world.client()
    shop = world.vpay.query_order(world.paid[1])
    found = console.get("/console/orders", params={"number": shop["merchant_order_id"]})
    assert found.status_code == 200 and world.paid[1] in found.text
    assert world.paid[0] not in found.text
    pending = console.get(
        "/console/orders", params={"merchant_id": world.merchant_id, "status": "PENDING"}
    )
    assert world.pending in pending.text and world.paid[0] not in pending.text
    by_amount = console.get(
        "/console/orders",
        params={"merchant_id": world.merchant_id, "min_amount": "100.01", "max_amount": "100.01"},
    )
    assert world.paid[1] in by_amount.text and world.paid[0] not in by_amount.text
    bad = console.get("/console/orders", params={"min_amount": "1.234"})
    assert bad.status_code == 400 and "decimal places" in bad.text
    # Keyset pages of two cover every order of the merchant once, newest first.
    flt = q.OrderFilter(merchant_id=world.merchant_id)
    seen: list[str] = []
    cursor = None
    while True:
        rows, cursor = world.server.ctx.store.read_sync(q.list_orders, flt, cursor, 2)
        seen += [o.order_no for o in rows]
        if cursor is None:
            break
        link = console.get(
            "/console/orders", params={"merchant_id": world.merchant_id, "after": cursor.encode()}
        )
        assert link.status_code == 200 and rows[-1].order_no not in link.text
    assert sorted(seen) == sorted([*world.paid, world.pending]) and len(set(seen)) == len(seen)


def test_refund_close_and_their_audit(world: World) -> None:
    console = world.client()
    order_no = world.paid[0]
    page = console.get(f"/console/orders/{order_no}")
    key = re.search(r'name="key" value="([0-9a-f]{16})"', page.text)
    assert key, page.text
    form = {"amount": "40.00", "reason": "damaged", "key": key.group(1), "currency": "CNY"}
    done = console.post(f"/console/orders/{order_no}/refund", form)
    assert done.status_code == 303 and done.headers["location"].endswith("done=refunded")
    again = console.post(f"/console/orders/{order_no}/refund", form)  # a double submit
    assert again.status_code == 303
    order = world.server.ctx.store.read_sync(orders.get_by_no, order_no)
    assert order.refunded_amount == 4_000 and order.status == "PARTIALLY_REFUNDED"
    assert len(world.server.ctx.store.read_sync(refunds.order_refunds, order.id)) == 1
    too_much = console.post(
        f"/console/orders/{order_no}/refund",
        {**form, "amount": "70.00", "key": secrets.token_hex(8)},
    )
    assert too_much.status_code == 400 and "exceeds the refundable 6000" in too_much.text
    shown = console.get(f"/console/orders/{order_no}")
    assert "The refund was created." not in shown.text  # no ?done on a plain visit
    assert "console-" + key.group(1) in shown.text and "refund" in shown.text
    # Close a pending order; closing it again is a conflict, not a 500.
    closed = console.post(f"/console/orders/{world.pending}/close", {})
    assert closed.status_code == 303
    twice = console.post(f"/console/orders/{world.pending}/close", {})
    assert twice.status_code == 409 and "cannot close" in twice.text
    # The double submit is in the log too, as the operator did it, changing nothing.
    resubmit, refund_entry = _audit(world, action="order.refund", target_id=order_no)
    assert refund_entry.actor == world.admin and refund_entry.source == "console"
    assert refund_entry.before is not None and refund_entry.after is not None
    assert refund_entry.before["refunded_amount"] == 0
    assert refund_entry.after["refunded_amount"] == 4_000
    assert resubmit.before == resubmit.after == refund_entry.after
    assert len(_audit(world, action="order.close", target_id=world.pending)) == 1
    log = console.get("/console/audit", params={"action": "order.refund"})
    assert order_no in log.text and world.admin in log.text
    world.server.assert_ledger_clean()


def test_withdrawal_review(world: World) -> None:
    console = world.client()
    queue = console.get("/console/withdrawals")
    assert world.withdrawal_no in queue.text
    no_reason = console.post(f"/console/withdrawals/{world.withdrawal_no}/reject", {"reason": ""})
    assert no_reason.status_code == 400 and "reason is required" in no_reason.text
    approved = console.post(f"/console/withdrawals/{world.withdrawal_no}/approve", {})
    assert approved.status_code == 303
    status = world.server.ctx.store.read_sync(withdrawals.get_by_no, world.withdrawal_no).status
    assert status in ("APPROVED", "PROCESSING", "SUCCESS")
    late = console.post(f"/console/withdrawals/{world.withdrawal_no}/reject", {"reason": "late"})
    assert late.status_code == 409
    world.server.assert_ledger_clean()


def test_redeliver_failing_notifications(world: World) -> None:
    console = world.client()
    failing = console.get("/console/notifications", params={"view": "failing"})
    ids = [int(i) for i in re.findall(r'name="ids" value="(\d+)"', failing.text)]
    assert ids, failing.text
    detail = console.get(f"/console/notifications/{ids[0]}")
    assert detail.status_code == 200 and "Attempt log" in detail.text
    assert "ConnectError" in detail.text or "connect" in detail.text.lower()
    before = world.server.ctx.store.read_sync(outbox.get_notification, ids[0])
    done = console.post(
        "/console/notifications/redeliver", {"ids": [str(i) for i in ids], "back": "/console/x"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/console/x?done=redelivered"
    entry = _audit(world, action="notification.redeliver")[0]
    assert entry.target_id == ",".join(str(i) for i in ids)
    after = world.server.ctx.store.read_sync(outbox.get_notification, ids[0])
    assert after.notification.attempts >= before.notification.attempts
    none = console.post("/console/notifications/redeliver", {})
    assert none.status_code == 400
    unknown = console.post("/console/notifications/redeliver", {"ids": "999999999"})
    assert unknown.status_code == 404


def test_merchant_create_settings_rotate_disable(world: World) -> None:
    console = world.client()
    created = console.post(
        "/console/merchants", {"name": "Made in the console", "notify_url": "https://shop.test/n"}
    )
    assert created.status_code == 200 and "shown this once" in created.text
    merchant_id = re.search(r"/console/merchants/(M\w+)", created.text).group(1)
    secret = re.search(r'secret_key <code class="secret">(\w+)</code>', created.text).group(1)
    client = VpayClient(world.server.base_url, merchant_id, secret)
    assert client.merchant_info()["merchant_id"] == merchant_id
    # Invalid settings are refused with the field named; valid ones are saved and audited.
    settings = {
        "name": "Made in the console",
        "fee_rate_bp": "60",
        "ip_allowlist": "10.0.0.0/8, 127.0.0.1",
        "rate_limit_per_s": "100",
        "timestamp_window_s": "300",
        "notify_url": "ftp://nope",
    }
    bad = console.post(f"/console/merchants/{merchant_id}", settings)
    assert bad.status_code == 400 and "notify_url" in bad.text
    saved = console.post(
        f"/console/merchants/{merchant_id}", {**settings, "notify_url": "https://shop.test/n2"}
    )
    assert saved.status_code == 303
    (update,) = _audit(world, action="merchant.update", target_id=merchant_id)
    assert update.before["fee_rate_bp"] == 0 and update.after["fee_rate_bp"] == 60
    assert update.after["ip_allowlist"] == "10.0.0.0/8,127.0.0.1"
    # Rotation shows the new secret once; the old one keeps working in the grace period.
    rotated = console.post(f"/console/merchants/{merchant_id}/rotate", {"dialect": "vpay"})
    assert rotated.status_code == 200
    new_secret = re.search(r'secret_key <code class="secret">(\w+)</code>', rotated.text).group(1)
    assert new_secret != secret
    assert VpayClient(world.server.base_url, merchant_id, new_secret).merchant_info()
    assert client.merchant_info()["merchant_id"] == merchant_id
    rotation = _audit(world, action="merchant.rotate_secret", target_id=merchant_id)[0]
    assert secret not in str(rotation) and new_secret not in str(rotation)
    # Disabled: the merchant's API calls are refused at once.
    off = console.post(f"/console/merchants/{merchant_id}/status", {"status": "disabled"})
    assert off.status_code == 303
    with pytest.raises(VpayError, match=r"MERCHANT\.DISABLED"):
        client.create_order("after-disable", 100)


def test_skill_registration_and_a_refusing_skill(world: World) -> None:
    console = world.client()
    unreachable = dead_url()
    form = {
        "create_order_url": unreachable,
        "ship_url": unreachable,
        "refund_notify_url": unreachable,
        "public_key": TSK_PUBLIC.read_text(),
    }
    registered = console.post(f"/console/merchants/{world.merchant_id}/skill", form)
    assert registered.status_code == 303, registered.text
    page = console.get(f"/console/merchants/{world.merchant_id}")
    skill_id = re.search(r"skillpay skill <code>(sk\w+)</code>", page.text).group(1)
    simulator = console.get("/console/simulator")
    assert skill_id in simulator.text
    refused = console.post(
        "/console/simulator/skillpay",
        {"skill_id": skill_id, "user_token": "u1", "items": "coins, 1, 6.00", "screen": "1"},
    )
    assert refused.status_code == 502 and "The skill refused" in refused.text
    bad_items = console.post(
        "/console/simulator/skillpay",
        {"skill_id": skill_id, "user_token": "u1", "items": "coins, one, 6"},
    )
    assert bad_items.status_code == 400 and "item line 1" in bad_items.text


def test_sandbox_payer_pays_an_order(world: World) -> None:
    console = world.client()
    made = console.post("/console/simulator/payers", {"name": "Payer P", "balance": "50.00"})
    assert made.status_code == 200 and "shown this once" in made.text
    user_id = re.search(r"User <code>(U\d+)</code>", made.text).group(1)
    wallet = f"W:{user_id}:CNY"
    topped = console.post(f"/console/simulator/accounts/{wallet}/topup", {"amount": "25.00"})
    assert topped.status_code == 303
    order = world.order(6_000, pay=False)
    paid = console.post(
        "/console/simulator/pay", {"order_no": order["order_id"], "user_id": user_id}
    )
    assert paid.status_code == 303
    assert world.server.ctx.store.read_sync(orders.get_by_no, order["order_id"]).status == "PAID"
    account = console.get(f"/console/accounts/{wallet}")
    assert "15.00 CNY" in account.text  # 50 + 25 - 60
    world.server.assert_ledger_clean()


def test_ledger_check_statement_and_exports(world: World) -> None:
    console = world.client()
    check = console.post("/console/ledger/check", {})
    assert "Ledger clean" in check.text
    day = world.server.ctx.env.clock.now().replace(tzinfo=None) + timedelta(hours=8)
    params = {"merchant_id": world.merchant_id, "day": day.date().isoformat()}
    page = console.get("/console/statements", params=params)
    assert page.status_code == 200 and "matches the journal" in page.text
    exported = console.get("/console/statements.csv", params=params)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    lines = [r for r in rows[1:] if r and r[0] != "TOTAL"]
    totals = {r[1]: r[9] for r in rows if r and r[0] == "TOTAL"}
    assert {r[1] for r in lines} >= {"pay", "refund"}
    assert totals["matches_ledger"] == "true"
    assert totals["closing_balance"] == totals["closing_balance_ledger"]
    net = sum(int(r[9].replace(".", "")) for r in lines)
    opening = int(totals["opening_balance"].replace(".", ""))
    assert opening + net == int(totals["closing_balance"].replace(".", ""))
    settlement = console.get(f"/console/accounts/S:{world.merchant_id}:CNY")
    assert totals["closing_balance"] in settlement.text  # no later movement of the day
    orders_csv = console.get("/console/orders.csv", params={"merchant_id": world.merchant_id})
    got = list(csv.DictReader(io.StringIO(orders_csv.text)))
    assert {r["order_no"] for r in got} >= set(world.paid)
    assert _audit(world, action="orders.export") and _audit(world, action="statement.export")


def test_formula_cells_are_neutralised_in_exports(world: World) -> None:
    order = world.vpay.create_order("F-" + secrets.token_hex(4), 100, product_desc="=1+2")
    exported = world.client().get(
        "/console/orders.csv", params={"number": order["merchant_order_id"]}
    )
    (row,) = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["description"] == "'=1+2"


def test_the_dashboard_counts_today(world: World) -> None:
    page = world.client("viewer").get("/console/")
    assert page.status_code == 200
    assert "<svg" in page.text and "polyline" in page.text
    board = world.server.ctx.store.read_sync(
        q.dashboard,
        world.server.ctx.env.clock.now() - timedelta(hours=1),
        world.server.ctx.env.clock.now() + timedelta(hours=1),
    )
    assert board.total.created >= 5 and board.total.paid >= 4
    assert {b.key for b in board.by_dialect} >= {"vpay"}
    assert {b.key for b in board.by_channel} >= {"sandbox"}


def test_unknown_records_are_404_pages(world: World) -> None:
    console = world.client()
    for path in ("/console/orders/404404", "/console/merchants/Mnope", "/console/accounts/x"):
        response = console.get(path)
        assert response.status_code == 404 and "<html" in response.text, path
    assert console.get("/console/notifications/abc").status_code in (400, 404)
    assert httpx.get(world.server.base_url + "/console/static/console.js").status_code == 200
