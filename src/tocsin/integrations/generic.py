"""Any JSON webhook, turned into signals by the JSON paths of the integration's `settings.mapping`.

    summary              required: the alert's one line of text
    dedup_key            default: a hash of the labels and the summary
    severity, source     as the sender says them
    status               without it, every alert triggers
    resolved_values      status values that resolve; default resolved, ok, closed (any case)
    acknowledged_values  status values that acknowledge; default acknowledged
    labels               a path to an object of labels, or {label name: path}
    alerts               where one body carries several alerts (`$.alerts[*]`): each match
                         is one alert, and the paths above are read from it, `$` being the alert

Every mapped path must find its value: a body that lacks one is refused, naming
where it looked, rather than raising an alert that says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic_core

from tocsin.domain.alerts import MAX_DEDUP_KEY, Action, Signal, derived_dedup_key
from tocsin.integrations import jsonpath
from tocsin.integrations.errors import BadPayload

DEFAULT_RESOLVED = ("resolved", "ok", "closed")
DEFAULT_ACKNOWLEDGED = ("acknowledged",)
_PATHS = ("summary", "dedup_key", "severity", "source", "status", "alerts")
_KEYS = {*_PATHS, "labels", "resolved_values", "acknowledged_values"}
MAX_ALERTS = 1000


class MappingError(Exception):
    """The integration's mapping is wrong: no body could be read with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Mapping:
    summary: jsonpath.Path
    dedup_key: jsonpath.Path | None = None
    severity: jsonpath.Path | None = None
    source: jsonpath.Path | None = None
    status: jsonpath.Path | None = None
    resolved_values: frozenset[str] = frozenset(DEFAULT_RESOLVED)
    acknowledged_values: frozenset[str] = frozenset(DEFAULT_ACKNOWLEDGED)
    labels: jsonpath.Path | dict[str, jsonpath.Path] | None = None
    alerts: jsonpath.Path | None = None

    @classmethod
    def of(cls, mapping: Any) -> Mapping:
        if not isinstance(mapping, dict):
            raise MappingError("mapping", "must be an object of JSON paths, with at least summary")
        unknown = sorted(set(mapping) - _KEYS)
        if unknown:
            raise MappingError(f"mapping.{unknown[0]}", f"unknown key; expected some of {', '.join(sorted(_KEYS))}")
        if "summary" not in mapping:
            raise MappingError("mapping.summary", "is required")
        paths = {name: _path(f"mapping.{name}", mapping[name]) for name in _PATHS if name in mapping}
        labels: jsonpath.Path | dict[str, jsonpath.Path] | None = None
        raw_labels = mapping.get("labels")
        if isinstance(raw_labels, dict):
            labels = {str(name): _path(f"mapping.labels.{name}", path) for name, path in raw_labels.items()}
        elif raw_labels is not None:
            labels = _path("mapping.labels", raw_labels)
        return cls(
            **paths,
            labels=labels,
            resolved_values=_values("resolved_values", mapping.get("resolved_values", DEFAULT_RESOLVED)),
            acknowledged_values=_values(
                "acknowledged_values", mapping.get("acknowledged_values", DEFAULT_ACKNOWLEDGED)
            ),
        )


def _path(field: str, text: Any) -> jsonpath.Path:
    if not isinstance(text, str):
        raise MappingError(field, "must be a JSON path such as $.title")
    try:
        return jsonpath.parse(text)
    except jsonpath.PathError as exc:
        raise MappingError(field, str(exc)) from None


def _values(name: str, values: Any) -> frozenset[str]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str | int | bool) for v in values):
        raise MappingError(f"mapping.{name}", "must be a list of values")
    return frozenset(_word(v) for v in values)


def _word(value: str | int | float | bool) -> str:
    if isinstance(value, bool):  # JSON's spelling, not Python's
        return "true" if value else "false"
    return str(value).strip().lower()


