"""The JSONPath subset behind generic webhook mappings."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.integrations.jsonpath import ALL, Match, PathError, Step, find, location, parse

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=25,
)
steps = st.lists(st.text(max_size=6) | st.integers(-(10**17), 10**17) | st.just(ALL), max_size=6).map(tuple)


def every_location(value: Any, where: tuple[Step, ...] = ()) -> list[tuple[tuple[Step, ...], Any]]:
    found = [(where, value)]
    if isinstance(value, list):
        for index, item in enumerate(value):
            found += every_location(item, (*where, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            found += every_location(item, (*where, key))
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$", ()),
        ("$.alerts[0].title", ("alerts", 0, "title")),
        ("$.alerts[*].labels", ("alerts", ALL, "labels")),
        ("$.*", (ALL,)),
        ("$['a.b'][\"*\"]", ("a.b", "*")),  # a quoted star is a name, not a wildcard
        ("$['it\\'s'][\"x y\"]", ("it's", "x y")),
        ("$.items[-1]", ("items", -1)),
        ("$.alert-name.x_1", ("alert-name", "x_1")),
    ],
)
def test_it_parses_names_indexes_wildcards_and_quoted_names(text: str, expected: tuple[Step, ...]) -> None:
    assert parse(text).steps == expected


@pytest.mark.parametrize(
    ("text", "position"),
    [("alerts.title", 0), ("$.", 2), ("$[", 2), ("$[x]", 2), ("$['a", 4), ("$.a b", 3), ("$[1", 3), ("$[1.5]", 3)],
)
def test_a_bad_path_says_where_it_goes_wrong(text: str, position: int) -> None:
    with pytest.raises(PathError) as raised:
        parse(text)
    assert raised.value.position == position
    assert repr(text) in str(raised.value)


def test_it_finds_values_with_the_place_it_found_them() -> None:
    document = {"alerts": [{"title": "a", "n": 1}, {"title": "b"}], "odd key": {"x": True}}
    assert find(parse("$.alerts[*].title"), document) == [
        Match("$.alerts[0].title", "a"),
        Match("$.alerts[1].title", "b"),
    ]
    assert find(parse("$.alerts[-1].title"), document) == [Match("$.alerts[1].title", "b")]
    assert find(parse("$['odd key'].x"), document) == [Match("$['odd key'].x", True)]
    assert find(parse("$.*.x"), document) == [Match("$['odd key'].x", True)]


@pytest.mark.parametrize(
    "text", ["$.missing", "$.alerts[5]", "$.alerts[-3]", "$.alerts.title", "$.alerts[0][0]", "$[0]"]
)
def test_a_step_that_does_not_fit_matches_nothing(text: str) -> None:
    assert find(parse(text), {"alerts": [{"title": "a"}, {"title": "b"}]}) == []


@given(json_values)
def test_every_value_is_found_at_its_own_location(document: Any) -> None:
    for where, value in every_location(document):
        assert find(parse(location(where)), document) == [Match(location(where), value)]


@given(steps)
def test_locations_parse_back_to_the_same_steps(path_steps: tuple[Step, ...]) -> None:
    assert parse(location(path_steps)).steps == path_steps


@given(st.text(max_size=30))
def test_any_text_parses_or_raises_a_path_error(text: str) -> None:
    try:
        path = parse(text)
    except PathError:
        return
    assert parse(location(path.steps)).steps == path.steps


@given(steps, json_values)
def test_finding_never_raises_whatever_the_document(path_steps: tuple[Step, ...], document: Any) -> None:
    path = parse(location(path_steps))
    for match in find(path, document):
        assert find(parse(match.location), document) == [match]
