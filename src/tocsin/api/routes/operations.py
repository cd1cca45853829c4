"""Liveness, readiness, metrics and the API docs page: unauthenticated by design
(they reveal nothing about incidents), so orchestrators and Prometheus can reach them."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from tocsin import __version__
from tocsin.api.deps import State
from tocsin.api.problems import problem

router = APIRouter(tags=["operations"])
DOCS_STATIC = "/api/v1/docs/static"


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", response_model=None)
def readyz(state: State) -> JSONResponse | dict[str, str]:
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason goes to the caller
        return problem(503, "Not ready", f"database unreachable: {type(exc).__name__}")
    return {"status": "ready"}


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/docs", response_class=HTMLResponse, include_in_schema=False)
def docs() -> HTMLResponse:
    # Swagger UI is served from the installed swagger-ui-bundle: nothing is
    # fetched from the internet at run time.
    return get_swagger_ui_html(
        openapi_url="/api/v1/openapi.json",
        title="Tocsin API",
        swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_STATIC}/favicon-32x32.png",
    )