def parse(body: bytes, mapping: Mapping) -> list[Signal]:
    try:
        # NaN and Infinity are not JSON, and a database's JSON column refuses them.
        document = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise BadPayload([("", f"malformed JSON: {exc}")]) from None
    if mapping.alerts is None:
        return [_signal(jsonpath.Match("$", document), mapping, body)]
    items = jsonpath.find(mapping.alerts, document)
    if not items and not (mapping.alerts.steps and jsonpath.find(mapping.alerts.parent, document)):
        # `$.alerts[*]` on an empty list is a body with no alerts; on no list at all, a mistake.
        raise BadPayload([(str(mapping.alerts), "not found (mapping.alerts)")])
    if len(items) == 1 and isinstance(items[0].value, list):  # `$.alerts` where `$.alerts[*]` was meant
        items = [jsonpath.Match(f"{items[0].location}[{n}]", v) for n, v in enumerate(items[0].value)]
    if len(items) > MAX_ALERTS:
        raise BadPayload([(str(mapping.alerts), f"a body holds at most {MAX_ALERTS} alerts")])
    # Each alert keeps its own part of the body as its raw payload, as Alertmanager's do.
    return [_signal(item, mapping, pydantic_core.to_json(item.value)) for item in items]


def _signal(item: jsonpath.Match, mapping: Mapping, raw: bytes) -> Signal:
    reader = _Reader(item)
    summary = reader.text("summary", mapping.summary)
    if not summary.strip():
        raise BadPayload([(reader.where(mapping.summary), "is empty (mapping.summary)")])
    labels = reader.labels(mapping.labels)
    action = Action.TRIGGER
    if mapping.status is not None:
        status = _word(reader.text("status", mapping.status))
        if status in mapping.resolved_values:
            action = Action.RESOLVE
        elif status in mapping.acknowledged_values:
            action = Action.ACKNOWLEDGE
    if mapping.dedup_key is not None:
        dedup_key = reader.text("dedup_key", mapping.dedup_key)
        if not dedup_key or len(dedup_key) > MAX_DEDUP_KEY:
            raise BadPayload(
                [(reader.where(mapping.dedup_key), f"must be 1 to {MAX_DEDUP_KEY} characters (mapping.dedup_key)")]
            )
    else:
        dedup_key = derived_dedup_key(labels, summary)
    return Signal(
        action=action,
        dedup_key=dedup_key,
        summary=summary[:1024],
        source=reader.text("source", mapping.source)[:255] if mapping.source else "",
        severity=reader.text("severity", mapping.severity)[:50] if mapping.severity else "",
        labels=labels,
        details=item.value if isinstance(item.value, dict) else {"value": item.value},
        raw=raw,
    )


class _Reader:
    """Values of one alert, each refused with the path it was looked for at."""

    def __init__(self, item: jsonpath.Match) -> None:
        self._item = item

    def where(self, path: jsonpath.Path) -> str:
        # Under mapping.alerts, name the place in the whole body: $.alerts[2].title, not $.title.
        return self._item.location + jsonpath.location(path.steps)[1:]

    def one(self, name: str, path: jsonpath.Path) -> Any:
        matches = jsonpath.find(path, self._item.value)
        if not matches:
            raise BadPayload([(self.where(path), f"not found (mapping.{name})")])
        if len(matches) > 1:
            raise BadPayload([(self.where(path), f"found {len(matches)} values, expected one (mapping.{name})")])
        return matches[0].value

    def text(self, name: str, path: jsonpath.Path) -> str:
        value = self.one(name, path)
        if isinstance(value, dict | list) or value is None:
            kind = "null" if value is None else "an object" if isinstance(value, dict) else "a list"
            raise BadPayload([(self.where(path), f"expected text or a number, found {kind} (mapping.{name})")])
        text = _word(value) if isinstance(value, bool) else str(value)
        if "\x00" in text:  # PostgreSQL text cannot hold NUL
            raise BadPayload([(self.where(path), f"must not contain NUL characters (mapping.{name})")])
        return text

    def labels(self, spec: jsonpath.Path | dict[str, jsonpath.Path] | None) -> dict[str, str]:
        if spec is None:
            return {}
        if isinstance(spec, dict):
            return {name: self.text(f"labels.{name}", path) for name, path in spec.items()}
        found = self.one("labels", spec)
        if not isinstance(found, dict):
            raise BadPayload([(self.where(spec), "expected an object of labels (mapping.labels)")])
        return {str(k): _label(v) for k, v in found.items() if v is not None}


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return _word(value)
    if isinstance(value, str | int | float):
        return str(value)
    return pydantic_core.to_json(value).decode()
