"""YAML → data with the line of every key and list item; no database."""

from __future__ import annotations

from textwrap import dedent

import pytest

from tocsin.config_file.errors import InvalidConfig, Issue
from tocsin.config_file.loader import MAX_NODES, Source, parse


def source(text: str) -> Source:
    return parse(dedent(text).lstrip("\n"), "tocsin.yaml")


def issues(text: str) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        source(text)
    return [issue.render("tocsin.yaml") for issue in caught.value.issues]


def test_it_remembers_the_line_of_every_key_and_list_item() -> None:
    loaded = source(
        """
        teams:
          - key: platform
            members:
              - alice@example.com
              - bob@example.com
          - {key: web, members: [carol@example.com]}
        """
    )
    assert loaded.data == {
        "teams": [
            {"key": "platform", "members": ["alice@example.com", "bob@example.com"]},
            {"key": "web", "members": ["carol@example.com"]},
        ]
    }
    assert loaded.lines[("teams",)] == 1
    assert loaded.lines[("teams", 0)] == 2
    assert loaded.lines[("teams", 0, "key")] == 2
    assert loaded.lines[("teams", 0, "members", 1)] == 5
    assert loaded.lines[("teams", 1, "members", 0)] == 6


def test_a_path_not_in_the_file_is_placed_on_its_nearest_written_ancestor() -> None:
    loaded = source(
        """
        services:
          - key: api

          - key: web
            name: Web
        """
    )
    # A missing field is reported where the mapping that lacks it starts.
    assert loaded.line_of(("services", 1, "team")) == 4
    assert loaded.line_of(("roles", 0)) == 1
    assert loaded.locate(Issue(("services", 0, "name"), "required")).line == 2


def test_scalars_are_read_as_yaml_types_by_the_safe_loader() -> None:
    loaded = source(
        """
        text: hello
        number: 30
        flag: true
        nothing: ~
        quoted: "5"
        """
    )
    assert loaded.data == {"text": "hello", "number": 30, "flag": True, "nothing": None, "quoted": "5"}


def test_an_empty_file_is_an_empty_document() -> None:
    assert parse("", "tocsin.yaml").data == {}
    assert parse("# only a comment\n", "tocsin.yaml").data == {}


def test_every_duplicate_key_is_an_error_naming_the_first_one() -> None:
    assert issues(
        """
        users:
          - email: alice@example.com
            name: Alice
            name: Alicia
        roles: []
        roles: []
        """
    ) == [
        "tocsin.yaml:4: users[0].name: duplicate key 'name' (first at line 3)",
        "tocsin.yaml:6: roles: duplicate key 'roles' (first at line 5)",
    ]


def test_a_syntax_error_names_its_line() -> None:
    [message] = issues(
        """
        users:
          - email: alice@example.com
           name: Alice
        """
    )
    assert message.startswith("tocsin.yaml:3: ")


def test_an_unclosed_flow_mapping_is_reported() -> None:
    [message] = issues(
        """
        roles:
          - {key: commander, name: IC
        services: []
        """
    )
    assert message.startswith("tocsin.yaml:")
    assert "flow mapping" in message


def test_python_object_tags_are_refused() -> None:
    assert issues(
        """
        roles: !!python/object:os.system {}
        users:
          - email: !env ALICE
        """
    ) == [
        "tocsin.yaml:1: roles: unsupported tag 'tag:yaml.org,2002:python/object:os.system'",
        "tocsin.yaml:3: users[0].email: unsupported tag '!env'",
    ]


def test_merge_keys_fill_in_what_is_not_written_and_keep_the_anchor_lines() -> None:
    loaded = source(
        """
        x-defaults: &defaults
          role: responder
          time_zone: Europe/Berlin
        users:
          - email: bob@example.com
            <<: *defaults
            time_zone: UTC
        """
    )
    assert loaded.data["users"] == [{"email": "bob@example.com", "role": "responder", "time_zone": "UTC"}]
    assert loaded.lines[("users", 0, "time_zone")] == 7
    assert loaded.lines[("users", 0, "role")] == 2


def test_a_key_that_yaml_reads_as_a_boolean_must_be_quoted() -> None:
    assert issues("on: 1\n") == ["tocsin.yaml:1: key 'on' is read as bool; quote it"]


def test_an_alias_cycle_is_refused() -> None:
    [message] = issues(
        """
        roles: &loop
          - *loop
        """
    )
    assert message == "tocsin.yaml:1: roles[0]: an alias refers to a value that contains it"


def test_aliases_cannot_expand_a_small_file_without_bound() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 7):  # 10**6 values once expanded
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    [message] = issues("\n".join(lines) + "\n")
    assert f"more than {MAX_NODES} values" in message
