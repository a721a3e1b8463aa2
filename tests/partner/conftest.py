"""partner fixtures: the partner's SDK client, a wallet user's browser (httpx with cookies,
forms and CSRF tokens, no redirects followed), and the partner's notify endpoint."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from paymux.dialects.partner.client import PartnerClient, wallet_url
from tests.harness import BACKENDS, Server, run_server
from tests.notify.receiver import Receiver

H5 = "https://h5.partner.example/back"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass
class Browser:
    """The wallet app user's browser: keeps the session cookie, submits the pages' forms."""

    server: Server
    http: httpx.Client

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def sign_in(self, wallet_token: str, next_url: str = "/wallet") -> httpx.Response:
        page = self.get("/wallet/login?next=" + next_url)
        form = hidden_fields(page.text)
        return self.http.post("/wallet/login", data={**form, "wallet_token": wallet_token})

    def submit(
        self, page: httpx.Response, action: str, *, marker: str = "", **extra: str
    ) -> httpx.Response:
        """Post the form of `page` with this action (and containing `marker`), hidden fields too."""
        text = page.text
        at = text.index(marker or f'action="{action}"')
        start, end = text.rindex("<form", 0, at), text.index("</form>", at)
        return self.http.post(action, data={**hidden_fields(text[start:end]), **extra})

    def authorize(self, partner: PartnerClient, redirect_uri: str = H5) -> str:
        """Follow the partner's nexaauth:// authorize link, allow, and return the code."""
        page = self.get(wallet_url(partner.authorize_link(redirect_uri), self.server.base_url))
        assert page.status_code == 200, page.text
        answer = self.submit(page, "/wallet/oauth/authorize", decision="allow")
        assert answer.status_code == 303, answer.text
        return query_of(answer.headers["location"])["code"]


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def csrf_of(page: httpx.Response) -> str:
    return hidden_fields(page.text)["csrf"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class User:
    """A sandbox user who signed in to the wallet and authorized the partner."""

    user_id: str
    wallet_token: str
    browser: Browser
    openid: str = ""
    session_key: str = ""


def new_user(server: Server, name: str = "alice", balance: int = 100_00) -> User:
    created = server.create_user(name, balance, "USDT")
    browser = Browser(server, httpx.Client(base_url=server.base_url, timeout=30))
    assert browser.sign_in(created["wallet_token"]).status_code == 303
    return User(created["user_id"], created["wallet_token"], browser)


def onboard(
    server: Server, partner: PartnerClient, name: str = "alice", balance: int = 100_00
) -> User:
    """A user who went through the whole OAuth flow: the partner holds a session_key."""
    user = new_user(server, name, balance)
    user.session_key = partner.access_token(user.browser.authorize(partner))["session_key"]
    user.openid = partner.user_info(user.session_key)["openid"]
    return user


def other_partner(server: Server, name: str) -> PartnerClient:
    creds = server.create_merchant(name)["partner"]
    return PartnerClient(server.base_url, creds["apiKey"], creds["appSecret"])


def clock_tolerant_partner(server: Server) -> PartnerClient:
    """A partner whose timestamp window (a day) lets its real-time clock sign while the
    sandbox clock runs ahead."""
    merchant = server.create_merchant()
    server.update_merchant(merchant["merchant_id"], timestamp_window_s=86_400)
    creds = merchant["partner"]
    return PartnerClient(server.base_url, creds["apiKey"], creds["appSecret"])


@pytest.fixture(params=BACKENDS)
def short_expiry_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server of its own whose partner orders expire after a minute (the setting is per
    deployment; the default is 24 h)."""
    with run_server(
        tmp_path_factory.mktemp("expiry"), request.param, order_expiry_s={"partner": 60}
    ) as srv:
        yield srv


@pytest.fixture
def partner(server: Server, merchant: dict[str, Any]) -> PartnerClient:
    return PartnerClient(
        server.base_url, merchant["partner"]["apiKey"], merchant["partner"]["appSecret"]
    )


@pytest.fixture
def notify_endpoint() -> Iterator[Receiver]:
    """The partner's notifyUrl: records every request and answers `success`."""
    with Receiver(ack=b"success") as receiver:
        yield receiver
