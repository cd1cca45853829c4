"""What the settings pages share: paging their lists, rendering, and a service's refusal
shown next to the form field it names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response

from tocsin.api import problems
from tocsin.errors import TocsinError
from tocsin.web.auth import WebUser
from tocsin.web.templating import templates

PAGE_SIZE = 50
NAV = "/settings"
T = TypeVar("T")


@dataclass(frozen=True)
class Pager:
    """Where a list is (offset pages of PAGE_SIZE) and whether there are pages around it."""

    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def page_number(page: int) -> int:
    return max(1, min(page, 100_000))


def offset(page: int) -> int:
    return (page_number(page) - 1) * PAGE_SIZE


def paged(rows: Sequence[T], page: int) -> tuple[Sequence[T], Pager]:
    """Rows asked as PAGE_SIZE + 1: the extra one only says that a next page exists."""
    return rows[:PAGE_SIZE], Pager(page_number(page), len(rows) > PAGE_SIZE)


def render(request: Request, name: str, user: WebUser, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(
        request, name, {"user": user, "nav_active": NAV, **context}, status_code=status_code
    )


def form_errors(exc: TocsinError) -> tuple[int, dict[str, str]]:
    """A service's refusal as the status to answer and the message next to its field
    (under "form" when it names none)."""
    return problems.status_for(exc), {exc.field or "form": exc.message}
