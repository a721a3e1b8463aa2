"""schemathesis hooks: sign every generated request the way the dialect's merchant SDK signs.

The schemathesis CLI imports this module (`SCHEMATHESIS_HOOKS=tests.fuzz.hooks`)
in its own process; the test passes the merchant's credentials in the
environment variable `PAYMUX_FUZZ` (JSON: dialect, base URL, credentials,
the platform clock offset, and seed values). Signing happens just before
each call, after stateful links have filled in their values, so generated
requests get past authentication and reach validation and business logic
instead of dying at the signature check.

A signature is computed over whatever was generated, valid or not: a
negative case (a wrong type, a missing field) is still signed, so it is the
field check that must refuse it. Bodies that cannot be signed at all (not an
object, nested values) are sent unsigned and must be refused anyway.

Seed values (an openid of this merchant, a paid order, a funded account)
are mixed into the generated bodies by the `flatmap_*` hooks, so refunds, payouts
and transfers sometimes succeed instead of always naming nothing.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import requests
import schemathesis
from hypothesis import strategies as st

from paymux.dialects.gateway.client import GatewayClient
from paymux.dialects.partner.client import PartnerClient
from paymux.dialects.skillpay.client import SkillpayClient
from paymux.dialects.vpay.client import VpayClient

CONFIG: dict[str, Any] = json.loads(os.environ.get("PAYMUX_FUZZ", "{}"))
DIALECT: str = CONFIG.get("dialect", "")
CREDENTIALS: dict[str, Any] = CONFIG.get("credentials", {})
SEEDS: dict[str, list[Any]] = CONFIG.get("seeds", {})
BASE_URL: str = CONFIG.get("base_url", "")


def platform_time() -> float:
    """The platform's clock: the sandbox offset is fixed for the run and passed in."""
    return time.time() + float(CONFIG.get("clock_offset", 0.0))


def signable(params: Any) -> bool:
    """Whether a merchant could have signed these values as `k=v` at all."""
    return isinstance(params, dict) and all(
        isinstance(v, str | int | float | bool) or v is None for v in params.values()
    )


def replace_common(params: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The generated params without the common ones, which the SDK then fills in afresh."""
    return {k: v for k, v in params.items() if k not in names}


class VpaySigner:
    """vpay: common parameters + HMAC-SHA256 over the JSON body or the query string."""

    COMMON = ("app_id", "timestamp", "nonce_str", "sign", "sign_type")

    def __init__(self) -> None:
        self.client = VpayClient(
            BASE_URL, CREDENTIALS["app_id"], CREDENTIALS["secret_key"], clock=platform_time
        )

    def sign(self, case: schemathesis.Case) -> None:
        path = case.operation.path
        if path == "/merchants/search":
            token = CONFIG.get("admin_token", "")
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            return
        if path in ("/merchants", "/orders/pay"):
            return  # unsigned by the spec (sandbox only)
        if case.method.upper() == "GET":
            query = dict(case.query or {})
            if signable(query):
                case.query = self.client.sign_params(replace_common(query, self.COMMON))
        elif signable(case.body):
            case.body = self.client.sign_params(replace_common(case.body, self.COMMON))


class PartnerSigner:
    """partner: apiKey, nonce, millisecond timestamp and the SHA-256 `signature` (or `sign`)."""

    COMMON = ("apiKey", "nonce", "timestamp", "signature", "sign")

    def __init__(self) -> None:
        self.client = PartnerClient(BASE_URL, CREDENTIALS["apiKey"], CREDENTIALS["appSecret"])

    def sign(self, case: schemathesis.Case) -> None:
        field = "signature"
        if case.operation.path == "/partner/user/auth/code":
            token = CONFIG.get("wallet_token", "")
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            field = "sign"
        if signable(case.body):
            params = replace_common(case.body, self.COMMON)
            params["timestamp"] = str(int(platform_time() * 1000))
            case.body = self.client.sign_params(params, signature_field=field)


class GatewaySigner:
    """gateway: appid + the MD5 request-rule `sign`, over a form/JSON/multipart body or query."""

    def __init__(self) -> None:
        self.client = GatewayClient(BASE_URL, CREDENTIALS["appid"], CREDENTIALS["secret"])

    def signed(self, params: dict[str, Any]) -> dict[str, Any]:
        """Keep the generated values (and types); add appid and the sign over their text."""
        params = {k: v for k, v in params.items() if k != "sign"}
        params["appid"] = self.client.appid
        texts = {k: ("" if v is None else str(v)) for k, v in params.items()}
        return {**params, "sign": self.client.sign_params(texts)["sign"]}

    def sign(self, case: schemathesis.Case) -> None:
        if case.method.upper() == "GET":
            query = dict(case.query or {})
            if signable(query):
                case.query = self.signed(query)
        elif signable(case.body):
            case.body = self.signed(case.body)


class PaymoduleKey:
    """paymodule: the merchant's apiKey in `X-Api-Key` (the spec has no signature)."""

    def sign(self, case: schemathesis.Case) -> None:
        case.headers = {**(case.headers or {}), "X-Api-Key": CREDENTIALS["apiKey"]}


class TskRsa2(requests.auth.AuthBase):
    """skillpay: TSK-RSA2 over the exact body bytes, so it signs the prepared request.

    `skillId` and a fresh `nonceStr` are set first (in the JSON text, when the
    body is a JSON object) so the nonce check passes and the skill is known.
    """

    def __init__(self) -> None:
        self.client = SkillpayClient(
            BASE_URL,
            CREDENTIALS["skillId"],
            CREDENTIALS["private_key"],
            CREDENTIALS["platform_key"],
        )

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.method == "GET":
            return request
        raw = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        try:
            fields = json.loads(raw)
        except ValueError:
            fields = None
        if isinstance(fields, dict):
            fields["skillId"] = self.client.skill_id
            fields["nonceStr"] = os.urandom(16).hex()
            raw = json.dumps(fields, ensure_ascii=False).encode()
            request.prepare_body(data=raw, files=None)
        request.headers["Authorization"] = self.client.authorization(raw)
        return request


SIGNERS: dict[str, type] = {
    "vpay": VpaySigner,
    "partner": PartnerSigner,
    "gateway": GatewaySigner,
    "paymodule": PaymoduleKey,
}
SIGNER = SIGNERS[DIALECT]() if DIALECT in SIGNERS else None
if DIALECT == "skillpay":
    schemathesis.auth.set_from_requests(TskRsa2())


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: Any) -> None:
    """Sign last, after stateful links have merged their values into the request."""
    if SIGNER is not None:
        SIGNER.sign(case)


def seeded(values: Any) -> st.SearchStrategy[Any]:
    """The generated values, or the same with some fields swapped for real ones (seeds)."""
    if not isinstance(values, dict):
        return st.just(values)
    names = [name for name in values if SEEDS.get(name)]
    if not names:
        return st.just(values)
    real = st.fixed_dictionaries({name: st.sampled_from(SEEDS[name]) for name in names})
    return st.one_of(st.just(values), real.map(lambda chosen: {**values, **chosen}))


@schemathesis.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    return seeded(body)


@schemathesis.hook
def flatmap_query(context: schemathesis.HookContext, query: Any) -> st.SearchStrategy[Any]:
    return seeded(query)


@schemathesis.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: Any
) -> st.SearchStrategy[Any]:
    return seeded(path_parameters)
