"""Label matchers, as Alertmanager writes them: `name="value"`, `!=`, `=~` and `!~`.

Regular expressions are anchored, as in Alertmanager: `severity=~"crit.*"`
matches the whole value, never a part of it. A missing label reads as "".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


_MATCHER_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class MatcherError(ValueError):
    pass


@dataclass(frozen=True)
class Matcher:
    name: str
    type: MatchType
    value: str
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, type_: MatchType, value: str) -> Matcher:
        pattern = None
        if type_ in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                pattern = re.compile(f"(?:{value})")
            except re.error as exc:
                raise MatcherError(f"invalid regular expression {value!r}: {exc}") from None
        return cls(name, type_, value, pattern)

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.type == MatchType.EQUAL:
            return actual == self.value
        if self.type == MatchType.NOT_EQUAL:
            return actual != self.value
        assert self._pattern is not None
        found = self._pattern.fullmatch(actual) is not None
        return found if self.type == MatchType.REGEX else not found

    def __str__(self) -> str:
        return f'{self.name}{self.type.value}"{self.value}"'


def parse_matcher(text: str) -> Matcher:
    match = _MATCHER_RE.match(text)
    if match is None:
        raise MatcherError(f'{text!r} is not a matcher; write name="value", name!="value", name=~"re" or name!~"re"')
    name, op, raw = match.groups()
    value = raw
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        value = raw[1:-1]
    return Matcher.of(name, MatchType(op), value)


def parse_matchers(value: Any) -> tuple[Matcher, ...]:
    """A list of matcher strings, or a mapping of label → exact value."""
    if value is None:
        return ()
    if isinstance(value, dict):
        return tuple(Matcher.of(str(k), MatchType.EQUAL, str(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(parse_matcher(str(item)) for item in value)
    raise MatcherError("matchers must be a list of strings or a mapping of label to value")


def all_match(matchers: tuple[Matcher, ...], labels: dict[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
