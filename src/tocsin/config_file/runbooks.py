"""The `runbooks` section of `tocsin.yaml`: the checklists incidents get, by service and severity.

    runbooks:
      - key: api-outage
        name: Public API outage
        services: [api]              # or all (the default)
        severities: [P0, P1]         # or all (the default)
        links:
          - title: API runbook
            url: https://wiki.example.com/api
        phases:
          - name: Triage
            time_frame: first 5 minutes
            items:
              - text: Check the API dashboard
                role: scribe         # a role key: who ticks it
              - Page the database on-call   # an item without a role, in short

A runbook is identified by its key; `default` is the one shipped with Tocsin,
which incidents get when no runbook fits, and cannot be declared here. The
shape is checked with the domain's own rules (`domain.runbooks.problems`);
services and severities are references, checked against the database by
`tocsin apply`, and so are roles unless the file declares `roles`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from tocsin.config_file.errors import Issue, Path
from tocsin.config_file.fields import Key, LevelName, RoleKey, _Spec
from tocsin.domain import runbooks as domain


def _item(value: object) -> object:
    return {"text": value} if isinstance(value, str) else value


class Item(_Spec):
    text: Annotated[str, Field(min_length=1, max_length=domain.TEXT_MAX)]
    role: RoleKey | None = None


class Phase(_Spec):
    name: Annotated[str, Field(min_length=1, max_length=domain.NAME_MAX)]
    time_frame: Annotated[str, Field(max_length=domain.NAME_MAX)] = ""
    items: list[Annotated[Item, BeforeValidator(_item)]] = Field(default_factory=list)


class Link(_Spec):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    url: Annotated[str, Field(min_length=1, max_length=2000)]


class Runbook(_Spec):
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    services: list[Key] | Literal["all"] = "all"
    severities: list[LevelName] | Literal["all"] = "all"
    links: list[Link] = Field(default_factory=list)
    phases: list[Phase]

    @property
    def runbook(self) -> domain.Runbook:
        return domain.Runbook(
            key=self.key,
            name=self.name,
            services=None if self.services == "all" else frozenset(self.services),
            severities=None if self.severities == "all" else frozenset(self.severities),
            links=tuple(domain.Link(link.title, link.url) for link in self.links),
            phases=tuple(
                domain.Phase(p.name, tuple(domain.Item(i.text, i.role) for i in p.items), p.time_frame)
                for p in self.phases
            ),
        )


def check_runbook(base: Path, spec: Runbook) -> list[Issue]:
    if spec.key == domain.DEFAULT_KEY:
        return [Issue((*base, "key"), "'default' is the runbook shipped with Tocsin; give yours another key")]
    return [Issue((*base, *path), message) for path, message in domain.problems(spec.runbook)]


def references(runbooks: Sequence[Runbook]) -> Iterator[tuple[Path, Literal["service", "severity"], str]]:
    """(path, kind, key) of every service and severity the runbooks name."""
    for index, spec in enumerate(runbooks):
        if spec.services != "all":
            for position, key in enumerate(spec.services):
                yield ("runbooks", index, "services", position), "service", key
        if spec.severities != "all":
            for position, name in enumerate(spec.severities):
                yield ("runbooks", index, "severities", position), "severity", name
