"""RFC 9457 problem+json: every error the API returns is shaped here, in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tocsin.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TocsinError,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)

PROBLEM_JSON = "application/problem+json"

_STATUS: list[tuple[type[TocsinError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (ValidationFailed, 422),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (Unavailable, 503),
]


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": 'Bearer realm="tocsin"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_for(exc: TocsinError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "severity") → "severity"; ("query", "limit") → "limit"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install(app: FastAPI) -> None:
    @app.exception_handler(TocsinError)
    async def _tocsin_error(_request: Request, exc: TocsinError) -> JSONResponse:
        errors = [{"field": exc.field, "message": exc.message}] if exc.field else None
        response = problem(status_for(exc), exc.title, exc.message, field=exc.field, errors=errors)
        if isinstance(exc, Unavailable):
            response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
        return problem(422, "Invalid input", detail, field=first["field"], errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))
