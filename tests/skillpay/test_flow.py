"""The whole skillpay life of an order, over real HTTP, against a skill built from the SDK.

order (paymux calls the skill) → pay → ship notice (the skill fails twice,
then answers SUCCESS) → order query → partial refund → refund notice →
refund query. Every request and reply on both sides is TSK-RSA2 verified by
the SDK or by paymux; a failure anywhere fails the test.
"""

from __future__ import annotations

import time

import httpx

from tests.skillpay.conftest import Skill, wait_for

DETAILS = [
    {"itemId": "songpack", "quantity": 2, "amount": 600},
    {"itemId": "vipmonth", "quantity": 1, "amount": 400},
]


def test_order_pay_ship_query_refund_notice_refund_query(skill: Skill) -> None:
    server, behaviour, client = skill.server, skill.behaviour, skill.client
    behaviour.ship_failures = 2

    response = skill.place(DETAILS)
    assert response.status_code == 201, response.text
    order = response.json()
    transaction_id, trade_no = order["transactionId"], order["tradeNo"]
    assert order["totalAmt"] == 1000 and order["status"] == "NOTPAY" and order["screen"] is True
    assert order["cashier_url"] == f"{server.base_url}/cashier/{transaction_id}"
    assert order["confirm_url"] is None
    created = behaviour.created[0]
    assert created["skillId"] == skill.skill_id and created["userToken"] == "user-1"
    assert created["details"] == DETAILS and created["totalAmt"] == 1000
    assert 1 <= len(created["nonceStr"]) <= 32
    assert httpx.get(order["cashier_url"]).status_code == 200  # the QR's target

    queried = client.order_query(transaction_id=transaction_id)
    assert queried["tradeStatus"] == "NOTPAY" and queried["tradeNo"] == trade_no

    assert server.sandbox_pay(transaction_id).status_code == 200
    wait_for(lambda: len(behaviour.shipped) == 1)
    server.advance_clock(15)
    wait_for(lambda: len(behaviour.shipped) == 2)
    server.advance_clock(15)
    wait_for(lambda: len(behaviour.shipped) == 3)
    assert behaviour.shipped[0] == {
        "skillId": skill.skill_id,
        "userToken": "user-1",
        "transactionId": transaction_id,
        "tradeNo": trade_no,
        "totalAmt": 1000,
        "nonceStr": behaviour.shipped[0]["nonceStr"],
    }
    assert behaviour.shipped[0] == behaviour.shipped[1] == behaviour.shipped[2]  # same notice
    server.advance_clock(60)  # acknowledged: no further attempt
    time.sleep(0.3)
    assert len(behaviour.shipped) == 3

    queried = client.order_query(trade_no=trade_no)
    assert queried == {
        "retCode": "SUCCESS",
        "skillId": skill.skill_id,
        "transactionId": transaction_id,
        "tradeNo": trade_no,
        "totalAmt": 1000,
        "tradeStatus": "SUCCESS",
        "tradeStatusDesc": "支付成功",
    }

    refund = client.refund(
        "R1001",
        total_amt=1000,
        refund_details=[{"itemId": "songpack", "quantity": 1, "amount": 300}],
        trade_no=trade_no,
        refund_desc="one song pack returned",
    )
    refund_no = refund["refundTransactionId"]
    assert refund == {
        "retCode": "SUCCESS",
        "skillId": skill.skill_id,
        "transactionId": transaction_id,
        "tradeNo": trade_no,
        "refundTransactionId": refund_no,
        "refundTradeNo": "R1001",
        "totalAmt": 1000,
        "refundAmt": 300,
    }

    notice = wait_for(lambda: behaviour.refund_notices)[0]
    assert notice == {
        **{k: v for k, v in refund.items() if k != "retCode"},
        "refundStatus": "SUCCESS",
        "refundStatusDesc": "退款成功",
        "nonceStr": notice["nonceStr"],
    }

    for ref in ({"refund_transaction_id": refund_no}, {"refund_trade_no": "R1001"}):
        queried = client.refund_query(**ref)
        assert queried["refundStatus"] == "SUCCESS" and queried["refundAmt"] == 300
        assert queried["refundTransactionId"] == refund_no and queried["totalAmt"] == 1000
    assert client.order_query(transaction_id=transaction_id)["tradeStatusDesc"] == (
        "支付成功，部分退款"
    )
    server.assert_ledger_clean()


def test_screenless_device_confirms_by_voice(skill: Skill) -> None:
    response = skill.place(DETAILS[:1], screen=False)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["screen"] is False
    assert order["confirm_url"].endswith(
        f"/sandbox/v1/skillpay/orders/{order['transactionId']}/confirm"
    )
    confirmed = skill.server.admin("POST", order["confirm_url"].split(skill.server.base_url)[1])
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "SUCCESS"
    shipped = wait_for(lambda: skill.behaviour.shipped)
    assert shipped[0]["transactionId"] == order["transactionId"]
    again = skill.server.admin(
        "POST", f"/sandbox/v1/skillpay/orders/{order['transactionId']}/confirm"
    )
    assert again.status_code == 409  # paid once


