"""The HTTP protocol paymux serves with: one send per response, and HTTP/1.1 left intact.

uvicorn's protocol runs here for real, over a transport that records what reaches the
socket, so the number of writes is seen (over TCP, the kernel may join two sends before
the client reads them). The last test talks to a whole paymux over a loopback socket.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from paymux.http_protocol import OneSendHttpToolsProtocol
from tests.harness import run_server

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def echo(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Answers with the request body, or headers only where HTTP allows no body."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status = 204 if scope["path"] == "/empty" else 200
    headers = [(b"content-type", b"application/json")]
    if status == 200:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body if status == 200 else b""})


class Wire:
    """A transport that keeps each write it is given, as the socket would have received it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.marks: list[int] = []  # how many writes had been made after each chunk fed
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def exchange(*chunks: bytes, protocol: type[HttpToolsProtocol] = OneSendHttpToolsProtocol) -> Wire:
    """Feeds the chunks to a new connection one loop-settle apart; returns what was sent."""

    async def main() -> Wire:
        config = Config(app=echo, lifespan="off", log_level="warning")
        config.load()
        server = protocol(config, ServerState(), {}, asyncio.get_running_loop())
        wire = Wire()
        server.connection_made(wire)  # type: ignore[arg-type]
        for chunk in chunks:
            server.data_received(chunk)
            for _ in range(10):
                await asyncio.sleep(0)
            wire.marks.append(len(wire.writes))
        return wire

    return asyncio.run(main())


POST = b'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\n\r\n{"a":1}'


def test_a_response_leaves_in_one_write() -> None:
    wire = exchange(POST)
    assert len(wire.writes) == 1
    assert wire.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert wire.writes[0].endswith(b'\r\n\r\n{"a":1}')


def test_uvicorns_own_protocol_writes_twice() -> None:
    """Why the subclass exists: the head and the body are two sends without it."""
    assert len(exchange(POST, protocol=HttpToolsProtocol).writes) == 2


def test_pipelined_requests_are_answered_in_order() -> None:
    sent = b"".join(exchange(POST + POST.replace(b'{"a":1}', b'{"b":2}')).writes)
    assert sent.count(b"HTTP/1.1 200 OK") == 2
    assert sent.index(b'{"a":1}') < sent.index(b'{"b":2}')


def test_a_response_without_a_body_still_leaves() -> None:
    wire = exchange(b"GET /empty HTTP/1.1\r\nhost: x\r\n\r\n")
    assert len(wire.writes) == 1
    assert wire.writes[0].startswith(b"HTTP/1.1 204 No Content\r\n")
    assert wire.writes[0].endswith(b"\r\n\r\n")


def test_100_continue_goes_out_before_the_body_arrives() -> None:
    head = b"POST /echo HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 7\r\n\r\n"
    wire = exchange(head, b'{"a":1}')
    assert wire.marks == [1, 2]
    assert wire.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert wire.writes[1].endswith(b'{"a":1}')


def test_connection_close_sends_the_response_before_closing() -> None:
    wire = exchange(POST.replace(b"host: x\r\n", b"host: x\r\nconnection: close\r\n"))
    assert wire.closed
    assert len(wire.writes) == 1
    assert wire.writes[0].endswith(b'{"a":1}')


@pytest.mark.timeout(30)
def test_paymux_answers_pipelined_requests_over_tcp(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        request = b"GET /api/health HTTP/1.1\r\nhost: x\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request * 3)
            received = b""
            while received.count(b"HTTP/1.1 ") < 3 or not received.endswith(b"}"):
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {received!r}"
                received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 3
