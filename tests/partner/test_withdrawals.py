"""Withdrawals (3.7/3.8): frozen on request, reviewed in the admin API, paid out by the timed
job into the user's wallet or released on rejection and failure; every change notified."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from paymux.dialects.partner.client import PartnerClient, PartnerError
from paymux.services import audit, ledger
from tests.harness import Server
from tests.notify.receiver import Receiver
from tests.partner.conftest import onboard, other_partner


def fund(server: Server, partner: PartnerClient, order_no: str, amount: str) -> None:
    """Money into the partner's settlement account: an order paid through the sandbox."""
    pay = partner.create_payment(order_no, amount)
    assert server.sandbox_pay(pay["orderNo"]).status_code == 200


def settlement(server: Server, merchant: dict) -> dict:
    """The partner's USDT settlement account as the ledger has it (balance, frozen)."""
    account_id = ledger.settlement_account_id(merchant["merchant_id"], "USDT")
    account = server.ctx.store.read_sync(ledger.get_account, account_id)
    return {"balance": account.balance, "frozen": account.frozen}


def run_jobs(server: Server) -> None:
    """A sandbox clock advance runs every timed job at once (payouts included)."""
    server.advance_clock(1)


def statuses(partner: PartnerClient, endpoint: Receiver, path: str, count: int) -> set:
    """The statuses notified (deliveries run in parallel, so arrival order is not fixed)."""
    bodies = endpoint.bodies_at(path, count)
    return {partner.verify_notification(b)["status"] for b in bodies}