def test_same_refund_trade_no_is_idempotent_and_a_changed_one_refused(skill: Skill) -> None:
    order = skill.paid_order(DETAILS)
    lines = [{"itemId": "vipmonth", "quantity": 1, "amount": 400}]
    first = skill.client.refund(
        "R1", total_amt=1000, refund_details=lines, transaction_id=order["transactionId"]
    )
    again = skill.client.refund(
        "R1", total_amt=1000, refund_details=lines, transaction_id=order["transactionId"]
    )
    assert again["refundTransactionId"] == first["refundTransactionId"]
    other = [{"itemId": "songpack", "quantity": 1, "amount": 300}]
    try:
        skill.client.refund(
            "R1", total_amt=1000, refund_details=other, transaction_id=order["transactionId"]
        )
    except Exception as exc:
        assert getattr(exc, "err_code", "") == "REFUND_NO_USED"
    else:
        raise AssertionError("a refundTradeNo reused with another amount was accepted")
    wait_for(lambda: skill.behaviour.refund_notices)
    time.sleep(0.2)
    assert len(skill.behaviour.refund_notices) == 1  # one refund, one notice


def test_held_refund_is_processing_then_fails_and_the_money_returns(skill: Skill) -> None:
    server = skill.server
    order = skill.paid_order(DETAILS)
    held = server.admin("POST", f"/admin/v1/skills/{skill.skill_id}", {"sandbox_refund": "HOLD"})
    assert held.status_code == 200 and held.json()["sandbox_refund"] == "HOLD"
    lines = [
        {"itemId": "songpack", "quantity": 2, "amount": 600},
        {"itemId": "vipmonth", "quantity": 1, "amount": 400},
    ]
    refund = skill.client.refund(
        "RALL", total_amt=1000, refund_details=lines, trade_no=order["tradeNo"]
    )
    queried = skill.client.refund_query(refund_trade_no="RALL")
    assert queried["refundStatus"] == "PROCESSING" and queried["refundStatusDesc"] == "退款中"
    settled = server.admin(
        "POST",
        "/sandbox/v1/skillpay/refunds/settle",
        {
            "skillId": skill.skill_id,
            "refundTransactionId": refund["refundTransactionId"],
            "result": "FAIL",
        },
    )
    assert settled.status_code == 200 and settled.json()["refundStatus"] == "FAIL"
    notice = wait_for(lambda: skill.behaviour.refund_notices)[0]
    assert notice["refundStatus"] == "FAIL" and notice["refundStatusDesc"] == "退款失败"
    assert skill.client.refund_query(refund_trade_no="RALL")["refundStatus"] == "FAIL"
    # the failed refund gave its amount back: the whole order can be refunded again
    again = skill.client.refund(
        "RALL2", total_amt=1000, refund_details=lines, trade_no=order["tradeNo"]
    )
    assert again["refundAmt"] == 1000
    server.admin(
        "POST",
        "/sandbox/v1/skillpay/refunds/settle",
        {
            "skillId": skill.skill_id,
            "refundTransactionId": again["refundTransactionId"],
            "result": "SUCCESS",
        },
    )
    assert skill.client.refund_query(refund_trade_no="RALL2")["refundStatus"] == "SUCCESS"
    assert (
        skill.client.order_query(trade_no=order["tradeNo"])["tradeStatusDesc"]
        == "支付成功，已全额退款"
    )
    server.assert_ledger_clean()


def test_a_refund_left_processing_is_settled_by_the_timed_job(skill: Skill) -> None:
    """A crash between the refund's commit and its settle step, played by HOLD then SUCCESS."""
    server, path = skill.server, f"/admin/v1/skills/{skill.skill_id}"
    order = skill.paid_order(DETAILS)
    assert server.admin("POST", path, {"sandbox_refund": "HOLD"}).status_code == 200
    lines = [{"itemId": "vipmonth", "quantity": 1, "amount": 400}]
    skill.client.refund("RLOST", total_amt=1000, refund_details=lines, trade_no=order["tradeNo"])
    assert server.admin("POST", path, {"sandbox_refund": "SUCCESS"}).status_code == 200
    server.advance_clock(30)  # not old enough to be taken for lost
    assert skill.client.refund_query(refund_trade_no="RLOST")["refundStatus"] == "PROCESSING"
    server.advance_clock(31)
    assert skill.client.refund_query(refund_trade_no="RLOST")["refundStatus"] == "SUCCESS"
    notice = wait_for(lambda: skill.behaviour.refund_notices)[0]
    assert notice["refundTradeNo"] == "RLOST" and notice["refundStatus"] == "SUCCESS"
    server.assert_ledger_clean()
