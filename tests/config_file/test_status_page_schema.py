"""The `status_page` section's shape and checks: every error names file, line and field; no database."""

from __future__ import annotations

from textwrap import dedent

import pytest

from tocsin.config_file import InvalidConfig, load
from tocsin.config_file.status_page import __doc__ as SECTION_DOC


def errors(text: str) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        load(dedent(text).lstrip("\n"), "tocsin.yaml")
    return [issue.render("tocsin.yaml") for issue in caught.value.issues]


def test_the_modules_example_is_valid() -> None:
    assert SECTION_DOC is not None
    example = SECTION_DOC.split("\n\n")[1]
    document = load(dedent(example), "example").document
    assert document.status_page is not None
    assert document.status_page.name == "Acme status"
    assert [(c.key, c.group, c.services) for c in document.status_page.components or []] == [
        ("api", "platform", ["api"]),
        ("docs", None, []),
    ]


def test_wrong_fields_are_named_with_their_lines() -> None:
    found = errors(
        """
        status_page:
          time_zone: Mars/Olympus
          components:
            - {key: Not a key, name: X}
        """
    )
    assert found[0].startswith("tocsin.yaml:2: status_page.time_zone: unknown time zone")
    assert found[1].startswith("tocsin.yaml:4: status_page.components[0].key: 'Not a key' is not a valid key")


def test_urls_keys_and_groups_are_checked_across_the_section() -> None:
    found = errors(
        """
        status_page:
          url: status.acme.example
          groups:
            - {key: platform, name: Platform}
          components:
            - {key: api, name: API, group: nowhere}
            - {key: api, name: Again}
        """
    )
    assert found == [
        "tocsin.yaml:2: status_page.url: url must start with http:// or https://",
        "tocsin.yaml:6: status_page.components[0].group: no group 'nowhere' in groups",
        "tocsin.yaml:7: status_page.components[1].key: 'api' is declared twice",
    ]
