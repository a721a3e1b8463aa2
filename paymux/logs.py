"""Structured logging: one JSON line per request with its request id (vpay's debug_id)."""

from __future__ import annotations

import logging
import os
import sys

import structlog

log = structlog.get_logger("paymux")


class _Levels:
    """Whether INFO lines are written, decided once by `configure` rather than per request.

    Until `configure` runs, structlog's default logger writes every level, so
    request lines are on.
    """

    info = True


def configure(level: str | None = None) -> None:
    """JSON lines on stderr at `level`, by default `PAYMUX_LOG_LEVEL` (else INFO).

    Every process configures itself this way, `serve --workers N`'s workers too,
    so the operator's level holds in each of them.
    """
    level = level or os.environ.get("PAYMUX_LOG_LEVEL", "INFO")
    logging.basicConfig(stream=sys.stderr, level=level, format="%(message)s")
    threshold = logging.getLevelName(level)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    _Levels.info = threshold <= logging.INFO


def request_lines() -> bool:
    """Whether the per-request line is written: at WARNING and above it is not, and the
    request path then skips building it (timing, fields) altogether."""
    return _Levels.info
