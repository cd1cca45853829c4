"""Config as code: read and check `tocsin.yaml` without touching the database.

    text ──loader.parse──► plain data + the line of every path
         ──schema.validate──► Document (pydantic; unknown fields are errors)

Every problem is an `Issue` with a path; `Config.locate` adds the line, so the
CLI prints `tocsin.yaml:14: services[2].team: unknown team 'payments'`. The
database side (`tocsin apply`) lives in `tocsin.services.config_apply`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tocsin.config_file import schema
from tocsin.config_file.errors import InvalidConfig, Issue, Path, format_path
from tocsin.config_file.loader import Source, parse
from tocsin.config_file.schema import Document

__all__ = ["Config", "Document", "InvalidConfig", "Issue", "Path", "format_path", "load"]


@dataclass(frozen=True)
class Config:
    document: Document
    source: Source

    @property
    def filename(self) -> str:
        return self.source.filename

    def locate(self, issues: Iterable[Issue]) -> list[Issue]:
        return sorted((self.source.locate(issue) for issue in issues), key=lambda issue: issue.line or 0)

    def render(self, issues: Iterable[Issue]) -> list[str]:
        """`file:line: field: message`, one per issue, in file order."""
        return [issue.render(self.filename) for issue in self.locate(issues)]


def load(text: str, filename: str = "tocsin.yaml") -> Config:
    """Parse and validate; raises InvalidConfig whose issues already carry their lines."""
    source = parse(text, filename)
    try:
        document = schema.validate(source.data)
    except InvalidConfig as exc:
        raise InvalidConfig([source.locate(issue) for issue in exc.issues]) from None
    return Config(document, source)
