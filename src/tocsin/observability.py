"""Logs (structlog, JSON by default) and Prometheus metrics."""

from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("tocsin_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram("tocsin_http_request_seconds", "HTTP request latency", ["method", "route"])
ENGINE_CYCLES = Counter("tocsin_engine_cycles_total", "Engine cycles run")
ENGINE_WORK = Counter("tocsin_engine_items_total", "Items handled by engine modules", ["module"])
ENGINE_ERRORS = Counter("tocsin_engine_errors_total", "Engine module failures", ["module"])
INCIDENTS_DECLARED = Counter("tocsin_incidents_declared_total", "Incidents declared", ["severity"])


def configure_logging(*, json: bool = True, level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=numeric, force=True)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
