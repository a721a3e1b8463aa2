"""Embedded mode keeps nonces in memory and writes them behind: they must survive a restart,
and those memory had to let go of must still be refused.

A nonce is written with the writer's next batch, never later than the request's
own write, so a request that was answered has its nonce on disk: replaying it
after the process is killed (no shutdown handlers) is still refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from paymux.config import Settings
from paymux.context import Context, build_context
from paymux.dialects.vpay.client import VpayClient, VpayError
from paymux.services import nonces as nonces_module
from paymux.services.nonces import EmbeddedNonceStore, nonce_in_use
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork
from tests.harness import run_server
from tests.processes import paymux_env, serve


def test_a_nonce_answered_before_a_crash_is_refused_after_it(tmp_path: Path) -> None:
    token = "embedded-" + secrets.token_hex(8)
    env = paymux_env(tmp_path / "data", PAYMUX_ADMIN_TOKEN=token)
    with serve(env, tmp_path / "first.log") as first:
        creds = httpx.post(
            first.base_url + "/admin/v1/merchants",
            json={"name": "nonces"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["vpay"]
        client = VpayClient(first.base_url, creds["app_id"], creds["secret_key"])
        signed = [
            client.sign_params({"merchant_order_id": f"N-{i}", "amount": 100, "channel": "QR_CODE"})
            for i in range(20)
        ]
        for params in signed:  # each answered, so each nonce must be durable
            client.unwrap(client.http.post(client.base + "/orders/create", json=params))
        first.kill()
    with serve(env, tmp_path / "second.log") as second:
        client = VpayClient(second.base_url, creds["app_id"], creds["secret_key"])
        for params in signed:
            with pytest.raises(VpayError) as replay:
                client.unwrap(client.http.post(client.base + "/orders/create", json=params))
            assert replay.value.code == "PAYMENT.DUPLICATE_REQUEST"


@contextlib.contextmanager
def embedded_nonces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory: int
) -> Iterator[tuple[Context, EmbeddedNonceStore]]:
    """An embedded context whose nonce memory holds `memory` nonces."""
    monkeypatch.setattr(EmbeddedNonceStore, "MEMORY_NONCES", memory)
    ctx = build_context(Settings(data_dir=tmp_path / "data"))
    try:
        assert isinstance(ctx.nonces, EmbeddedNonceStore)
        yield ctx, ctx.nonces
    finally:
        ctx.close()


def uses(store: EmbeddedNonceStore, ttl_s: int, *names: str) -> list[bool]:
    async def main() -> list[bool]:
        return [await store.use("scope", name, ttl_s) for name in names]

    return asyncio.run(main())


def test_nonces_memory_let_go_of_are_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory keeps a bounded number of nonces; older ones are answered by the table."""
    with embedded_nonces(tmp_path, monkeypatch, 3) as (ctx, store):
        assert uses(store, 600, "a", "b", "c", "d", "e") == [True] * 5
        ctx.store.write_sync(lambda _uow: None)  # the write-behind batch is committed
        assert uses(store, 600, "a", "b", "e", "f", "a") == [False, False, False, True, False]
    with embedded_nonces(tmp_path, monkeypatch, 3) as (ctx, store):  # loads the newest three
        assert uses(store, 600, "a") == [False]  # from the table


def test_only_nonces_memory_may_have_dropped_are_looked_up_in_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MEMORY_NONCES, a nonce never seen is accepted without a read of the table;
    one memory let go of is still found there, until its slice of expiry time is over."""
    looked_up: list[str] = []

    def spied(uow: Any, scope: str, nonce: str) -> bool:
        looked_up.append(nonce)
        return nonce_in_use(uow, scope, nonce)

    monkeypatch.setattr(nonces_module, "nonce_in_use", spied)
    with embedded_nonces(tmp_path, monkeypatch, 3) as (ctx, store):
        fresh = [f"n{i}" for i in range(200)]
        assert uses(store, 600, *fresh) == [True] * 200
        ctx.store.write_sync(lambda _uow: None)  # the write-behind batch is committed
        assert looked_up == []  # 197 dropped while live, and none of the new ones read
        assert uses(store, 600, "n0", "n150", "n199") == [False] * 3
        assert looked_up == ["n0", "n150"]  # n199 was still in memory
        assert uses(store, 600, *[f"new{i}" for i in range(200)]) == [True] * 200
        assert len(looked_up) <= 2 + 2  # a false positive or two at most, of 0.1 % each


def test_a_dropped_nonces_filter_is_let_go_once_its_slice_has_expired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded_nonces(tmp_path, monkeypatch, 2) as (ctx, store):
        assert uses(store, 5, "short", "b", "c") == [True] * 3  # "short" dropped while live
        ctx.store.write_sync(lambda _uow: None)
        assert uses(store, 5, "short") == [False]  # the filter sends it to the table
        ctx.env.clock.set_offset(2 * EmbeddedNonceStore.SLICE_S)
        assert uses(store, 5, "d") == [True]
        assert store._dropped == {}  # its nonces all expired, the filter went with them
        assert uses(store, 5, "short") == [True]  # and the nonce may be used again


def test_replays_of_nonces_memory_dropped_are_refused_over_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merchant's SDK, a server whose memory holds three nonces: every replay of the
    twenty creates, one by one and eight at once, is refused and creates nothing."""
    monkeypatch.setattr(EmbeddedNonceStore, "MEMORY_NONCES", 3)
    with run_server(tmp_path) as server:
        creds = server.create_merchant("dropped nonces")["vpay"]
        client = VpayClient(
            server.base_url, creds["app_id"], creds["secret_key"], clock=server.ctx.env.clock.time
        )
        signed = [
            client.sign_params({"merchant_order_id": f"D-{i}", "amount": 100, "channel": "QR_CODE"})
            for i in range(20)
        ]
        for params in signed:
            client.unwrap(client.http.post(client.base + "/orders/create", json=params))
        orders = server.ctx.store.read_sync(count_orders)
        for params in signed:
            with pytest.raises(VpayError) as replay:
                client.unwrap(client.http.post(client.base + "/orders/create", json=params))
            assert replay.value.code == "PAYMENT.DUPLICATE_REQUEST"
        with ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(
                    lambda _: client.http.post(
                        client.base + "/orders/create", json=signed[0]
                    ).json()["code"],
                    range(8),
                )
            )
        assert codes == ["PAYMENT.DUPLICATE_REQUEST"] * 8
        assert server.ctx.store.read_sync(count_orders) == orders == 20
        fresh = {"merchant_order_id": "D-new", "amount": 100, "channel": "QR_CODE"}
        created = client.http.post(client.base + "/orders/create", json=client.sign_params(fresh))
        client.unwrap(created)
        assert server.ctx.store.read_sync(count_orders) == 21


def count_orders(uow: UnitOfWork) -> int:
    return uow.conn.scalar(select(func.count()).select_from(t.orders))
