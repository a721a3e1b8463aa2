"""The device simulator: every way the skill's create-order answer can fail leaves no order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from paymux.dialects.skillpay.client import SkillpayError
from tests.harness import free_port
from tests.skillpay.conftest import Skill, wait_for

ITEMS = [
    {"itemId": "tea", "quantity": 2, "amount": 300},
    {"itemId": "cake", "quantity": 1, "amount": 200},
]


def no_order(skill: Skill, trade_no: str) -> None:
    with pytest.raises(SkillpayError) as info:
        skill.client.order_query(trade_no=trade_no)
    assert info.value.err_code == "ORDER_NOT_EXIST"


def failed(skill: Skill, status: int, code: str, detail: str) -> None:
    response = skill.place(ITEMS)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and detail in error["message"], error


@pytest.mark.parametrize(
    ("reply", "code", "detail"),
    [
        ({"retCode": "FAIL", "retMsg": "sold out"}, "skill_refused", "sold out"),
        ({"retCode": "SUCCESS", "tradeNo": "TX-1"}, "skill_bad_reply", "tradeNo"),
        ({"retCode": "SUCCESS", "tradeNo": "T" * 33}, "skill_bad_reply", "tradeNo"),
        ({"retCode": "SUCCESS"}, "skill_bad_reply", "tradeNo"),
        (
            {"retCode": "SUCCESS", "tradeNo": "TMISMATCH", "totalAmt": 799},
            "skill_bad_reply",
            "totalAmt",
        ),
        ({"retCode": "OK", "tradeNo": "TWEIRD"}, "skill_bad_reply", "retCode"),
    ],
)
def test_a_failed_or_invalid_reply_leaves_no_order(
    shared_skill: Skill, reply: dict[str, Any], code: str, detail: str
) -> None:
    shared_skill.behaviour.create_reply = lambda fields: reply
    failed(shared_skill, 502, code, detail)
    if isinstance(reply.get("tradeNo"), str) and len(reply["tradeNo"]) <= 32:
        no_order(shared_skill, reply["tradeNo"].replace("-", ""))


def test_a_slow_skill_times_out_and_leaves_no_order(skill: Skill) -> None:
    skill.behaviour.create_reply = lambda fields: {"retCode": "SUCCESS", "tradeNo": "TSLOW"}
    skill.behaviour.create_delay_s = 2.5  # the test server's timeout is 1.5 s
    failed(skill, 504, "skill_timeout", "did not answer")
    no_order(skill, "TSLOW")


def test_an_unreachable_skill_is_reported(skill: Skill) -> None:
    dead = f"http://127.0.0.1:{free_port()}/create-order"
    path = f"/admin/v1/skills/{skill.skill_id}"
    assert skill.server.admin("POST", path, {"create_order_url": dead}).status_code == 200
    failed(skill, 502, "skill_unreachable", "create-order URL failed")


def test_details_must_add_up_and_be_well_formed(skill: Skill) -> None:
    def place(**body: Any) -> Any:
        return skill.server.admin(
            "POST",
            "/sandbox/v1/skillpay/orders",
            {"skillId": skill.skill_id, "userToken": "u", **body},
        )

    bad: list[tuple[dict[str, Any], str]] = [
        ({"details": ITEMS, "totalAmt": 499}, "sum of details"),
        ({"details": []}, "details"),
        ({"details": [{"itemId": "tea", "quantity": 1}]}, "amount"),
        ({"details": [{"itemId": "", "quantity": 1, "amount": 1}]}, "itemId"),
        ({"details": [{"itemId": "x" * 33, "quantity": 1, "amount": 1}]}, "itemId"),
        ({"details": [{"itemId": "tea", "quantity": 1.5, "amount": 1}]}, "quantity"),
        ({"details": [{"itemId": "tea", "quantity": 1, "amount": -1}]}, "amount"),
        ({"details": [ITEMS[0], ITEMS[0]]}, "twice"),
        ({"details": [{"itemId": "tea", "quantity": 1, "amount": 0}]}, "totalAmt"),
        ({"details": ITEMS, "screen": "yes"}, "screen"),
    ]
    for body, detail in bad:
        response = place(**body)
        assert response.status_code == 400, (body, response.text)
        assert detail in response.json()["error"]["message"], (body, response.text)
    assert skill.behaviour.created == []  # the skill was never called
    assert place(details=ITEMS, totalAmt=500).status_code == 201


def test_a_reused_trade_no_is_refused_and_the_same_request_is_the_same_order(skill: Skill) -> None:
    skill.behaviour.create_reply = lambda fields: {"retCode": "SUCCESS", "tradeNo": "TSAME"}
    first = skill.place(ITEMS).json()
    again = skill.place(ITEMS).json()
    assert again["transactionId"] == first["transactionId"]  # an identical retry
    other = skill.place(ITEMS[:1])
    assert other.status_code == 400 and "TSAME" in other.json()["error"]["message"]


def test_device_api_requires_the_admin_token_and_a_known_skill(shared_skill: Skill) -> None:
    response = httpx.post(
        shared_skill.server.base_url + "/sandbox/v1/skillpay/orders",
        json={"skillId": shared_skill.skill_id, "userToken": "u", "details": ITEMS},
    )
    assert response.status_code == 401
    unknown = shared_skill.server.admin(
        "POST",
        "/sandbox/v1/skillpay/orders",
        {"skillId": "sknobody", "userToken": "u", "details": ITEMS},
    )
    assert unknown.status_code == 404
    missing = shared_skill.server.admin("POST", "/sandbox/v1/skillpay/orders/123/confirm")
    assert missing.status_code == 404


def test_the_skill_sees_exactly_what_the_spec_defines(skill: Skill) -> None:
    seen: list[dict[str, Any]] = []
    record: Callable[[dict[str, Any]], dict[str, Any]] = lambda fields: (  # noqa: E731
        seen.append(fields) or {"retCode": "SUCCESS", "tradeNo": "TSPEC1"}
    )
    skill.behaviour.create_reply = record
    assert skill.place(ITEMS).status_code == 201
    assert sorted(seen[0]) == ["details", "nonceStr", "skillId", "totalAmt", "userToken"]
    assert seen[0]["totalAmt"] == 500


def test_the_simulator_page(skill: Skill) -> None:
    """The same flow for a person: form → voice confirm (screenless) or QR (screen), and errors."""
    base = skill.server.base_url + "/sandbox/skillpay"
    page = httpx.get(base)
    assert page.status_code == 200 and skill.skill_id in page.text
    form = {"skillId": skill.skill_id, "userToken": "alice", "details": "tea,2,300\ncake,1,200"}
    placed = httpx.post(base, data={**form, "screen": "0"})
    assert placed.status_code == 303, placed.text
    result = httpx.get(skill.server.base_url + placed.headers["location"])
    assert "Confirm by voice" in result.text and "NOTPAY" in result.text
    transaction_id = placed.headers["location"].rsplit("/", 1)[1]
    confirmed = httpx.post(f"{base}/{transaction_id}/confirm")
    assert confirmed.status_code == 303
    assert "SUCCESS" in httpx.get(f"{base}/{transaction_id}").text
    assert wait_for(lambda: skill.behaviour.shipped)[0]["userToken"] == "alice"
    again = httpx.post(f"{base}/{transaction_id}/confirm")
    assert again.status_code == 409
    with_screen = httpx.post(base, data={**form, "screen": "1"}, follow_redirects=True)
    assert 'id="qr"' in with_screen.text and "/cashier/" in with_screen.text
    bad = httpx.post(base, data={**form, "details": "tea;2;300"})
    assert bad.status_code == 400 and "itemId,quantity,amount" in bad.text
    skill.behaviour.create_reply = lambda fields: {"retCode": "FAIL", "retMsg": "closed today"}
    refused = httpx.post(base, data=form)
    assert refused.status_code == 502 and "closed today" in refused.text
    assert httpx.get(f"{base}/999").status_code == 404
