"""Deliveries over real HTTP to a local merchant: signed, once, retried on every kind of failure.

The retry tests move the sandbox clock instead of sleeping: the clock-advance
endpoint returns once every attempt it made due has been made.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

import httpx
from typer.testing import CliRunner

from paymux.cli import app as cli_app
from paymux.services import audit
from tests.harness import Server
from tests.notify.conftest import SCHEDULE, new_merchant, show
from tests.notify.receiver import Receiver


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.removesuffix("Z"))


def _gaps(view: dict) -> list[float]:
    starts = [_at(a["started_at"]) for a in view["attempt_log"]]
    return [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]


def test_each_payment_is_notified_once_with_a_valid_signature(
    server: Server, receiver: Receiver
) -> None:
    merchant = new_merchant(server)
    order_ids = [merchant.paid_order(receiver.url()) for _ in range(5)]
    receiver.wait_for(lambda: len(receiver.requests) >= 5)

    fields = [merchant.client.verify_notification(body) for body in receiver.bodies()]
    assert sorted(f["order_id"] for f in fields) == sorted(order_ids)
    assert all(f["status"] == 1 and f["amount"] == 1234 for f in fields)
    for order_id in order_ids:
        view = merchant.notification(order_id)
        assert view["status"] == "DELIVERED" and view["attempts"] == 1, view
        (attempt,) = view["attempt_log"]
        assert attempt["success"] and attempt["status_code"] == 200, attempt
        assert attempt["response_excerpt"] == "SUCCESS" and attempt["error"] == ""
        assert view["body"].encode() in receiver.bodies()  # the stored bytes were sent
    assert len(receiver.requests) == 5
    headers = receiver.requests[0].headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("paymux-notify")


def test_metrics_count_deliveries_and_show_the_due_queue(
    server: Server, receiver: Receiver
) -> None:
    merchant = new_merchant(server)
    merchant.wait_attempts(merchant.paid_order(receiver.url()), 1)
    text = server.admin("GET", "/metrics").text
    delivered = re.search(
        r'^paymux_notify_deliveries_total\{dialect="vpay",outcome="delivered"\} (\S+)$',
        text,
        re.M,
    )
    assert delivered and float(delivered.group(1)) >= 1, text
    assert re.search(r'^paymux_notify_delivery_seconds_count\{dialect="vpay"\} [1-9]', text, re.M)
    assert re.search(r"^paymux_notify_due \d", text, re.M)
    assert re.search(r"^paymux_notify_oldest_due_seconds \d", text, re.M)
    assert 'paymux_jobs_runs_total{job="orders.expire",result="ok"}' in text


def test_admin_api_errors(server: Server) -> None:
    assert server.admin("GET", "/admin/v1/notifications/999999").status_code == 404
    assert server.admin("POST", "/admin/v1/notifications/999999/retry").status_code == 404
    bad_status = server.admin("GET", "/admin/v1/notifications?status=LOST")
    assert bad_status.status_code == 400 and "status" in bad_status.json()["error"]["message"]
    bad_time = server.admin("GET", "/admin/v1/notifications?since=yesterday")
    assert bad_time.status_code == 400
    bad_ids = server.admin("POST", "/admin/v1/notifications/retry", {"ids": ["1"]})
    assert bad_ids.status_code == 400
    unknown = server.admin("POST", "/admin/v1/notifications/retry", {"everything": True})
    assert unknown.status_code == 400
    assert httpx.get(server.base_url + "/admin/v1/notifications").status_code == 401


def test_merchant_down_then_up_follows_the_schedule(quick_server: Server) -> None:
    receiver = Receiver()  # its port is closed until start(): the merchant is down
    try:
        merchant = new_merchant(quick_server)
        order_id = merchant.paid_order(receiver.url())
        view = merchant.wait_attempts(order_id, 1)
        assert view["status"] == "PENDING"
        assert view["attempt_log"][0]["error"].startswith("ClientConnectorError"), view
        assert view["attempt_log"][0]["status_code"] is None

        quick_server.advance_clock(SCHEDULE[1])  # the second attempt is due 5 s later
        view = merchant.notification(order_id)
        assert len(view["attempt_log"]) == 2 and view["status"] == "PENDING"
        quick_server.advance_clock(SCHEDULE[2] - 2)  # 8 of the 10 s: nothing is due yet
        assert len(merchant.notification(order_id)["attempt_log"]) == 2

        receiver.start()  # the merchant is back
        quick_server.advance_clock(2.5)
        view = merchant.notification(order_id)
        assert view["status"] == "DELIVERED" and view["attempts"] == 3, view
        assert [a["success"] for a in view["attempt_log"]] == [False, False, True]
        gaps = _gaps(view)
        assert gaps[0] >= SCHEDULE[1] and gaps[1] >= SCHEDULE[2], gaps
        (body,) = receiver.bodies()
        assert body == view["body"].encode()
        assert merchant.client.verify_notification(body)["order_id"] == order_id
    finally:
        receiver.close()


def test_every_kind_of_failure_is_a_failed_attempt_and_retried(
    quick_server: Server, receiver: Receiver
) -> None:
    expected = {
        "/wrong": "NotAcknowledged: HTTP 200",
        "/500": "NotAcknowledged: HTTP 500",
        "/hang": "Timeout",
        "/close": "ServerDisconnectedError",
        "/redirect": "NotAcknowledged: HTTP 302",
        "/huge": "NotAcknowledged: HTTP 200",
    }
    receiver.modes.update({path: path[1:] for path in expected})
    merchant = new_merchant(quick_server)
    orders = {path: merchant.paid_order(receiver.url(path)) for path in expected}

    for path, order_id in orders.items():
        view = merchant.wait_attempts(order_id, 1)
        (attempt,) = view["attempt_log"]
        assert view["status"] == "PENDING" and not attempt["success"], (path, view)
        assert expected[path] in attempt["error"], (path, attempt)
    hang = merchant.notification(orders["/hang"])["attempt_log"][0]
    assert 900 <= hang["latency_ms"] < 5000, hang  # the 1 s timeout, not the merchant, ended it
    huge = merchant.notification(orders["/huge"])["attempt_log"][0]
    assert huge["response_excerpt"] == "x" * 1024  # first 1 KB kept, 10 MB never loaded
    assert receiver.bodies("/ok") == []  # the redirect was not followed

    receiver.modes.clear()  # every merchant is healthy again
    quick_server.advance_clock(SCHEDULE[1])
    for path, order_id in orders.items():
        view = merchant.notification(order_id)
        assert view["status"] == "DELIVERED" and view["attempts"] == 2, (path, view)
        first, second = (r for r in receiver.requests if r.path == path)
        assert first.body == second.body  # the same bytes on every retry...
        assert first.headers == second.headers  # ...and the same headers
        merchant.client.verify_notification(second.body)


def test_exhausted_stays_visible_and_is_redelivered(
    quick_server: Server, receiver: Receiver
) -> None:
    """Last in this module: it moves the clock past vpay's signing window."""
    receiver.modes["/down"] = "500"
    merchant = new_merchant(quick_server)
    by_api, by_cli = (merchant.paid_order(receiver.url("/down")) for _ in range(2))
    merchant.wait_attempts(by_api, 1)
    merchant.wait_attempts(by_cli, 1)
    for delay in SCHEDULE[1:]:
        quick_server.advance_clock(delay)
    view = merchant.notification(by_api)
    assert view["status"] == "EXHAUSTED" and view["attempts"] == len(SCHEDULE), view
    assert view["next_attempt_at"] is None
    assert all(not a["success"] for a in view["attempt_log"])
    assert [g >= d for g, d in zip(_gaps(view), SCHEDULE[1:], strict=True)] == [True] * 5
    quick_server.advance_clock(3600)  # nothing more is tried on its own
    assert merchant.notification(by_api)["attempts"] == len(SCHEDULE)

    receiver.modes.clear()
    retried = quick_server.admin("POST", f"/admin/v1/notifications/{view['id']}/retry")
    assert retried.json() == {"redelivered": 1}
    view = merchant.wait_attempts(by_api, len(SCHEDULE) + 1)
    assert view["status"] == "DELIVERED" and view["attempt_log"][-1]["success"]
    bodies = receiver.bodies("/down")
    assert len(set(bodies)) == 2  # two notifications, each always the same bytes

    # The CLI, by filter: this merchant's exhausted notifications (the other one).
    settings = quick_server.ctx.settings
    env = {
        "PAYMUX_DATA_DIR": str(settings.data_dir),
        "PAYMUX_DATABASE_URL": settings.database_url,
        "PAYMUX_ADMIN_TOKEN": settings.admin_token,
    }
    runner = CliRunner()
    listed = runner.invoke(
        cli_app,
        ["notify", "list", "--merchant", merchant.merchant_id, "--status", "EXHAUSTED", "--json"],
        env=env,
    )
    assert listed.exit_code == 0, listed.output
    assert '"ref": "' + by_cli + '"' in listed.output and by_api not in listed.output
    result = runner.invoke(
        cli_app, ["notify", "retry", "--merchant", merchant.merchant_id], env=env
    )
    assert result.exit_code == 0 and "1 notification" in result.output, result.output
    view = merchant.wait_attempts(by_cli, len(SCHEDULE) + 1)  # picked up by the server's poll
    assert view["status"] == "DELIVERED"
    shown = runner.invoke(cli_app, ["notify", "show", str(view["id"]), "--json"], env=env)
    assert shown.exit_code == 0 and '"status": "DELIVERED"' in shown.output
    assert show(quick_server, view["id"])["attempts"] == len(SCHEDULE) + 1

    # Both redeliveries are in the audit log, with who asked.
    entries = quick_server.ctx.store.read_sync(
        audit.list_entries, audit.AuditFilter(action="notification.redeliver")
    )
    by_api_id = str(merchant.notification(by_api)["id"])
    assert any(e.source == "admin_api" and e.target_id == by_api_id for e in entries)
    assert any(e.source == "cli" and merchant.merchant_id in e.detail for e in entries)
