"""Signed vpay endpoints are served in front of Litestar's router (paymux/dialects/direct.py).

The same handler answers a path the direct table holds and the spellings of it
that go on to Litestar (a trailing slash), so both must give the same answer;
what the table leaves out (other methods) must still be refused in vpay's shape.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.testing import TestClient
from litestar.types import ASGIApp

from paymux.app import create_app
from paymux.core.errors import PaymuxError
from paymux.dialects.direct import DirectRoutes, direct_routes
from paymux.dialects.requests import JsonReply
from tests.vpay.conftest import expect, send, unchanged


def test_the_direct_path_and_litestars_give_the_same_answer(server, vpay):
    """`/orders/create/` goes through Litestar's router to the same handler."""
    direct = send(
        vpay,
        "/orders/create",
        vpay.sign_params({"merchant_order_id": "D-1", "amount": 5, "channel": "QR_CODE"}),
    )
    routed = send(
        vpay,
        "/orders/create/",
        vpay.sign_params({"merchant_order_id": "D-2", "amount": 5, "channel": "QR_CODE"}),
    )
    assert direct.status_code == routed.status_code == 200, (direct.text, routed.text)
    one, two = direct.json(), routed.json()
    assert one["code"] == two["code"] == "ORDER.CREATE_SUCCESS"
    assert set(one["data"]) == set(two["data"])
    assert direct.headers["content-type"] == routed.headers["content-type"]
    assert one["debug_id"] == direct.headers["x-request-id"]
    assert (
        vpay.query_order(merchant_order_id="D-2")["status"]
        == vpay.query_order(merchant_order_id="D-1")["status"]
    )


def test_refusals_on_both_paths_are_alike(server, vpay):
    bad = {"merchant_order_id": "D-3", "amount": 5, "channel": "BITCOIN"}
    with unchanged(server):
        one = expect(send(vpay, "/orders/create", vpay.sign_params(bad)), "ORDER.INVALID_PARAMS")
        two = expect(send(vpay, "/orders/create/", vpay.sign_params(bad)), "ORDER.INVALID_PARAMS")
    assert one["detail"] == two["detail"]


def test_another_method_on_a_direct_path_is_refused_in_vpays_shape(server, vpay):
    with unchanged(server):
        response = vpay.http.get(vpay.base + "/orders/create")
    assert response.status_code == 404
    assert response.json()["debug_id"] == response.headers["x-request-id"]


# -- the mechanism on its own ---------------------------------------------------------------------


def _error(_request: Any, exc: Exception) -> Response[bytes]:
    code = exc.code.name if isinstance(exc, PaymuxError) else "INTERNAL"
    return Response(msgspec.json.encode({"error": code}), status_code=418)


@post("/echo")
async def echo(request: Request) -> ASGIApp:
    return JsonReply(await request.body(), 200)


@post("/boom")
async def boom(request: Request) -> ASGIApp:
    raise RuntimeError("a bug")


@post("/plain")
async def plain(request: Request) -> dict[str, str]:
    return {"via": "litestar"}


@get("/item/{n:int}")
async def item(request: Request, n: FromPath[int]) -> ASGIApp:
    return JsonReply(b"{}", 200)


@post("/order/{no:str}/pay")
async def pay(request: Request) -> ASGIApp:
    return JsonReply(msgspec.json.encode(request.path_params), 200)


@post("/order/export/pay")
async def export(request: Request) -> dict[str, str]:
    return {"via": "litestar literal"}


def _app(calls: list[str]) -> tuple[Litestar, ASGIApp]:
    async def before(_request: Request) -> None:
        calls.append("before")

    app = Litestar(
        [
            Router(
                "/d", route_handlers=[echo, boom, plain, item, pay, export], opt={"direct": True}
            ),
            Router("/n", route_handlers=[echo]),
        ]
    )
    app.asgi_handler = DirectRoutes(
        app, app.asgi_handler, on_error=_error, before=before, max_body=64
    )
    return app, app.asgi_handler


def test_only_plain_handlers_of_routers_that_opt_in_are_direct():
    app, _ = _app([])
    assert set(direct_routes(app)) == {
        ("POST", "/d/echo"),
        ("POST", "/d/boom"),
        ("POST", "/d/order/{no:str}/pay"),
    }


def test_str_path_parameters_are_matched_as_litestar_would():
    calls: list[str] = []
    app, _ = _app(calls)
    with TestClient(app) as client:
        assert client.post("/d/order/A-1/pay").json() == {"no": "A-1"}
        assert client.post("/d/order/x%20y/pay").json() == {"no": "x y"}
        assert calls == ["before", "before"]
        # What Litestar would not match (or would match elsewhere) is left to Litestar.
        assert client.post("/d/order/export/pay").json() == {"via": "litestar literal"}
        assert client.post("/d/order/a%2Fb/pay").status_code == 404
        assert client.post("/d/order//pay").status_code == 404
        assert client.get("/d/order/A-1/pay").status_code == 405
        assert client.get("/d/item/7").json() == {}
        assert calls == ["before", "before"]


def test_direct_routes_answer_read_limits_and_errors():
    calls: list[str] = []
    app, _ = _app(calls)
    with TestClient(app) as client:
        assert client.post("/d/echo", content=b'{"a":1}').json() == {"a": 1}
        assert calls == ["before"]
        chunked = client.post("/d/echo", content=iter([b'{"a":', b"2}"]))
        assert chunked.json() == {"a": 2}
        assert client.post("/d/echo", content=b"x" * 65).json() == {"error": "PAYLOAD_TOO_LARGE"}
        too_long = client.post("/d/echo", content=iter([b"x" * 40, b"x" * 40]))
        assert too_long.json() == {"error": "PAYLOAD_TOO_LARGE"}
        assert client.post("/d/boom", content=b"{}").json() == {"error": "INTERNAL"}
        assert client.post("/d/plain").json() == {"via": "litestar"}
        assert client.post("/n/echo", content=b"[]").json() == []


def test_a_client_that_leaves_mid_body_reaches_no_handler():
    calls: list[str] = []
    _, handler = _app(calls)
    sent: list[dict[str, Any]] = []
    messages = iter(
        [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    )

    async def receive() -> Any:
        return next(messages)

    async def send_(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/d/echo",
        "headers": [],
        "query_string": b"",
        "state": {},
    }
    asyncio.run(handler(scope, receive, send_))
    assert sent[1]["body"] == b'{"error":"MALFORMED_BODY"}'
    assert sent[0]["status"] == 418


def test_the_app_serves_every_dialects_signed_posts_directly(server):
    app = create_app(server.ctx)
    table = direct_routes(app)
    for path in (
        "/api/v1/orders/create",
        "/partner/api/openapi/payment/create",
        "/api/order/unified",
        "/api/pay/wechat/native",
    ):
        assert ("POST", path) in table
    assert ("POST", "/sandbox/v1/orders/{order_no:str}/pay") in table
    assert not any(path.startswith(("/admin", "/console")) for _, path in table)
