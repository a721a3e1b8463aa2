"""User authorization end to end: the wallet's consent page, auth codes, session keys,
openids, refresh, revocation and sign-out, all over real HTTP with the partner SDK."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from paymux.dialects.partner.client import PartnerClient, PartnerError, wallet_url
from tests.partner.conftest import (
    H5,
    Browser,
    clock_tolerant_partner,
    new_user,
    onboard,
    query_of,
)


def test_full_flow_through_the_wallet_pages(server, partner):
    user = new_user(server)
    code = user.browser.authorize(partner, H5 + "?from=h5")
    session = partner.access_token(code)
    assert session["expires_in"] == 7200 and session["session_key"].startswith("sk_")
    info = partner.user_info(session["session_key"])
    assert info["nickname"] == "alice" and info["openid"].startswith("oid_")
    assert info["avatar"] == "" and len(info["binding_time"]) == 19
    # the code is single use
    with pytest.raises(PartnerError) as used:
        partner.access_token(code)
    assert used.value.code == "4001" and "already used" in used.value.message


def test_consent_redirect_keeps_the_partner_query_and_state(server, partner):
    user = new_user(server)
    link = partner.authorize_link(H5 + "?from=h5") + "&state=xyz"
    page = user.browser.get(wallet_url(link, server.base_url))
    assert "h5.partner.example" in page.text
    answer = user.browser.submit(page, "/wallet/oauth/authorize", decision="allow")
    target = query_of(answer.headers["location"])
    assert answer.headers["location"].startswith(H5 + "?from=h5&code=")
    assert target["state"] == "xyz" and target["code"]


def test_denied_consent_redirects_with_an_error_and_no_code(server, partner):
    user = new_user(server)
    page = user.browser.get(wallet_url(partner.authorize_link(H5), server.base_url))
    answer = user.browser.submit(page, "/wallet/oauth/authorize", decision="deny")
    assert answer.status_code == 303
    assert query_of(answer.headers["location"]) == {"error": "access_denied"}


def test_signed_out_user_signs_in_and_comes_back_to_the_consent_page(server, partner):
    created = server.create_user("bob", 0, "USDT")
    browser = Browser(server, httpx.Client(base_url=server.base_url))
    link = wallet_url(partner.authorize_link(H5), server.base_url)
    first = browser.get(link)
    assert first.status_code == 303 and first.headers["location"].startswith("/wallet/login?next=")
    login_page = browser.get(first.headers["location"])
    back = browser.submit(login_page, "/wallet/login", wallet_token=created["wallet_token"])
    assert back.status_code == 303
    assert back.headers["location"].startswith("/wallet/oauth/authorize?apikey=")
    cookie = back.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert browser.get(back.headers["location"]).status_code == 200


def test_forms_without_the_csrf_token_are_refused(server, partner):
    user = new_user(server)
    page = user.browser.get(wallet_url(partner.authorize_link(H5), server.base_url))
    forged = user.browser.submit(page, "/wallet/oauth/authorize", decision="allow", csrf="forged")
    assert forged.status_code == 403 and "3001" in forged.text
    assert "location" not in forged.headers


def test_api_3_1_with_the_wallet_token_or_the_session_cookie(server, partner):
    user = new_user(server)
    by_token = partner.auth_code(user.wallet_token)
    by_cookie = partner.post(
        "/partner/user/auth/code",
        {},
        signature_field="sign",
        headers={"Cookie": f"paymux_wallet={user.browser.http.cookies['paymux_wallet']}"},
    )
    keys = {partner.access_token(c)["session_key"] for c in (by_token, by_cookie)}
    assert len(keys) == 2
    openids = {partner.user_info(k)["openid"] for k in keys}
    assert len(openids) == 1


def test_api_3_1_needs_a_signed_in_user(server, partner):
    with pytest.raises(PartnerError) as nobody:
        partner.post("/partner/user/auth/code", {}, signature_field="sign")
    assert nobody.value.code == "4001"
    with pytest.raises(PartnerError) as bad:
        partner.auth_code("wt_not-a-token")
    assert bad.value.code == "4001"


def test_openid_is_stable_per_partner_and_differs_across_partners(server, partner):
    other_merchant = server.create_merchant("another partner")["partner"]
    other = PartnerClient(server.base_url, other_merchant["apiKey"], other_merchant["appSecret"])
    user = onboard(server, partner)
    again = partner.user_info(
        partner.access_token(partner.auth_code(user.wallet_token))["session_key"]
    )
    assert again["openid"] == user.openid
    elsewhere = other.user_info(other.access_token(user.browser.authorize(other))["session_key"])
    assert elsewhere["openid"] != user.openid
    # a code is only good for the partner it was issued to
    with pytest.raises(PartnerError) as foreign:
        other.access_token(partner.auth_code(user.wallet_token))
    assert foreign.value.code == "4001"
    # and a session key only for its partner
    with pytest.raises(PartnerError) as foreign_key:
        other.user_info(user.session_key)
    assert foreign_key.value.code == "4001"


def test_refresh_replaces_the_key_at_once(server, partner):
    user = onboard(server, partner)
    fresh = partner.refresh(user.session_key)
    assert fresh["session_key"] != user.session_key and fresh["expires_in"] == 7200
    for call in (partner.user_info, partner.refresh):
        with pytest.raises(PartnerError) as old:
            call(user.session_key)
        assert old.value.code == "4001"
    assert partner.user_info(fresh["session_key"])["openid"] == user.openid


def test_revoking_in_the_wallet_ends_the_partners_session_keys(server, partner):
    user = onboard(server, partner)
    second = partner.refresh(user.session_key)["session_key"]
    page = user.browser.get("/wallet/authorizations")
    assert "test merchant" in page.text
    done = user.browser.submit(page, "/wallet/authorizations/revoke")
    assert done.status_code == 303
    with pytest.raises(PartnerError) as revoked:
        partner.user_info(second)
    assert revoked.value.code == "4001" and "revoked" in revoked.value.message
    assert "test merchant" not in user.browser.get("/wallet/authorizations").text
    # authorizing again gives the same openid back
    renewed = partner.access_token(user.browser.authorize(partner))["session_key"]
    assert partner.user_info(renewed)["openid"] == user.openid


def test_sign_out_everywhere_ends_wallet_and_partner_sessions(server, partner):
    user = onboard(server, partner)
    home = user.browser.get("/wallet")
    out = user.browser.submit(home, "/wallet/logout", marker='id="logout-everywhere"')
    assert out.status_code == 303
    with pytest.raises(PartnerError) as ended:
        partner.user_info(user.session_key)
    assert ended.value.code == "4001"
    assert user.browser.get("/wallet").status_code == 303  # back to the sign-in page


def test_code_expires_after_five_minutes(fresh_server):
    partner = clock_tolerant_partner(fresh_server)
    user = new_user(fresh_server)
    fine = user.browser.authorize(partner)
    late = user.browser.authorize(partner)
    fresh_server.advance_clock(290)
    partner.access_token(fine)
    fresh_server.advance_clock(15)
    with pytest.raises(PartnerError) as expired:
        partner.access_token(late)
    assert expired.value.code == "4001" and "expired" in expired.value.message


def test_session_key_expires_after_two_hours(fresh_server):
    partner = clock_tolerant_partner(fresh_server)
    user = onboard(fresh_server, partner)
    fresh_server.advance_clock(7190)
    partner.user_info(user.session_key)
    fresh_server.advance_clock(15)
    with pytest.raises(PartnerError) as expired:
        partner.user_info(user.session_key)
    assert expired.value.code == "4001" and "expired" in expired.value.message
    with pytest.raises(PartnerError):
        partner.refresh(user.session_key)


def test_one_code_exchanged_concurrently_yields_one_session(server, partner):
    code = new_user(server).browser.authorize(partner)

    def exchange(_: int) -> str:
        try:
            return partner.access_token(code)["session_key"]
        except PartnerError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(exchange, range(6)))
    assert len([o for o in outcomes if o.startswith("sk_")]) == 1
    assert outcomes.count("4001") == 5
