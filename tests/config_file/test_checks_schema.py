"""The `checks` section's shape and checks: every error names file, line and field; no database."""

from __future__ import annotations

from datetime import timedelta
from textwrap import dedent

import pytest

from tocsin.config_file import Config, InvalidConfig, load
from tocsin.config_file.checks import __doc__ as SECTION_DOC


def config(text: str) -> Config:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml")


def errors(text: str) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        config(text)
    return [issue.render("tocsin.yaml") for issue in caught.value.issues]


def test_the_modules_example_is_valid() -> None:
    assert SECTION_DOC is not None
    example = SECTION_DOC.split("\n\n")[1]
    document = load(dedent(example), "example").document
    found = [(c.name, c.kind, c.interval) for c in document.checks or []]
    assert found == [
        ("api-health", "http", timedelta(minutes=1)),
        ("db-port", "tcp", timedelta(minutes=1)),
        ("api-dns", "dns", timedelta(minutes=1)),
        ("api-cert", "tls", timedelta(minutes=1)),
    ]
    assert (document.checks or [])[0].remind_every == timedelta(hours=1)


def test_a_wrong_field_inside_the_probe_is_named_with_its_line() -> None:
    found = errors(
        """
        checks:
          - name: api-health
            service: api
            http:
              url: localhost/healthz
          - name: db
            service: api
            tcp: {host: db.internal, port: 99999}
          - name: both
            service: api
            tcp: {host: db.internal, port: 5432}
            dns: {name: db.internal}
          - name: slow
            service: api
            http: {url: "https://x.test", conditions: ["$.ok ~ 1"]}
            interval: 5s
        """
    )
    assert found[0].startswith("tocsin.yaml:5: checks[0].http.url: give an http:// or https:// URL")
    assert found[1].startswith("tocsin.yaml:8: checks[1].tcp.port: the port must be between 1 and 65535")
    assert found[2].startswith("tocsin.yaml:12: checks[2].dns: give one of http, tcp, dns or tls")
    assert any(e.startswith("tocsin.yaml:15: checks[3].http.conditions:") for e in found)
    assert any(e.startswith("tocsin.yaml:16: checks[3].interval: the interval must be between 10 s") for e in found)


def test_names_are_unique_and_a_probe_is_required() -> None:
    found = errors(
        """
        checks:
          - {name: a, service: api, tcp: {host: x, port: 1}}
          - {name: a, service: api, tcp: {host: y, port: 2}}
          - {name: b, service: api}
        """
    )
    assert any("checks[1].name: check 'a' is declared twice" in e for e in found)
    assert any("checks[2]: give one of http, tcp, dns or tls" in e for e in found)
