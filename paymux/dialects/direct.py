"""Serving a dialect's plain routes straight from ASGI, in front of Litestar's router.

On a signed create-order, Litestar's router, exception middleware, kwargs and
signature model and its body stream (with its `Headers`) were about a quarter
of the CPU (docs/performance.md), for routes that need none of it: they take
only the request, return a finished ASGI reply and raise catalogue errors. A
router opts in with `opt={"direct": True}`; its handlers whose path has no
parameters, whose only argument is `request` and which return an ASGI app are
called here with a `DirectRequest`. Everything else (another method on the same
path, a trailing slash, pages, the admin API) goes on to Litestar, and since
the same handler function answers both ways, the two cannot drift apart:
errors go through the app's one exception handler, the per-IP limit runs first,
the body limit is the app's.

A path may hold `{name:str}` segments (the sandbox's `/orders/{order_no:str}/pay`):
the handler reads them from `request.path_params`, which this fills as
Litestar's router does. A segment matches what Litestar's would (one non-empty
segment of the decoded path), and a path any route of the app spells out
literally is always left to Litestar, which prefers literal routes too.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request, Response
from litestar.types import ASGIApp, Receive, Scope, Send

from paymux.core.errors import ErrorCode, PaymuxError

Handler = Callable[[Request], Awaitable[ASGIApp]]
OnError = Callable[[Request, Exception], Response[Any]]
Before = Callable[[Request], Awaitable[None]]


class DirectRequest(Request):
    """Litestar's `Request` over a body read before the handler runs."""

    __slots__ = ("_direct_body",)

    def __init__(self, scope: Scope, receive: Receive) -> None:
        super().__init__(scope, receive)
        self._direct_body = b""

    async def read(self, limit: int) -> None:
        self._direct_body = await read_body(self.scope, self.receive, limit)

    async def body(self) -> bytes:
        return self._direct_body

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """Litestar's own readers (a multipart form) read the body this way."""
        yield self._direct_body


def _too_large() -> PaymuxError:
    return PaymuxError(ErrorCode.PAYLOAD_TOO_LARGE, "request body too large")


def _declared_length(scope: Scope) -> int:
    for key, value in scope["headers"]:
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise PaymuxError(ErrorCode.MALFORMED_BODY, "invalid Content-Length") from None
    return 0


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, refused once it is (or says it will be) larger than `limit`."""
    if _declared_length(scope) > limit:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise PaymuxError(ErrorCode.MALFORMED_BODY, "the client left before the body ended")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large()
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def direct_routes(app: Litestar) -> dict[tuple[str, str], Handler]:
    """(method, path) → handler function, for every handler that can be served directly
    (path as the route spells it, `{name:str}` segments included)."""
    table: dict[tuple[str, str], Handler] = {}
    for route in app.routes:
        kinds = {p.type for p in getattr(route, "path_parameters", {}).values()}
        if kinds - {str}:
            continue
        for handler in getattr(route, "route_handlers", ()):
            signature = handler.parsed_fn_signature
            plain = (
                handler.opt.get("direct") is True
                and list(signature.parameters) == ["request"]
                and signature.return_type.annotation == ASGIApp
                and not handler.resolve_guards()
                and not handler.resolve_middleware()
                and not handler.resolve_dependencies()
            )
            if plain:
                for method in handler.http_methods:
                    table[(method, route.path)] = handler.fn
    return table


@dataclass(frozen=True, slots=True)
class _Template:
    """A direct path with `{name:str}` segments: its segments, `None` where a name goes."""

    parts: tuple[str | None, ...]
    names: tuple[str, ...]
    handler: Handler

    @classmethod
    def parse(cls, path: str, handler: Handler) -> _Template:
        parts = tuple(None if part.startswith("{") else part for part in path.split("/"))
        names = tuple(part[1:].split(":")[0] for part in path.split("/") if part.startswith("{"))
        return cls(parts, names, handler)

    def match(self, path: str) -> dict[str, str] | None:
        segments = path.split("/")
        if len(segments) != len(self.parts):
            return None
        values = []
        for part, segment in zip(self.parts, segments, strict=True):
            if part is None:
                if not segment:
                    return None
                values.append(segment)
            elif part != segment:
                return None
        return dict(zip(self.names, values, strict=True))


class DirectRoutes:
    """The ASGI app in front of Litestar's own stack (see the module's docstring)."""

    def __init__(
        self,
        app: Litestar,
        inner: ASGIApp,
        *,
        on_error: OnError,
        before: Before | None,
        max_body: int,
    ) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.templates: dict[str, list[_Template]] = {}
        for (method, path), handler in direct_routes(app).items():
            if "{" in path:
                self.templates.setdefault(method, []).append(_Template.parse(path, handler))
            else:
                self.routes[(method, path)] = handler
        self.literal = {route.path for route in app.routes if "{" not in route.path}
        self.inner = inner
        self.on_error = on_error
        self.before = before
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self._handler(scope) if scope["type"] == "http" else None
        if handler is None:
            await self.inner(scope, receive, send)
            return
        request = DirectRequest(scope, receive)
        try:
            if self.before is not None:
                await self.before(request)
            await request.read(self.max_body)
            reply = await handler(request)
        except Exception as exc:
            reply = self.on_error(request, exc).to_asgi_response(None, request)
        await reply(scope, receive, send)

    def _handler(self, scope: Scope) -> Handler | None:
        method, path = scope["method"], scope["path"]
        handler = self.routes.get((method, path))
        if handler is not None or path in self.literal:
            return handler
        for template in self.templates.get(method, ()):
            params = template.match(path)
            if params is not None:
                scope["path_params"] = params
                return template.handler
        return None
