"""Rendering the templates users edit (incident messages, postmortems).

They run in Jinja2's sandbox: a template is data an admin typed into a form, and
must not reach Python attributes (`{{ ''.__class__ }}`) or loop forever on a
huge `range`. Unknown names are errors, not blanks: a typo in `{{ comander }}`
is caught when the template is saved or previewed, not discovered in a message
customers already read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

# Messages are plain text or Markdown, never HTML pages: no autoescaping, so "&" stays "&".
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
MAX_SOURCE = 20_000


class RenderError(ValueError):
    """Why a template cannot be used, with the line it points at when Jinja2 knows it."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def check(source: str) -> None:
    """Refuse a template that does not parse, before it is stored."""
    if len(source) > MAX_SOURCE:
        raise RenderError(f"a template is at most {MAX_SOURCE} characters")
    try:
        _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or "syntax error", exc.lineno) from None


def render(source: str, context: Mapping[str, Any]) -> str:
    check(source)
    try:
        return _ENV.from_string(source).render(dict(context))
    except UndefinedError as exc:
        raise RenderError(f"{exc.message}; the template may use {', '.join(sorted(context))}") from None
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or "syntax error", exc.lineno) from None
    except TemplateError as exc:  # the sandbox refusing an attribute, among others
        raise RenderError(str(exc)) from None
