"""One delivery attempt over HTTP: the stored bytes, a bounded wait, a bounded reply.

Built on aiohttp's client: no redirects are followed (`allow_redirects=False`),
its C parser and connection pool keep the per-delivery cost low (throughput is
mostly client overhead), and it takes a resolver, which is where the SSRF guard
checks every address DNS answers. aiohttp then connects to exactly those
addresses, so there is no second lookup an attacker could rebind; TLS still
verifies the certificate against the URL's host name.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from paymux.core.errors import PaymuxError
from paymux.notify.outbox import EXCERPT_BYTES, AttemptResult, Claim
from paymux.services.clock import Clock
from paymux.services.notifications import DeliveryPolicy, DeliveryReply
from paymux.services.urls import check_url, is_private_host

USER_AGENT = "paymux-notify/1"
READ_CHUNK = 16 * 1024


class BlockedAddress(OSError):
    """The host resolves to a private or loopback address where those are refused."""


class GuardedResolver(AbstractResolver):
    """The system resolver, refusing any answer that is not a public address."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        private = [a["host"] for a in answers if is_private_host(a["host"])]
        if private:
            raise BlockedAddress(f"{host} resolves to a private or loopback address {private[0]}")
        return answers

    async def close(self) -> None:
        await self._inner.close()


def _describe(exc: BaseException) -> str:
    """`Class: message` for the attempt log, naming the SSRF guard when it was the cause."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, BlockedAddress):
            return f"BlockedAddress: {cause}"
        cause = cause.__cause__
    return f"{type(exc).__name__}: {exc}"


class Deliverer:
    """Sends attempts through one keep-alive connection pool (merchants get many notifications).

    Create it inside the event loop that will use it (aiohttp's session belongs to one loop).
    """

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
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=max_connections,
                resolver=None if allow_private else GuardedResolver(),
                keepalive_timeout=30,
            ),
            # Only the stored headers (and Host, Content-Length, User-Agent) go out.
            skip_auto_headers=("Accept", "Accept-Encoding", "Content-Type"),
            headers={"User-Agent": USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        await self._session.close()

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
        success = False
        error = self._refused(claim.url)
        try:
            if not error:
                async with asyncio.timeout(self._timeout_s):
                    status, headers, reply = await self._post(claim, policy)
                    answer = policy.is_ack(DeliveryReply(status, headers, reply, claim.merchant_id))
                    success = bool(await answer if inspect.isawaitable(answer) else answer)
                if not success:
                    error = f"NotAcknowledged: HTTP {status}, reply is not an acknowledgement"
        except TimeoutError:
            error = f"Timeout: no complete answer within {self._timeout_s:g}s"
        except Exception as exc:  # every failure is data for the attempt log
            error = _describe(exc)
        return AttemptResult(
            started_at=started_at,
            latency_ms=round((time.perf_counter() - began) * 1000),
            status_code=status,
            excerpt=reply[:EXCERPT_BYTES].decode("utf-8", "replace"),
            error=error,
            success=success,
        )

    def _refused(self, url: str) -> str:
        """Where private targets are refused: a URL that is not http(s) or names one literally."""
        if self._allow_private:
            return ""
        try:
            check_url(url, field="notify_url", allow_private=False)
        except PaymuxError as exc:
            return f"RefusedURL: {exc.message}"
        return ""

    async def _post(
        self, claim: Claim, policy: DeliveryPolicy
    ) -> tuple[int, Mapping[str, str], bytes]:
        headers = (
            policy.attempt_headers(claim.body, claim.headers)
            if policy.attempt_headers is not None
            else claim.headers
        )
        async with self._session.post(
            claim.url, data=claim.body, headers=headers, allow_redirects=False
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(READ_CHUNK):
                chunks.append(chunk)
                size += len(chunk)
                if size >= self._max_reply:
                    break  # the rest is never read; the connection is dropped, not reused
            return response.status, response.headers, b"".join(chunks)[: self._max_reply]
