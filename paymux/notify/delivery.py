"""One delivery attempt over HTTP: the stored bytes, a bounded wait, a bounded reply.

Built on httpcore rather than httpx: it follows no redirects by design, costs
less per request (delivery throughput is mostly client overhead), and takes a
network backend, which is where the SSRF guard checks every address DNS
answers and then connects to that very address (no second lookup an attacker
could rebind). TLS still verifies the certificate against the URL's host name.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Iterable

import anyio
import httpcore
from httpcore import SOCKET_OPTION, AsyncNetworkBackend, AsyncNetworkStream

from paymux.core.errors import PaymuxError
from paymux.notify.outbox import EXCERPT_BYTES, AttemptResult, Claim
from paymux.services.clock import Clock
from paymux.services.notifications import DeliveryPolicy, DeliveryReply
from paymux.services.urls import check_url, is_private_host

USER_AGENT = b"paymux-notify/1"


class BlockedAddress(Exception):
    """The notify URL points at a private or loopback address where those are refused."""


class GuardedBackend(AsyncNetworkBackend):
    """Resolves the host itself, refuses private answers, connects to a vetted address."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        answers = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in answers]
        private = [a for a in addresses if is_private_host(a)]
        if not addresses or private:
            raise BlockedAddress(f"{host} resolves to a private or loopback address {private[:1]}")
        return await self._inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        raise BlockedAddress("unix sockets are not a notification target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class Deliverer:
    """Sends attempts through one keep-alive connection pool (merchants get many notifications)."""

    def __init__(
        self,
        clock: Clock,
        *,
        timeout_s: float,
        max_connections: int,
        max_reply_bytes: int,
        allow_private: bool,
    ) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self._max_reply = max_reply_bytes
        self._allow_private = allow_private
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            retries=0,
            network_backend=httpcore.AnyIOBackend() if allow_private else GuardedBackend(),
        )

    async def close(self) -> None:
        await self._pool.aclose()

    async def attempt(self, claim: Claim, policy: DeliveryPolicy) -> AttemptResult:
        """POST the claim's bytes once; every failure becomes the attempt's error, never raised.

        The whole attempt (DNS, connect, send, reply, acknowledgement check) is
        bounded by one timeout, so a merchant that trickles bytes cannot hold a
        slot longer than that either.
        """
        started_at = self._clock.now()
        began = time.perf_counter()
        status: int | None = None
        reply = b""
        error = ""
        success = False
        try:
            async with asyncio.timeout(self._timeout_s):
                if not self._allow_private:
                    check_url(claim.url, field="notify_url", allow_private=False)
                status, headers, reply = await self._post(claim, policy)
                answer = policy.is_ack(DeliveryReply(status, headers, reply, claim.merchant_id))
                success = bool(await answer if inspect.isawaitable(answer) else answer)
                if not success:
                    error = f"NotAcknowledged: HTTP {status}, reply is not an acknowledgement"
        except TimeoutError:
            error = f"Timeout: no complete answer within {self._timeout_s:g}s"
        except PaymuxError as exc:  # check_url: not http(s), or a private/loopback literal
            error = f"RefusedURL: {exc.message}"
        except Exception as exc:  # every failure is data for the attempt log
            error = f"{type(exc).__name__}: {exc}"
        return AttemptResult(
            started_at=started_at,
            latency_ms=round((time.perf_counter() - began) * 1000),
            status_code=status,
            excerpt=reply[:EXCERPT_BYTES].decode("utf-8", "replace"),
            error=error,
            success=success,
        )

    async def _post(
        self, claim: Claim, policy: DeliveryPolicy
    ) -> tuple[int, dict[str, str], bytes]:
        headers = (
            policy.attempt_headers(claim.body, claim.headers)
            if policy.attempt_headers is not None
            else claim.headers
        )
        wire_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        wire_headers.append((b"User-Agent", USER_AGENT))
        timeout = self._timeout_s
        async with self._pool.stream(
            "POST",
            claim.url,
            headers=wire_headers,
            content=claim.body,
            extensions={
                "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
            },
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_stream():
                chunks.append(chunk)
                size += len(chunk)
                if size >= self._max_reply:
                    break  # the rest is never read; the connection is dropped, not reused
            reply_headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers
            }
            return response.status, reply_headers, b"".join(chunks)[: self._max_reply]
