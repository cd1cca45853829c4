"""The small part of JSONPath (RFC 9535) that a webhook field mapping needs.

    $              the document
    .name ['name'] a member of an object; quoted, a name may hold any character
    [2] [-1]       an element of an array; negative counts from the end
    [*] .*         every element of an array, or every member of an object

Filters, slices, recursive descent and functions are left out on purpose: a
mapping points at fields, it does not query. A step that does not fit the
value (a name on an array, an index past the end) matches nothing, never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any


class _All(Enum):
    ALL = "*"


ALL = _All.ALL
Step = str | int | _All

_NAME = re.compile(r"[^.\[\]'\"*\s]+")
_INDEX = re.compile(r"-?[0-9]{1,18}")  # longer numbers cannot index anything real
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


class PathError(ValueError):
    def __init__(self, text: str, position: int, reason: str) -> None:
        super().__init__(f"{reason} at character {position + 1} of {text!r}")
        self.position = position


@dataclass(frozen=True)
class Path:
    text: str
    steps: tuple[Step, ...]

    @property
    def parent(self) -> Path:
        steps = self.steps[:-1]
        return Path(location(steps), steps)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Match:
    location: str  # normalized, e.g. $.alerts[2].title: where the value was found
    value: Any


def parse(text: str) -> Path:
    if not text.startswith("$"):
        raise PathError(text, 0, "a path starts with '$'")
    steps: list[Step] = []
    at = 1
    while at < len(text):
        if text[at] == ".":
            at += 1
            if text.startswith("*", at):
                steps.append(ALL)
                at += 1
                continue
            name = _NAME.match(text, at)
            if name is None:
                raise PathError(text, at, "expected a member name after '.'")
            steps.append(name.group())
            at = name.end()
        elif text[at] == "[":
            at += 1
            if text.startswith("*]", at):
                steps.append(ALL)
                at += 2
                continue
            if text[at : at + 1] in ("'", '"'):
                quoted, at = _quoted(text, at)
                steps.append(quoted)
            else:
                index = _INDEX.match(text, at)
                if index is None:
                    raise PathError(text, at, "expected an index, '*' or a quoted name after '['")
                steps.append(int(index.group()))
                at = index.end()
            if not text.startswith("]", at):
                raise PathError(text, at, "expected ']'")
            at += 1
        else:
            raise PathError(text, at, f"unexpected {text[at]!r}")
    return Path(text, tuple(steps))


def _quoted(text: str, at: int) -> tuple[str, int]:
    quote, at = text[at], at + 1
    out: list[str] = []
    while at < len(text):
        char = text[at]
        if char == "\\" and at + 1 < len(text):
            out.append(text[at + 1])
            at += 2
        elif char == quote:
            return "".join(out), at + 1
        else:
            out.append(char)
            at += 1
    raise PathError(text, at, "unterminated quoted name")


def location(steps: tuple[Step, ...]) -> str:
    """The normalized text of a path: `parse(location(steps)).steps == steps`."""
    out = "$"
    for step in steps:
        if step is ALL:
            out += "[*]"
        elif isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN.fullmatch(step):
            out += f".{step}"
        else:
            escaped = step.replace("\\", "\\\\").replace("'", "\\'")
            out += f"['{escaped}']"
    return out


def find(path: Path, document: Any) -> list[Match]:
    """Every value the path selects, in document order, with where each was found."""
    found: list[tuple[tuple[Step, ...], Any]] = [((), document)]
    for step in path.steps:
        following: list[tuple[tuple[Step, ...], Any]] = []
        for where, value in found:
            if step is ALL:
                if isinstance(value, list):
                    following.extend(((*where, n), item) for n, item in enumerate(value))
                elif isinstance(value, dict):
                    following.extend(((*where, str(key)), item) for key, item in value.items())
            elif isinstance(step, int):
                if isinstance(value, list) and -len(value) <= step < len(value):
                    index = step % len(value)
                    following.append(((*where, index), value[index]))
            elif isinstance(value, dict) and step in value:
                following.append(((*where, step), value[step]))
        found = following
    return [Match(location(where), value) for where, value in found]
