"""`paymux worker`: a dispatcher process of its own (scale mode), stopped by SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

from prometheus_client import start_http_server

from paymux.logs import log
from paymux.notify.config import NotifyConfig
from paymux.notify.dispatcher import Dispatcher

if TYPE_CHECKING:
    from paymux.context import Context


async def run_worker(ctx: Context, config: NotifyConfig, *, metrics_port: int = 0) -> None:
    """Deliver and run timed jobs until signalled; in-flight attempts finish before exit."""
    dispatcher = Dispatcher(ctx, config)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    if metrics_port:
        start_http_server(metrics_port, registry=dispatcher.metrics.registry)
    await dispatcher.start()
    log.info(
        "worker_started",
        dialects=sorted(ctx.env.notifiers),
        concurrency=config.concurrency,
        jobs=dispatcher.job_names,
    )
    await stopped.wait()
    await dispatcher.stop()
    log.info("worker_stopped", delivered=dispatcher.metrics.delivered())
