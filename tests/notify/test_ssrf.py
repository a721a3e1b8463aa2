"""Where private targets are refused, the dispatcher refuses them too, after DNS as well."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from paymux.dialects.vpay.client import VpayError
from paymux.services.notifications import Outbound, enqueue
from paymux.store.uow import UnitOfWork
from tests.harness import BACKENDS, run_server
from tests.notify.conftest import new_merchant, show
from tests.notify.receiver import Receiver


@pytest.mark.parametrize("backend", BACKENDS)
def test_private_targets_are_refused_at_delivery(
    tmp_path: Path, backend: str, receiver: Receiver
) -> None:
    with run_server(tmp_path, backend, allow_private_notify_urls=False) as server:
        merchant = new_merchant(server)
        with pytest.raises(VpayError, match="private or loopback"):
            merchant.client.create_order("SSRF-1", 100, "QR_CODE", notify_url=receiver.url())

        # Rows whose URL got past the creation check: stored before the deployment
        # changed its policy, or a host name that only DNS reveals as private (this
        # machine's own name resolves to a loopback or private address).
        urls = {
            receiver.url(): "RefusedURL",  # a loopback literal
            f"http://127.1:{receiver.port}/ok": "InvalidUrlClientError",  # 127.0.0.1, spelled short
            f"http://{socket.gethostname()}:{receiver.port}/ok": "BlockedAddress",
        }

        def write(uow: UnitOfWork, url: str) -> int:
            return enqueue(
                uow,
                merchant_id=merchant.merchant_id,
                dialect="vpay",
                event="order.paid",
                ref="ssrf",
                message=Outbound(url=url, body=b"{}"),
            )

        ids = {url: server.ctx.store.write_sync(write, url) for url in urls}
        for url, error in urls.items():
            receiver.wait_for(lambda i=ids[url]: len(show(server, i)["attempt_log"]) == 1)
            view = show(server, ids[url])
            assert view["attempt_log"][0]["error"].startswith(error), view
            assert view["status"] == "PENDING"
        assert receiver.requests == []
