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
INGEST_SIGNALS = Counter("tocsin_ingest_signals_total", "Signals committed by the ingest writer")
INGEST_BATCHES = Counter("tocsin_ingest_batches_total", "Group commits of the ingest writer")
INGEST_REJECTED = Counter("tocsin_ingest_rejected_total", "Ingest requests refused", ["reason"])
INCIDENTS_DECLARED = Counter("tocsin_incidents_declared_total", "Incidents declared", ["severity"])
GITHUB_DELIVERIES = Counter(
    "tocsin_github_deliveries_total", "GitHub webhook deliveries accepted", ["event", "outcome"]
)


def configure_logging(*, json: bool = True, level: str = "info") -> None:
    """Route structlog and the standard library (uvicorn, alembic) through one renderer,
    so every line on stderr is JSON when JSON is asked for."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Alembic narrates every connection at INFO; only its warnings matter at run time.
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
