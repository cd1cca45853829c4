"""The shipped message templates: each renders from the sample incident and uses only known names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.domain.message_templates import KINDS, TemplateKind, check_names, context, duration, sample
from tocsin.domain.rendering import RenderError, render

NOW = datetime(2026, 11, 23, 9, 40, tzinfo=UTC)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.key)
def test_every_shipped_template_renders_from_the_sample_incident(kind: TemplateKind) -> None:
    check_names(kind.default)
    text = render(kind.default, context(sample(NOW), NOW))
    assert text.strip()
    assert "None" not in text


def test_the_customer_notice_names_the_services_impact_and_next_update() -> None:
    text = render(next(k for k in KINDS if k.key == "customer_notice").default, context(sample(NOW), NOW))
    assert text == (
        "We are investigating an issue affecting Checkout, Public API.\n"
        "About a third of checkout attempts fail with an error.\n"
        "Our team is working on it and we will post another update by 10:00 UTC.\n"
    )


def test_an_unknown_name_is_refused_on_any_branch_with_its_line() -> None:
    with pytest.raises(RenderError) as refused:
        check_names("{{ title }}\n\n{% if resolved %}{{ rootcause }}{% endif %}")
    assert refused.value.line == 3
    assert "unknown name 'rootcause'" in str(refused.value)
    check_names("{% set who = commander or 'nobody' %}{{ who }}{% for s in [services] %}{{ s }}{% endfor %}")


def test_durations_read_at_a_glance() -> None:
    assert [duration(timedelta(minutes=m)) for m in (0, 45, 60, 80, 24 * 60 + 180)] == [
        "0 min",
        "45 min",
        "1 h",
        "1 h 20 min",
        "1 d 3 h",
    ]
