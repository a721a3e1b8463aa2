"""TSK-RSA2 both ways: what paymux refuses, what the SDK refuses, and that refusals are signed."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from paymux.dialects.skillpay.client import SkillpayClient, SkillpayError, encode
from paymux.signing import tsk_rsa2
from tests.skillpay.conftest import GRACE_S, Skill, wait_for

ITEMS = [{"itemId": "cup", "quantity": 1, "amount": 500}]


def query_body(skill: Skill, nonce: str = "", **fields: Any) -> bytes:
    """An order query for a missing order, with a fresh nonceStr unless one is given."""
    nonce = nonce or secrets.token_hex(8)
    return encode({"skillId": skill.skill_id, "tradeNo": "T404", "nonceStr": nonce, **fields})


def refused(skill: Skill, response: httpx.Response, status: int, err_code: str) -> dict[str, Any]:
    """A FAIL reply with this status and errCode, signed by the platform like every reply."""
    assert response.status_code == status, response.text
    skill.client.signer.verify(response.headers.get("authorization"), response.content)
    reply = response.json()
    assert reply["retCode"] == "FAIL" and reply["errCode"] == err_code, reply
    assert len(reply["retMsg"]) <= 32
    return reply


def send(skill: Skill, body: bytes, authorization: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return skill.client.send("/orderquery", body, headers)


def test_a_signed_request_reaches_the_endpoint(shared_skill: Skill) -> None:
    body = query_body(shared_skill)
    refused(
        shared_skill,
        send(shared_skill, body, shared_skill.client.authorization(body)),
        404,
        "ORDER_NOT_EXIST",
    )


def test_tampered_body_is_refused(shared_skill: Skill) -> None:
    body = query_body(shared_skill)
    tampered = body.replace(b"T404", b"T405")
    reply = refused(
        shared_skill,
        send(shared_skill, tampered, shared_skill.client.authorization(body)),
        401,
        "SIGN_ERROR",
    )
    assert "signature" in reply["errDetail"]


def test_wrong_key_is_refused(
    shared_skill: Skill, other_keys: tuple[str, str], platform_key: str
) -> None:
    stranger = SkillpayClient(
        shared_skill.server.base_url,
        shared_skill.skill_id,
        other_keys[0],
        platform_key,
        clock=shared_skill.server.ctx.env.clock.now,
    )
    with pytest.raises(SkillpayError) as info:
        stranger.order_query(trade_no="T404")
    assert info.value.err_code == "SIGN_ERROR" and info.value.status == 401


@pytest.mark.parametrize("skew_s", [-240, 240])
def test_stale_or_future_datetime_is_refused(shared_skill: Skill, skew_s: int) -> None:
    body = query_body(shared_skill)
    moment = shared_skill.server.ctx.env.clock.now() + timedelta(seconds=skew_s)
    reply = refused(
        shared_skill,
        send(shared_skill, body, shared_skill.client.authorization(body, moment)),
        401,
        "REQUEST_EXPIRED",
    )
    assert "window" in reply["errDetail"]


@pytest.mark.parametrize(
    ("make_header", "detail"),
    [
        (lambda sig: None, "missing"),
        (lambda sig: "", "missing"),
        (lambda sig: sig.replace("TSK-RSA2", "TSK-RSA1"), "not a valid"),
        (lambda sig: sig.split(", ")[0], "not a valid"),
        (lambda sig: sig.replace("Datetime=", "Datetime=x"), "not a valid"),
    ],
)
def test_missing_or_malformed_header_is_refused(
    shared_skill: Skill, make_header: Callable[[str], str | None], detail: str
) -> None:
    body = query_body(shared_skill)
    header = make_header(shared_skill.client.authorization(body))
    reply = refused(shared_skill, send(shared_skill, body, header), 401, "SIGN_ERROR")
    assert detail in reply["errDetail"]


def test_a_replayed_nonce_is_refused(shared_skill: Skill) -> None:
    body = query_body(shared_skill, nonce="once-only")
    refused(
        shared_skill,
        send(shared_skill, body, shared_skill.client.authorization(body)),
        404,
        "ORDER_NOT_EXIST",
    )
    later = shared_skill.server.ctx.env.clock.now() + timedelta(seconds=2)
    again = send(shared_skill, body, shared_skill.client.authorization(body, later))
    refused(shared_skill, again, 409, "REPEATED_REQUEST")


def test_unknown_skill_wrong_media_type_and_bad_json(shared_skill: Skill) -> None:
    body = encode({"skillId": "sk-nobody", "tradeNo": "T1", "nonceStr": "x"})
    refused(
        shared_skill,
        send(shared_skill, body, shared_skill.client.authorization(body)),
        404,
        "SKILL_NOT_EXIST",
    )
    body = query_body(shared_skill)
    form = shared_skill.client.http.post(
        shared_skill.client.base + "/orderquery",
        content=body,
        headers={
            "Content-Type": "text/plain",
            "Authorization": shared_skill.client.authorization(body),
        },
    )
    refused(shared_skill, form, 400, "PARAM_ERROR")
    refused(
        shared_skill,
        send(shared_skill, b"{not json", shared_skill.client.authorization(b"{not json")),
        400,
        "PARAM_ERROR",
    )


def test_a_disabled_skill_is_refused(skill: Skill) -> None:
    server = skill.server
    disabled = server.admin("POST", f"/admin/v1/skills/{skill.skill_id}", {"status": "disabled"})
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    with pytest.raises(SkillpayError) as info:
        skill.client.order_query(trade_no="T1")
    assert info.value.err_code == "SKILL_DISABLED"
    assert skill.place(ITEMS).status_code == 400  # the device cannot order through it either


def test_the_sdk_refuses_a_reply_not_signed_by_the_platform(
    shared_skill: Skill, skill_keys: tuple[str, str], other_keys: tuple[str, str]
) -> None:
    fooled = SkillpayClient(
        shared_skill.server.base_url,
        shared_skill.skill_id,
        skill_keys[0],
        other_keys[1],  # not the platform's key
        clock=shared_skill.server.ctx.env.clock.now,
    )
    with pytest.raises(SkillpayError) as info:
        fooled.order_query(trade_no="T1")
    assert info.value.err_code == "BAD_REPLY_SIGNATURE"


def test_the_skill_app_refuses_calls_not_signed_by_the_platform(
    skill: Skill, skill_host: Any, other_keys: tuple[str, str]
) -> None:
    url = f"{skill_host.base_url}/{skill.mount}/create-order"
    fields = {"skillId": skill.skill_id, "userToken": "u", "details": ITEMS, "totalAmt": 500}
    body = encode({**fields, "nonceStr": "n"})
    now = tsk_rsa2.format_datetime(skill.server.ctx.env.clock.now())
    forged = tsk_rsa2.authorization_header(body, now, tsk_rsa2.load_private_key(other_keys[0]))
    for headers in ({}, {"Authorization": forged}):
        response = httpx.post(url, content=body, headers=headers)
        assert response.status_code == 401 and response.json()["retCode"] == "FAIL"
    platform = tsk_rsa2.load_private_key(skill.server.ctx.platform_private_pem)
    wrong_total = encode({**fields, "totalAmt": 499, "nonceStr": "n"})
    signed = tsk_rsa2.authorization_header(wrong_total, now, platform)
    response = httpx.post(url, content=wrong_total, headers={"Authorization": signed})
    assert response.status_code == 400 and "totalAmt" in response.json()["retMsg"]
    assert skill.behaviour.created == []  # no handler ever ran


def test_a_reply_signed_with_the_wrong_key_is_refused_and_no_acknowledgement(
    make_skill: Callable[..., Skill], skill_keys: tuple[str, str], other_keys: tuple[str, str]
) -> None:
    skill = make_skill(app_key=other_keys[0])  # the skill app signs with a key paymux doesn't know
    server, path = skill.server, f"/admin/v1/skills/{skill.skill_id}"
    response = skill.place(ITEMS)
    assert response.status_code == 502, response.text  # its create-order reply is refused ...
    assert response.json()["error"]["code"] == "skill_bad_signature"
    assert server.admin("POST", path, {"public_key": other_keys[1]}).status_code == 200
    order = skill.place(ITEMS).json()  # ... and accepted once the registry has its key
    bare = "".join(skill_keys[1].strip().splitlines()[1:-1])  # the original key, bare base64
    assert server.admin("POST", path, {"public_key": bare}).status_code == 200
    server.advance_clock(GRACE_S + 1)  # the app's key is no longer valid at all
    assert server.sandbox_pay(order["transactionId"]).status_code == 200
    wait_for(lambda: len(skill.behaviour.shipped) == 1)
    server.advance_clock(15)  # SUCCESS signed with a key that is not registered: retried
    wait_for(lambda: len(skill.behaviour.shipped) == 2)
    assert server.admin("POST", path, {"public_key": other_keys[1]}).status_code == 200
    server.advance_clock(15)
    wait_for(lambda: len(skill.behaviour.shipped) == 3)
    server.advance_clock(30)  # acknowledged now: nothing more
    assert len(skill.behaviour.shipped) == 3


def test_a_rotated_key_stays_valid_for_the_grace_period(
    skill: Skill, other_keys: tuple[str, str]
) -> None:
    """The skill registers its new key first and switches to it within the grace period."""
    server, path = skill.server, f"/admin/v1/skills/{skill.skill_id}"
    assert server.admin("POST", path, {"public_key": other_keys[1]}).status_code == 200
    with pytest.raises(SkillpayError) as info:
        skill.client.order_query(trade_no="T404")  # signed with the replaced key: still valid
    assert info.value.err_code == "ORDER_NOT_EXIST"
    server.advance_clock(GRACE_S + 1)
    with pytest.raises(SkillpayError) as info:
        skill.client.order_query(trade_no="T404")
    assert info.value.err_code == "SIGN_ERROR"
