"""What the skill-called endpoints refuse, and the refund rules under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from paymux.dialects.skillpay.client import SkillpayError
from tests.skillpay.conftest import Skill, wait_for

BOX = [{"itemId": "box", "quantity": 10, "amount": 1000}]


def fails(call: Any, err_code: str, status: int, detail: str = "") -> SkillpayError:
    with pytest.raises(SkillpayError) as info:
        call()
    assert info.value.err_code == err_code and info.value.status == status, info.value
    assert detail in info.value.ret_msg
    return info.value


def lines(quantity: int, amount: int) -> list[dict[str, Any]]:
    return [{"itemId": "box", "quantity": quantity, "amount": amount}]


def test_order_query_needs_exactly_one_id_and_version_1_0(skill: Skill) -> None:
    order = skill.paid_order(BOX)
    client = skill.client
    fails(lambda: client.order_query(), "PARAM_ERROR", 400, "exactly one")
    fails(
        lambda: client.order_query(
            transaction_id=order["transactionId"], trade_no=order["tradeNo"]
        ),
        "PARAM_ERROR",
        400,
        "exactly one",
    )
    fails(lambda: client.order_query(trade_no="T-1"), "PARAM_ERROR", 400, "tradeNo")
    fails(lambda: client.order_query(trade_no="T" * 33), "PARAM_ERROR", 400, "tradeNo")
    fails(lambda: client.order_query(trade_no="Tmissing"), "ORDER_NOT_EXIST", 404)
    tid = order["transactionId"]
    fails(
        lambda: client.call("/orderquery", {"transactionId": tid, "version": "2.0"}),
        "PARAM_ERROR",
        400,
        "version",
    )
    fails(
        lambda: client.call("/orderquery", {"transactionId": tid, "version": "1.0.0.0"}),
        "PARAM_ERROR",
        400,
        "version",
    )
    reply = client.call("/orderquery", {"transactionId": tid, "version": "1.0", "future": "x"})
    assert reply["tradeStatus"] == "SUCCESS"  # unknown fields are ignored (兼容扩展)
    fails(lambda: client.call("/orderquery", {"tradeNo": order["tradeNo"], "nonceStr": ""}),
          "PARAM_ERROR", 400, "nonceStr")  # fmt: skip


def test_another_skills_order_does_not_exist(make_skill: Any) -> None:
    mine, theirs = make_skill(), make_skill()
    order = theirs.paid_order(BOX)
    fails(
        lambda: mine.client.order_query(transaction_id=order["transactionId"]),
        "ORDER_NOT_EXIST",
        404,
    )
    fails(lambda: mine.client.order_query(trade_no=order["tradeNo"]), "ORDER_NOT_EXIST", 404)
    refund = theirs.client.refund(
        "RX1", total_amt=1000, refund_details=lines(1, 100), trade_no=order["tradeNo"]
    )
    fails(
        lambda: mine.client.refund_query(refund_transaction_id=refund["refundTransactionId"]),
        "REFUND_NOT_EXIST",
        404,
    )
    fails(lambda: mine.client.refund_query(refund_trade_no="RX1"), "REFUND_NOT_EXIST", 404)


def test_refund_amounts_must_add_up_and_match_the_order(skill: Skill) -> None:
    order = skill.paid_order(BOX)
    refund = skill.client.refund
    tid = order["transactionId"]
    fails(
        lambda: refund(
            "R1", total_amt=1000, refund_amt=400, refund_details=lines(3, 300), transaction_id=tid
        ),
        "PARAM_ERROR",
        400,
        "refundAmt",
    )
    fails(
        lambda: refund("R1", total_amt=999, refund_details=lines(3, 300), transaction_id=tid),
        "PARAM_ERROR",
        400,
        "totalAmt",
    )
    fails(
        lambda: refund(
            "R1",
            total_amt=1000,
            refund_details=[{"itemId": "cap", "quantity": 1, "amount": 1}],
            transaction_id=tid,
        ),
        "PARAM_ERROR",
        400,
        "not in the order",
    )
    fails(
        lambda: refund("R1", total_amt=1000, refund_details=lines(11, 300), transaction_id=tid),
        "PARAM_ERROR",
        400,
        "exceeds what was ordered",
    )
    fails(
        lambda: refund("R1", total_amt=1000, refund_details=[], transaction_id=tid),
        "PARAM_ERROR",
        400,
    )
    fails(
        lambda: refund("R1", total_amt=1000, refund_details=lines(0, 300), transaction_id=tid),
        "PARAM_ERROR",
        400,
        "quantity",
    )
    fails(
        lambda: refund("R1", total_amt=1000, refund_details=lines(1, 0), transaction_id=tid),
        "PARAM_ERROR",
        400,
        "refundAmt",
    )
    fails(
        lambda: refund("R_1", total_amt=1000, refund_details=lines(1, 100), transaction_id=tid),
        "PARAM_ERROR",
        400,
        "refundTradeNo",
    )
    fails(
        lambda: refund(
            "R1",
            total_amt=1000,
            refund_details=lines(1, 100),
            transaction_id=tid,
            refund_desc="x" * 65,
        ),
        "PARAM_ERROR",
        400,
        "refundDesc",
    )
    fails(
        lambda: refund("R1", total_amt=1000, refund_details=lines(1, 100)),
        "PARAM_ERROR",
        400,
        "exactly one",
    )
    fails(
        lambda: skill.client.call(
            "/refund",
            {
                "transactionId": tid,
                "refundTradeNo": "R1",
                "totalAmt": "1000",
                "refundAmt": 1.5,
                "refundDetails": lines(1, 100),
            },
        ),
        "PARAM_ERROR",
        400,
        "refundAmt",
    )
    fails(lambda: skill.client.refund_query(), "PARAM_ERROR", 400, "exactly one")
    fails(lambda: skill.client.refund_query(refund_trade_no="R1"), "REFUND_NOT_EXIST", 404)
    assert (
        skill.client.order_query(transaction_id=tid)["tradeStatusDesc"] == "支付成功"
    )  # untouched


def test_refund_over_the_paid_amount_and_of_an_unpaid_order(skill: Skill) -> None:
    order = skill.paid_order(BOX)
    tid = order["transactionId"]
    skill.client.refund("R1", total_amt=1000, refund_details=lines(6, 600), transaction_id=tid)
    fails(
        lambda: skill.client.refund(
            "R2", total_amt=1000, refund_details=lines(5, 500), transaction_id=tid
        ),
        "REFUND_AMOUNT_EXCEEDED",
        409,
        "exceeds the refundable 400",
    )
    skill.client.refund("R3", total_amt=1000, refund_details=lines(4, 400), transaction_id=tid)
    fails(
        lambda: skill.client.refund(
            "R4", total_amt=1000, refund_details=lines(1, 1), transaction_id=tid
        ),
        "ORDER_STATUS_ERROR",
        409,
    )
    unpaid = skill.place(BOX).json()
    fails(
        lambda: skill.client.refund(
            "R5", total_amt=1000, refund_details=lines(1, 1), trade_no=unpaid["tradeNo"]
        ),
        "ORDER_STATUS_ERROR",
        409,
    )
    skill.server.assert_ledger_clean()


def test_concurrent_refunds_never_exceed_the_paid_amount(skill: Skill) -> None:
    order = skill.paid_order(BOX)

    def attempt(i: int) -> str:
        try:
            skill.client.refund(
                f"RC{i}", total_amt=1000, refund_details=lines(3, 300), trade_no=order["tradeNo"]
            )
        except SkillpayError as exc:
            return exc.err_code
        return "SUCCESS"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    assert outcomes.count("SUCCESS") == 3, outcomes
    assert set(outcomes) == {"SUCCESS", "REFUND_AMOUNT_EXCEEDED"}, outcomes
    succeeded = [
        skill.client.refund_query(refund_trade_no=f"RC{i}")
        for i, outcome in enumerate(outcomes)
        if outcome == "SUCCESS"
    ]
    assert sum(r["refundAmt"] for r in succeeded) == 900
    assert all(r["refundStatus"] == "SUCCESS" for r in succeeded)
    wait_for(lambda: len(skill.behaviour.refund_notices) == 3)
    skill.server.assert_ledger_clean()
