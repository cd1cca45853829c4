"""What is wrong with a config file, and where.

An `Issue` names a place in the document by its path (`("services", 2, "team")`)
and, once located against the parsed file, by its line. Every layer that finds
a problem (the YAML loader, the schema, `tocsin apply` checking references
against the database) reports paths; the CLI turns them into
`tocsin.yaml:14: services[2].team: unknown team 'payments'`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeAlias

from tocsin.errors import ValidationFailed

Path: TypeAlias = tuple[str | int, ...]


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(frozen=True)
class Issue:
    path: Path
    message: str
    # 1-based; None until the issue is located against the file it came from.
    line: int | None = None

    @property
    def field(self) -> str:
        return format_path(self.path)

    def at(self, line: int) -> Issue:
        return replace(self, line=line)

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line is not None else filename
        return f"{where}: {self.field}: {self.message}" if self.path else f"{where}: {self.message}"


class InvalidConfig(ValidationFailed):
    """One or more issues; all of them, so a user fixes a file in one pass."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        if not issues:
            raise ValueError("InvalidConfig needs at least one issue")
        # File order once located; until then, the order they were found in (the document's).
        ordered = sorted(issues, key=lambda issue: issue.line or 0)
        super().__init__(
            "; ".join(f"{i.field}: {i.message}" if i.path else i.message for i in ordered),
            field=ordered[0].field or None,
        )
        self.issues: tuple[Issue, ...] = tuple(ordered)
