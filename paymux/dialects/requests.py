"""Reading request bodies the same careful way in every dialect.

Each check raises a catalogue error, which the dialect renders in its own
shape: a wrong content type, malformed JSON, a non-object body, invalid UTF-8.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request

from paymux.core.errors import ErrorCode, PaymuxError


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def client_ip(request: Request) -> str:
    client = request.client
    return client.host if client else ""


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
    return value


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


def query_params(request: Request) -> dict[str, str]:
    """Query parameters; a parameter given twice is an error (it would be signed ambiguously)."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(
        request.scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True
    ):
        if key in params:
            raise PaymuxError(ErrorCode.INVALID_PARAMS, f"parameter {key} given twice", field=key)
        params[key] = value
    return params
