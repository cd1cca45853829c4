"""The one error a format adapter raises."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class BadPayload(Exception):
    """The body cannot be turned into signals; `errors` name each field that is wrong."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" if field else message for field, message in errors))
        self.errors = errors

    @property
    def field(self) -> str | None:
        return self.errors[0][0] or None if self.errors else None

    @classmethod
    def from_validation(cls, exc: ValidationError) -> BadPayload:
        return cls([(_path(e["loc"]), _message(e)) for e in exc.errors(include_url=False)])


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(error: Any) -> str:
    if error["type"] == "json_invalid":
        return f"malformed JSON: {error.get('ctx', {}).get('error', error['msg'])}"
    return str(error["msg"])


def reject_nul(body: bytes) -> None:
    """JSON can smuggle NUL in as \\u0000; PostgreSQL text cannot hold it."""
    if b"\\u0000" in body:
        raise BadPayload([("", "text must not contain NUL characters (\\u0000)")])
