"""The `status_page` section of `tocsin.yaml`: the public status page.

    status_page:
      name: Acme status               # the page's title
      description: Live status of Acme's services
      url: https://status.acme.example   # its public address (default <TOCSIN_PUBLIC_URL>/status)
      time_zone: Europe/Paris
      groups:
        - key: platform
          name: Platform
      components:                     # in page order
        - key: api
          name: API
          description: The public REST API
          group: platform
          services: [api]             # an open incident on one affects it
          checks: [api-health]        # one of these checks down affects it
        - key: docs
          name: Documentation

Groups and components are identified by key and placed in the order written.
Services and checks are references, checked against the file and the database
by `tocsin apply`. A component's manual status is not configuration: it is set
(and cleared) through the API or `tocsin status-page component set-status`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tocsin.config_file.errors import Issue, Path
from tocsin.config_file.fields import Description, Key, Name, TimeZone, _Spec


class Group(_Spec):
    key: Key
    name: Name
    description: Description = ""


class Component(_Spec):
    key: Key
    name: Name
    description: Description = ""
    group: Key | None = None
    services: Annotated[list[Key], Field(max_length=100)] = []
    checks: Annotated[list[Key], Field(max_length=100)] = []


class StatusPage(_Spec):
    name: Name | None = None
    description: Description | None = None
    url: Annotated[str, Field(max_length=500)] | None = None
    time_zone: TimeZone | None = None
    groups: list[Group] | None = None
    components: list[Component] | None = None


def check_status_page(base: Path, spec: StatusPage) -> list[Issue]:
    issues = []
    if spec.name is not None and not spec.name.strip():
        issues.append(Issue((*base, "name"), "the page needs a name"))
    if spec.url and not spec.url.startswith(("http://", "https://")):
        issues.append(Issue((*base, "url"), "url must start with http:// or https://"))
    for section, keys in (
        ("groups", [group.key for group in spec.groups or ()]),
        ("components", [component.key for component in spec.components or ()]),
    ):
        seen: set[str] = set()
        for index, key in enumerate(keys):
            if key in seen:
                issues.append(Issue((*base, section, index, "key"), f"{key!r} is declared twice"))
            seen.add(key)
    groups = {group.key for group in spec.groups or ()}
    for index, component in enumerate(spec.components or ()):
        if component.group is not None and spec.groups is not None and component.group not in groups:
            issues.append(Issue((*base, "components", index, "group"), f"no group {component.group!r} in groups"))
    return issues
