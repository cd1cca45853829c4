import pytest

from tocsin.domain.rendering import RenderError, check, render


def test_it_fills_a_template_from_the_context() -> None:
    text = render("{{ severity }}: {{ title }} & more", {"severity": "P1", "title": "Checkout"})
    assert text == "P1: Checkout & more"


def test_an_unknown_name_is_an_error_that_lists_the_known_ones() -> None:
    with pytest.raises(RenderError, match=r"comander.*commander, title"):
        render("{{ comander }}", {"commander": "Alice", "title": "x"})


def test_a_syntax_error_names_its_line() -> None:
    with pytest.raises(RenderError) as caught:
        check("ok\n{% if %}")
    assert caught.value.line == 2


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(RenderError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


def test_a_huge_template_is_refused() -> None:
    with pytest.raises(RenderError, match="at most"):
        check("x" * 20_001)
