"""Reading request bodies the same careful way in every dialect, and sending finished replies.

Each check raises a catalogue error, which the dialect renders in its own
shape: a wrong content type, malformed JSON, a non-object body, invalid UTF-8.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.types import Receive, Scope, Send

from paymux.core.errors import ErrorCode, PaymuxError


class JsonReply:
    """A JSON body already encoded, sent as it is: an ASGI app a route handler returns
    (annotated `ASGIApp`) in place of a `Response`.

    Litestar turns each returned `Response` into an `ASGIResponse` (merging
    headers and cookies, looking up a serializer, encoding headers), which on a
    signed create cost about as much as building the reply itself. The headers
    are the ones `Response(body, media_type="application/json")` sends; the
    app's `RequestLog` adds `x-request-id` as it does to every response.
    """

    __slots__ = ("body", "status")

    def __init__(self, body: bytes, status: int) -> None:
        self.body = body
        self.status = status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def header(request: Request, name: bytes) -> str:
    """The first value of header `name` (lower case), or "".

    Read straight from the ASGI scope: building Litestar's `Headers` for one
    lookup cost more than the lookup on every signed request.
    """
    for key, value in request.scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def content_type(request: Request) -> str:
    return header(request, b"content-type").split(";", 1)[0].strip().lower()


def client_ip(request: Request) -> str:
    client = request.scope.get("client")
    return client[0] if client else ""


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def decode_json_object(body: bytes) -> dict[str, Any]:
    if not body:
        raise PaymuxError(ErrorCode.MALFORMED_BODY, "request body is empty")
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise PaymuxError(ErrorCode.MALFORMED_BODY, f"malformed JSON: {exc}") from None
    except UnicodeDecodeError:
        # msgspec checks UTF-8 inside strings while decoding them, and says so this way.
        raise PaymuxError(ErrorCode.MALFORMED_BODY, "the body is not valid UTF-8") from None
    except RecursionError:
        # msgspec recurses per nesting level; about a thousand levels exhaust the stack.
        raise PaymuxError(ErrorCode.MALFORMED_BODY, "JSON is nested too deeply") from None
    if not isinstance(value, dict):
        raise PaymuxError(ErrorCode.MALFORMED_BODY, "request body must be a JSON object")
    _refuse_duplicate_keys(body, value)
    return value


def _kept_keys(value: Any) -> int:
    """How many keys the decoded value has, in all its objects (iterative: depth is unbounded)."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, item in pairs:
        if key in obj:
            raise PaymuxError(ErrorCode.INVALID_PARAMS, f"parameter {key} given twice", field=key)
        obj[key] = item
    return obj


def _refuse_duplicate_keys(body: bytes, value: dict[str, Any]) -> None:
    """Refuse a key given twice in one object, as a form parameter given twice is refused.

    msgspec keeps the last of two equal keys silently; a signature checker or
    proxy that kept the first would read another request. Every key is
    followed by one ':', so when the body has no more colons than the decoded
    value has keys, none was dropped; only otherwise (colons inside strings,
    or a duplicate) is the body parsed again, pair by pair.
    """
    if body.count(b":") <= _kept_keys(value):
        return
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except RecursionError:
        raise PaymuxError(ErrorCode.MALFORMED_BODY, "JSON is nested too deeply") from None


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; the content type must be JSON."""
    if content_type(request) != "application/json":
        raise PaymuxError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
    return decode_json_object(await request.body())


async def form_or_json(request: Request) -> dict[str, Any]:
    """A form-urlencoded body (values as strings), or a JSON object body."""
    kind = content_type(request)
    body = await request.body()
    if kind == "application/json":
        return decode_json_object(body)
    if kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except (UnicodeDecodeError, ValueError):
            raise PaymuxError(ErrorCode.MALFORMED_BODY, "malformed form body") from None
        params: dict[str, Any] = {}
        for key, value in pairs:
            if key in params:
                raise PaymuxError(
                    ErrorCode.INVALID_PARAMS, f"parameter {key} given twice", field=key
                )
            params[key] = value
        return params
    raise PaymuxError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        "Content-Type must be application/x-www-form-urlencoded or application/json",
    )


def refuse_body(request: Request) -> None:
    """A GET carries its parameters in the URL; a body on one would go unread and unsigned.

    Refusing it, rather than ignoring it, keeps a client that put its
    parameters in the wrong place from getting an answer to another question,
    and gives a smuggled second request nothing to hide in.
    """
    if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
        raise PaymuxError(ErrorCode.MALFORMED_BODY, "a GET request takes no body")


def query_params(request: Request) -> dict[str, str]:
    """Query parameters; a parameter given twice is an error (it would be signed ambiguously)."""
    refuse_body(request)
    params: dict[str, str] = {}
    for key, value in parse_qsl(
        request.scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True
    ):
        if key in params:
            raise PaymuxError(ErrorCode.INVALID_PARAMS, f"parameter {key} given twice", field=key)
        params[key] = value
    return params
