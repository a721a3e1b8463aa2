"""uvicorn's httptools protocol, sending what one turn of the event loop writes in one send.

uvicorn writes a response's status line and headers when the app starts the response,
then the body in a second write: two `send` system calls, and two TCP segments, for a
reply that fits in one. On a small JSON answer those two calls were a fifth of the
server's CPU. Here the connection's writes are held until the end of the current turn
of the loop and leave as one: the head and body of a response (sent one after the other
without waiting) become one call, and so do pipelined responses finished in the same
turn. Nothing waits longer than that turn, so a streamed body still flows, and an
"100 Continue" still goes out before the request body is read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: What `uvicorn.Config(http=...)` and `uvicorn --http` take to use this protocol.
PROTOCOL = "paymux.http_protocol:OneSendHttpToolsProtocol"


class _OneSendTransport:
    """The connection's transport, with writes joined until the loop's turn ends."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(data)

    def _flush(self) -> None:
        held, self._held = self._held, []
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneSendHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's protocol over a transport that sends each turn's writes at once."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneSendTransport(transport, self.loop))  # type: ignore[arg-type]
