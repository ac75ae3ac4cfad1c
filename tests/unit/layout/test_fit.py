"""Fitting values into boxes: wrap, shrink, never overflow; too long names record and field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.layout.fit import LINE_FACTOR, PT_MM, TextTooLong, fit_text, wrap


def mono(text: str, size: float) -> float:
    """A monospaced stand-in font: every character is 0.6 em wide."""
    return len(text) * 0.6 * size * PT_MM


words = st.text(alphabet="abcdeĐỹẾ", min_size=1, max_size=8)
texts = st.lists(words, min_size=1, max_size=12).map(" ".join)


@given(
    text=texts,
    width=st.floats(20, 60),
    size=st.floats(4, 9),
    indent=st.floats(0, 10),
    max_lines=st.integers(1, 4),
)
def test_fitted_text_stays_inside_its_box(
    text: str, width: float, size: float, indent: float, max_lines: int
) -> None:
    height = 12.0
    try:
        fitted = fit_text(
            text, mono, field="full_name", width=width, height=height, size=size,
            min_size=3.0, max_lines=max_lines, indent=indent,
        )  # fmt: skip
    except TextTooLong as exc:
        assert exc.field == "full_name"
        # Only when even the smallest size cannot hold the words in the lines and height allowed.
        lines = wrap(text, mono, 3.0, width - indent, width)
        line_height = 3.0 * PT_MM * LINE_FACTOR
        assert lines is None or len(lines) > min(max_lines, int(height / line_height + 1e-6))
        return
    assert 3.0 - 1e-9 <= fitted.size <= size
    assert " ".join(line for line in fitted.lines if line) == text  # nothing lost, no word cut
    assert len(fitted.lines) <= max_lines
    assert len(fitted.lines) * fitted.line_height <= height + 1e-6
    for i, line in enumerate(fitted.lines):
        assert mono(line, fitted.size) <= (width - indent if i == 0 else width) + 1e-9


def test_short_text_keeps_its_size() -> None:
    fitted = fit_text(
        "Việt Nam", mono, field="nationality", width=40, height=5, size=6, min_size=4, max_lines=1
    )
    assert fitted.size == 6 and fitted.lines == ("Việt Nam",)


def test_long_text_wraps_then_shrinks() -> None:
    text = "Số 12 Phố Hàng Bông, Phường Hàng Gai, Hoàn Kiếm, Hà Nội"
    two = fit_text(text, mono, field="r", width=60, height=20, size=6, min_size=3, max_lines=2)
    assert two.size == 6 and len(two.lines) == 2
    one = fit_text(text, mono, field="r", width=60, height=20, size=6, min_size=3, max_lines=1)
    assert one.size < 6 and len(one.lines) == 1


def test_too_long_names_the_record_and_field_not_the_value() -> None:
    secret = "Nguyễn " * 40
    with pytest.raises(TextTooLong) as info:
        fit_text(
            secret, mono, field="full_name", width=50, height=6, size=7, min_size=5, max_lines=2
        )
    error = info.value.for_record("citizens-00007")
    assert "citizens-00007" in str(error) and "full_name" in str(error)
    assert "Nguyễn" not in str(error)


def test_wrap_starts_below_an_inline_label_when_the_first_word_is_too_wide() -> None:
    lines = wrap("abcdefghij", mono, 10, first_width=5, width=30)
    assert lines == ["", "abcdefghij"]
    assert wrap("abcdefghij" * 5, mono, 10, first_width=5, width=30) is None
