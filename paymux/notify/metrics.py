"""Prometheus metrics of the outbox: deliveries, attempt latency, due-queue depth and age.

Each dispatcher has its own registry (tests run many servers in one process).
The queue gauges are read from the database at scrape time, so they describe
the whole deployment, while the counters describe this process's deliveries.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio.to_thread
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from paymux.notify import outbox
from paymux.store.engine import Store

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class QueueCollector(Collector):
    """Due-queue depth and the age of its oldest row, computed per scrape."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families(0, 0.0)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth, oldest = self._store.read_sync(outbox.queue_stats)
        age = 0.0
        if oldest is not None:
            age = max(0.0, (self._store.env.clock.now() - oldest).total_seconds())
        yield from self._families(depth, age)

    @staticmethod
    def _families(depth: int, age: float) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "paymux_notify_due", "Notifications due now and not yet delivered.", value=depth
        )
        yield GaugeMetricFamily(
            "paymux_notify_oldest_due_seconds",
            "How long the oldest due notification has been waiting.",
            value=age,
        )


class NotifyMetrics:
    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self._deliveries = Counter(
            "paymux_notify_deliveries",
            "Delivery attempts by dialect and outcome (delivered, failed, exhausted, superseded).",
            ["dialect", "outcome"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "paymux_notify_delivery_seconds",
            "Time of one delivery attempt, connect to acknowledgement.",
            ["dialect"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._jobs = Counter(
            "paymux_jobs_runs",
            "Timed job runs by job and result (ok, error).",
            ["job", "result"],
            registry=self.registry,
        )
        self.registry.register(QueueCollector(store))

    def delivery(self, dialect: str, outcome: str, seconds: float) -> None:
        self._deliveries.labels(dialect, outcome).inc()
        self._latency.labels(dialect).observe(seconds)

    def delivered(self) -> int:
        """Notifications this process delivered (all dialects), for the worker's exit line."""
        return int(
            sum(
                sample.value
                for metric in self._deliveries.collect()
                for sample in metric.samples
                if sample.name.endswith("_total") and sample.labels["outcome"] == "delivered"
            )
        )

    def job(self, name: str, result: str) -> None:
        self._jobs.labels(name, result).inc()

    async def render(self) -> bytes:
        """The exposition text; in a thread, because the queue gauges query the database."""
        return await anyio.to_thread.run_sync(generate_latest, self.registry)
