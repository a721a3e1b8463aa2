"""The bare baseline on paymux's own stack (Litestar + msgspec on one uvicorn worker).

paymux's throughput is reported as a ratio to this, measured in the same run,
because absolute numbers on a shared machine mean little.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, Request, Response, get, post


@post("/echo")
async def echo(request: Request) -> Response[bytes]:
    body = msgspec.json.decode(await request.body())
    return Response(
        msgspec.json.encode({"code": "OK", "data": body}),
        status_code=200,
        media_type="application/json",
    )


@get("/hello")
async def hello() -> Response[bytes]:
    return Response(b'{"hello":"world"}', media_type="application/json")


app = Litestar(route_handlers=[echo, hello])
