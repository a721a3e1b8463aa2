"""Secret rotation through the admin API, and code 10000003 (合作伙伴配置已过期): a partner
still signing with an appSecret whose grace period has ended is told to update its
configuration, not that its signature is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from paymux.dialects.partner.client import PartnerClient, PartnerError
from paymux.services import audit
from tests.harness import BACKENDS, Server, run_server
from tests.partner.conftest import new_user

GRACE_S = 600


@pytest.fixture(params=BACKENDS)
def rotating_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server of its own: the tests move its sandbox clock past the grace period."""
    with run_server(
        tmp_path_factory.mktemp("rotation"), request.param, secret_grace_period_s=GRACE_S
    ) as srv:
        yield srv


def _rotate(server: Server, merchant_id: str, body: Any) -> Any:
    return server.admin("POST", f"/admin/v1/merchants/{merchant_id}/rotate", body)


def _code(call: Any, *args: Any) -> str:
    try:
        call(*args)
    except PartnerError as exc:
        return exc.code
    return "0"


def test_old_secret_works_in_its_grace_then_gets_10000003(rotating_server: Server) -> None:
    server = rotating_server
    merchant = server.create_merchant("rotating partner")
    # a day-wide timestamp window: the partner signs with real time while the clock jumps
    server.update_merchant(merchant["merchant_id"], timestamp_window_s=86_400)
    creds = merchant["partner"]
    old = PartnerClient(server.base_url, creds["apiKey"], creds["appSecret"])
    old.create_payment("P-ROT-1", "1.00")

    rotated = _rotate(server, merchant["merchant_id"], {"dialect": "partner"})
    assert rotated.status_code == 200, rotated.text
    answer = rotated.json()
    assert answer["old_secret_valid_s"] == GRACE_S
    assert answer["partner"]["apiKey"] == creds["apiKey"]
    new_secret = answer["partner"]["appSecret"]
    assert new_secret != creds["appSecret"]
    new = PartnerClient(server.base_url, creds["apiKey"], new_secret)

    # both secrets sign during the grace period
    assert _code(old.create_payment, "P-ROT-2", "1.00") == "0"
    assert _code(new.create_payment, "P-ROT-3", "1.00") == "0"

    server.advance_clock(GRACE_S + 1)
    assert _code(old.create_payment, "P-ROT-4", "1.00") == "10000003"
    with pytest.raises(PartnerError) as expired:
        old.query_payment("P-ROT-1")
    assert "appSecret" in expired.value.message
    # the user-side endpoint answers the same code
    user = new_user(server)
    assert _code(old.auth_code, user.wallet_token) == "10000003"
    # the current secret works; a secret that was never the partner's is a bad signature
    assert _code(new.create_payment, "P-ROT-4", "1.00") == "0"
    stranger = PartnerClient(server.base_url, creds["apiKey"], "f" * 32)
    assert _code(stranger.create_payment, "P-ROT-5", "1.00") == "1002"
    # refused requests changed nothing
    assert _code(new.query_payment, "P-ROT-5") == "5002"


def test_rotation_is_audited_and_bad_requests_change_nothing(rotating_server: Server) -> None:
    server = rotating_server
    merchant = server.create_merchant("audited partner")
    merchant_id = merchant["merchant_id"]
    creds = merchant["partner"]
    partner = PartnerClient(server.base_url, creds["apiKey"], creds["appSecret"])

    for body, status, field in (
        ({"dialect": "skillpay"}, 400, "dialect"),
        ({}, 400, "dialect"),
        ({"dialect": "partner", "extra": 1}, 400, "extra"),
    ):
        refused = _rotate(server, merchant_id, body)
        assert refused.status_code == status, refused.text
        assert field in refused.text
    unknown = _rotate(server, "M" + "0" * 18, {"dialect": "partner"})
    assert unknown.status_code == 404, unknown.text
    no_token = httpx.post(
        f"{server.base_url}/admin/v1/merchants/{merchant_id}/rotate", json={"dialect": "partner"}
    )
    assert no_token.status_code == 401
    assert _code(partner.query_payment, "P-NONE") == "5002"  # the secret still works

    assert _rotate(server, merchant_id, {"dialect": "vpay"}).status_code == 200
    entries = server.ctx.store.read_sync(
        audit.list_entries, audit.AuditFilter(action="merchant.rotate_secret")
    )
    assert [(e.target_id, e.detail) for e in entries] == [(merchant_id, "dialect=vpay")]
