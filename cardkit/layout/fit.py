"""Fit a value inside its box: wrap at spaces, shrink step by step, never overflow.

Pure: the width of a text is asked of a ``measure`` callable (millimetres for a text at a size in
points), so the same fitting serves the PDF and the PNG renderer and is testable without fonts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cardkit.errors import CardkitError

#: One PostScript point in millimetres.
PT_MM = 25.4 / 72
#: Line height as a multiple of the font size (room for Vietnamese stacked diacritics).
LINE_FACTOR = 1.18
#: How much smaller each try is, in points.
STEP_PT = 0.25

Measure = Callable[[str, float], float]


class TextTooLong(CardkitError):
    """A value that does not fit its box even at the profile's smallest size.

    ``record`` names the card (its id) and ``field`` the field; the value itself is not repeated
    (it may be personal data).
    """

    def __init__(self, field: str, record: str | None = None, *, min_size: float) -> None:
        self.field = field
        self.record = record
        self.min_size = min_size
        who = f"record {record}: " if record else ""
        super().__init__(
            f"{who}field {field} does not fit its box on the card face even at "
            f"{min_size:g} pt: shorten it or enlarge the box in the profile's [layout]"
        )

    def for_record(self, record: str) -> TextTooLong:
        return TextTooLong(self.field, record, min_size=self.min_size)


@dataclass(frozen=True)
class FittedText:
    """The lines of a value at the size it fits: ``size`` points, line height ``line_height`` mm."""

    size: float
    lines: tuple[str, ...]

    @property
    def line_height(self) -> float:
        return self.size * PT_MM * LINE_FACTOR


def wrap(
    text: str, measure: Measure, size: float, first_width: float, width: float
) -> list[str] | None:
    """Greedy word wrap at spaces; the first line has ``first_width`` (after an inline label),
    the others ``width``. None when a single word is wider than its line (the caller shrinks:
    words are never cut, a cut name or address would be misread)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        limit = first_width if not lines else width
        candidate = f"{current} {word}" if current else word
        if measure(candidate, size) <= limit:
            current = candidate
            continue
        if not current and lines:
            return None  # the word alone is too wide for a full line
        # Otherwise close the line; on the first line after an inline label that may leave the
        # label alone on its line and start the value below it.
        lines.append(current)
        if measure(word, size) > width:
            return None
        current = word
    lines.append(current)
    return lines


def fit_text(
    text: str,
    measure: Measure,
    *,
    field: str,
    width: float,
    height: float,
    size: float,
    min_size: float,
    max_lines: int,
    indent: float = 0.0,
    top: float = 0.0,
) -> FittedText:
    """The largest size from ``size`` down to ``min_size`` (steps of 0.25 pt) at which ``text``
    wraps into at most ``max_lines`` lines that fit ``width`` × ``height`` millimetres.

    ``indent``: the first line starts that far right (an inline label before it); ``top``: the
    first line starts that far down (a label line above it). Raises :class:`TextTooLong`.
    """
    text = " ".join(text.split())
    sizes = [size - k * STEP_PT for k in range(int((size - min_size) / STEP_PT + 1e-9) + 1)]
    if sizes[-1] > min_size:
        sizes.append(min_size)  # always try the smallest size allowed
    first = width - indent
    for current in sizes:
        lines = wrap(text, measure, current, first, width) if first > 0 else None
        if lines is not None:
            fitted = FittedText(current, tuple(lines))
            if len(lines) <= max_lines and top + len(lines) * fitted.line_height <= height + 1e-6:
                return fitted
    raise TextTooLong(field, min_size=min_size)
