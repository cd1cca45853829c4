"""Paginated lists on the pages: 50 rows a page by limit and offset, and the links to the
pages before and after that keep the list's filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request

PAGE_SIZE = 50
# Deep offsets are slow and nobody pages that far: a filter finds it faster.
MAX_OFFSET = 100_000

T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    """One page of rows; `previous`/`next` are links (None at either end)."""

    rows: Sequence[T]
    offset: int
    previous: str | None
    next: str | None


def offset_of(value: int | None) -> int:
    return min(max(value or 0, 0), MAX_OFFSET)


def page(request: Request, rows: Sequence[T], offset: int, size: int = PAGE_SIZE) -> Listing[T]:
    """`rows` as fetched with a limit of `size + 1`: the extra row says a next page exists."""
    more = len(rows) > size

    def link(at: int) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "offset" and v != ""]
        if at:
            params.append(("offset", str(at)))
        return request.url.path + ("?" + urlencode(params) if params else "")

    return Listing(
        rows=rows[:size],
        offset=offset,
        previous=link(max(offset - size, 0)) if offset > 0 else None,
        next=link(offset + size) if more else None,
    )