def test_approved_withdrawal_is_paid_into_the_users_wallet(
    server, merchant, partner, notify_endpoint
):
    user = onboard(server, partner, balance=0)
    fund(server, partner, "P-WD-FUND-1", "20.00")
    requested = partner.withdraw(
        user.openid, "5.00", notify_url=notify_endpoint.url("/w1"), remark="prize"
    )
    assert requested["status"] == "PENDING" and requested["userId"] == user.openid
    assert (requested["amount"], requested["currency"], requested["remark"]) == (
        "5.00",
        "USDT",
        "prize",
    )
    assert settlement(server, merchant) == {"balance": 2000, "frozen": 500}
    approved = server.admin("POST", f"/admin/v1/withdrawals/{requested['withdrawalNo']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "APPROVED"
    (entry,) = server.ctx.store.read_sync(
        audit.list_entries, audit.AuditFilter(target_id=requested["withdrawalNo"])
    )
    assert (entry.source, entry.action) == ("admin_api", "withdrawal.approve")
    assert (entry.before["status"], entry.after["status"]) == ("PENDING", "APPROVED")
    run_jobs(server)
    done = partner.query_withdrawal(requested["withdrawalNo"])
    assert done["status"] == "SUCCESS" and "completeTime" in done
    assert settlement(server, merchant) == {"balance": 1500, "frozen": 0}
    assert 'id="balance-USDT">5.00' in user.browser.get("/wallet").text
    assert statuses(partner, notify_endpoint, "/w1", 3) == {"APPROVED", "PROCESSING", "SUCCESS"}
    (note,) = [
        fields
        for fields in map(partner.verify_notification, notify_endpoint.bodies("/w1"))
        if fields["status"] == "SUCCESS"
    ]
    assert note["notifyType"] == "withdrawal" and note["withdrawalNo"] == done["withdrawalNo"]
    assert note["userId"] == user.openid and note["amount"] == "5.00"
    # a finished withdrawal cannot be reviewed again
    again = server.admin(
        "POST", f"/admin/v1/withdrawals/{done['withdrawalNo']}/reject", {"reason": "x"}
    )
    assert again.status_code == 409
    server.assert_ledger_clean()


def test_rejection_releases_the_frozen_amount(server, merchant, partner, notify_endpoint):
    user = onboard(server, partner, balance=0)
    fund(server, partner, "P-WD-FUND-2", "8.00")
    requested = partner.withdraw(user.openid, "8.00", notify_url=notify_endpoint.url("/w2"))
    number = requested["withdrawalNo"]
    assert settlement(server, merchant)["frozen"] == 800
    # the frozen money cannot be withdrawn a second time
    with pytest.raises(PartnerError) as frozen:
        partner.withdraw(user.openid, "0.01")
    assert frozen.value.code == "2003" and "0.00 USDT available" in frozen.value.message
    no_reason = server.admin("POST", f"/admin/v1/withdrawals/{number}/reject", {})
    assert no_reason.status_code == 400
    rejected = server.admin(
        "POST", f"/admin/v1/withdrawals/{number}/reject", {"reason": "KYC incomplete"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "REJECTED"
    shown = partner.query_withdrawal(number)
    assert (shown["status"], shown["reason"]) == ("REJECTED", "KYC incomplete")
    assert settlement(server, merchant) == {"balance": 800, "frozen": 0}
    assert server.admin("POST", f"/admin/v1/withdrawals/{number}/approve").status_code == 409
    run_jobs(server)
    assert partner.query_withdrawal(number)["status"] == "REJECTED"
    assert statuses(partner, notify_endpoint, "/w2", 1) == {"REJECTED"}
    assert 'id="balance-USDT">0.00' in user.browser.get("/wallet").text
    server.assert_ledger_clean()


def test_payout_failure_releases_the_frozen_amount(server, merchant, partner, notify_endpoint):
    user = onboard(server, partner, balance=0)
    fund(server, partner, "P-WD-FUND-3", "3.00")
    number = partner.withdraw(user.openid, "3.00", notify_url=notify_endpoint.url("/w3"))[
        "withdrawalNo"
    ]
    failing = server.admin(
        "POST", f"/sandbox/v1/withdrawals/{number}/fail", {"reason": "bank offline"}
    )
    assert failing.status_code == 200
    assert server.admin("POST", f"/admin/v1/withdrawals/{number}/approve").status_code == 200
    run_jobs(server)
    shown = partner.query_withdrawal(number)
    assert (shown["status"], shown["reason"]) == ("FAILED", "bank offline")
    assert settlement(server, merchant) == {"balance": 300, "frozen": 0}
    assert statuses(partner, notify_endpoint, "/w3", 3) == {"APPROVED", "PROCESSING", "FAILED"}
    assert 'id="balance-USDT">0.00' in user.browser.get("/wallet").text
    late = server.admin("POST", f"/sandbox/v1/withdrawals/{number}/fail", {})
    assert late.status_code == 409
    server.assert_ledger_clean()


def test_withdrawal_refusals(server, partner):
    user = onboard(server, partner, balance=0)
    with pytest.raises(PartnerError) as poor:
        partner.withdraw(user.openid, "1.00")
    assert poor.value.code == "2003" and "insufficient settlement balance" in poor.value.message
    stranger = onboard(server, other_partner(server, "payout stranger"), "stranger")
    with pytest.raises(PartnerError) as nobody:
        partner.withdraw(stranger.openid, "1.00")
    assert nobody.value.code == "10000004"
    with pytest.raises(PartnerError) as precise:
        partner.withdraw(user.openid, "1.001")
    assert precise.value.code == "1001"
    with pytest.raises(PartnerError) as missing:
        partner.post("/openapi/account/withdraw", {"amount": "1.00"})
    assert missing.value.code == "4000"


def test_withdrawal_query_of_unknown_or_foreign_numbers_is_5002(server, partner):
    other = other_partner(server, "payout neighbour")
    neighbour = onboard(server, other, "neighbour", balance=0)
    fund(server, other, "P-WD-FUND-4", "1.00")
    theirs = other.withdraw(neighbour.openid, "1.00")["withdrawalNo"]
    for number in ("404", theirs):
        with pytest.raises(PartnerError) as missing:
            partner.query_withdrawal(number)
        assert missing.value.code == "5002"


def test_admin_review_needs_the_admin_token(server, partner):
    answer = httpx.post(f"{server.base_url}/admin/v1/withdrawals/1/approve")
    assert answer.status_code == 401
    assert server.admin("POST", "/admin/v1/withdrawals/1/approve").status_code == 404
    listing = server.admin("GET", "/admin/v1/withdrawals?status=PENDING")
    assert listing.status_code == 200 and "items" in listing.json()


def test_concurrent_withdrawals_never_freeze_more_than_is_available(server, merchant, partner):
    user = onboard(server, partner, balance=0)
    fund(server, partner, "P-WD-FUND-5", "10.00")

    def withdraw(_: int) -> str:
        try:
            return partner.withdraw(user.openid, "3.00")["status"]
        except PartnerError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(withdraw, range(8)))
    assert outcomes.count("PENDING") == 3 and outcomes.count("2003") == 5
    assert settlement(server, merchant) == {"balance": 1000, "frozen": 900}
    server.assert_ledger_clean()


def test_approve_racing_reject_ends_in_exactly_one(server, merchant, partner):
    user = onboard(server, partner, balance=0)
    fund(server, partner, "P-WD-FUND-6", "1.00")
    number = partner.withdraw(user.openid, "1.00")["withdrawalNo"]
    actions = [
        ("POST", f"/admin/v1/withdrawals/{number}/approve", None),
        ("POST", f"/admin/v1/withdrawals/{number}/reject", {"reason": "race"}),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = sorted(pool.map(lambda a: server.admin(*a).status_code, actions))
    assert codes == [200, 409]
    run_jobs(server)
    final = partner.query_withdrawal(number)["status"]
    assert final in ("SUCCESS", "REJECTED")
    assert settlement(server, merchant)["frozen"] == 0
    server.assert_ledger_clean()
