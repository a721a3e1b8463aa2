"""A merchant's notify endpoint for tests and benchmarks: raw HTTP/1.1 on asyncio, own thread.

It records every request it reads and answers according to the mode of the
request's path, so one receiver plays a healthy merchant and every kind of
broken one:

    ok        200 with `ack` (`SUCCESS` unless the dialect acknowledges otherwise)
    wrong     200 `FAIL` (not an acknowledgement)
    500       500 `oops`
    hang      reads the request, never answers
    close     reads the request, closes the connection without answering
    redirect  302 to /ok (must not be followed)
    huge      200 with a 10 MB body

It can be stopped and started again on the same port (merchant down, then up).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.harness import free_port

HUGE = 10 * 1024 * 1024


@dataclass(frozen=True)
class Received:
    at: float  # time.perf_counter() when the body was read
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    modes: dict[str, str] = field(default_factory=dict)  # path -> mode; default "ok"
    delay_s: float = 0.0  # wait before answering (a slow merchant)
    ack: bytes = b"SUCCESS"  # the body of an "ok" answer
    replies: dict[str, bytes] = field(default_factory=dict)  # path -> exact 200 body
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._closing = asyncio.Event()
        self._lock = threading.Lock()

    def url(self, path: str = "/ok") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=1024)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(5)
        return self

    def stop(self) -> None:
        """Close the port and every open connection (keep-alive ones too): merchant down."""

        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._writers):
                writer.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)

    def close(self) -> None:
        """Stop, release the hanging handlers, let every handler end, stop the thread."""
        self.stop()

        async def finish() -> None:
            self._closing.set()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if handlers:
                await asyncio.wait(handlers, timeout=5)

        asyncio.run_coroutine_threadsafe(finish(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def bodies(self, path: str | None = None) -> list[bytes]:
        with self._lock:
            return [r.body for r in self.requests if path is None or r.path == path]

    def wait_count(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """At least `count` requests at `path` (all of them), or an assertion error."""
        self.wait_for(lambda: len(self.at(path)) >= count, timeout)
        return self.at(path)

    def bodies_at(self, path: str, count: int = 1, timeout: float = 10.0) -> list[bytes]:
        return [r.body for r in self.wait_count(path, count, timeout)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: condition not met in {timeout}s")
            time.sleep(0.005)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                received = Received(time.perf_counter(), path, headers, body)
                with self._lock:
                    self.requests.append(received)
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                mode = self.modes.get(path, "ok")
                if mode == "hang":
                    await self._closing.wait()
                if mode in ("hang", "close"):
                    return
                writer.write(_reply(mode, self.replies.get(path, self.ack)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _reply(mode: str, ack: bytes) -> bytes:
    status, body, extra = {
        "ok": ("200 OK", ack, ""),
        "wrong": ("200 OK", b"FAIL", ""),
        "500": ("500 Internal Server Error", b"oops", ""),
        "redirect": ("302 Found", b"", "Location: /ok\r\n"),
        "huge": ("200 OK", b"x" * HUGE, ""),
    }[mode]
    return (
        f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}"
        "Content-Type: text/plain\r\n\r\n"
    ).encode() + body
