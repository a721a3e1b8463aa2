"""OpenAPI 3.1 documents of the dialects, served at `GET /openapi/<dialect>.json`.

One document per dialect, written from its spec and docs/dialects/<dialect>.md.
They are documentation for integrators and the contract the schemathesis run
in tests/fuzz holds the server to: every generated request must get an answer
the document describes, in status and in shape.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

import msgspec
from litestar import Request, Response, Router, get
from litestar.params import FromPath

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.openapi import gateway, partner, paymodule, skillpay, vpay
from paymux.openapi.schema import Schema

if TYPE_CHECKING:
    from paymux.context import Context

DOCUMENTS: dict[str, Callable[[str], Schema]] = {
    "vpay": vpay.openapi,
    "partner": partner.openapi,
    "gateway": gateway.openapi,
    "paymodule": paymodule.openapi,
    "skillpay": skillpay.openapi,
}


@cache
def rendered(name: str, server_url: str) -> bytes:
    """A document as JSON bytes; built once per process, the documents never change at runtime."""
    return msgspec.json.encode(DOCUMENTS[name](server_url))


@get("/openapi/{filename:str}")
async def openapi_document(request: Request, filename: FromPath[str]) -> Response[bytes]:
    name = filename.removesuffix(".json")
    if not filename.endswith(".json") or name not in DOCUMENTS:
        raise PaymuxError(
            ErrorCode.NOT_FOUND, f"no such document; one of {', '.join(sorted(DOCUMENTS))}.json"
        )
    ctx: Context = request.app.state.ctx
    return Response(rendered(name, ctx.settings.public_base_url), media_type="application/json")


def make_router() -> Router:
    return Router(path="/", route_handlers=[openapi_document])
