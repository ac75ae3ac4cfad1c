"""Turn a layout and one card's data into drawing operations, shared by the PDF and PNG renderers.

Everything is in millimetres from the face's top-left corner. The static artwork of a face
(background pattern, headings, captions, labels, the emblem, frames) does not depend on the card:
:func:`static_ops` computes it once per layout and the renderers cache it (a PDF form XObject, a
base image). :func:`card_ops` computes the per-card part: values fitted into their boxes, the
photo, the QR code, fingerprints and the MRZ.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import qrcode
import qrcode.constants

from cardkit.errors import CardkitError
from cardkit.layout.fit import LINE_FACTOR, PT_MM, FittedText, TextTooLong, fit_text
from cardkit.layout.model import TD1_LINE_LENGTH, TD1_LINES, Box, Face, Layout

FontName = Literal["text", "bold", "mrz"]
#: Width in millimetres of ``text`` set in ``font`` at ``size`` points.
FontMeasure = Callable[[str, FontName, float], float]

#: Quiet zone around the QR code, in modules (ISO/IEC 18004 asks for 4; the card's light
#: background provides part of it, and the box is the code including this margin).
QR_QUIET_MODULES = 2


@dataclass(frozen=True)
class CardData:
    """What one card face shows. ``values`` are the printed texts by field name
    (:data:`cardkit.layout.model.FIELD_NAMES`); ``photo`` and ``fingerprints`` are encoded images
    (JPEG, JPEG 2000, PNG); ``mrz`` the three TD1 lines exactly as DG1 holds them."""

    card_id: str
    values: Mapping[str, str]
    qr_text: str
    mrz: tuple[str, str, str]
    photo: bytes | None = field(default=None, repr=False)
    fingerprints: tuple[bytes | None, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if len(self.mrz) != TD1_LINES or any(len(line) != TD1_LINE_LENGTH for line in self.mrz):
            raise CardkitError(f"card {self.card_id}: a TD1 MRZ is 3 lines of 30 characters")


@dataclass(frozen=True)
class TextOp:
    x: float  # left end of the base line
    y: float  # base line
    text: str
    font: FontName
    size: float  # points
    color: str
    pitch: float | None = None  # fixed character pitch in mm (the MRZ), else the font's advances


@dataclass(frozen=True)
class RectOp:
    box: Box
    fill: str | None
    stroke: str | None = None
    width: float = 0.0  # stroke width, mm
    radius: float = 0.0


@dataclass(frozen=True)
class EllipseOp:
    box: Box
    fill: str | None
    stroke: str | None = None
    width: float = 0.0


@dataclass(frozen=True)
class PolylineOp:
    points: tuple[tuple[float, float], ...]
    color: str
    width: float  # mm
    closed_fill: bool = False  # fill the polygon instead of stroking the line


@dataclass(frozen=True)
class ImageOp:
    box: Box
    data: bytes = field(repr=False)
    kind: Literal["photo", "fingerprint"]
    fit: Literal["cover", "contain"]


@dataclass(frozen=True)
class QrOp:
    """The QR code as a module matrix (rows of booleans, True = dark), quiet zone included."""

    box: Box
    modules: tuple[tuple[bool, ...], ...] = field(repr=False)


Op = TextOp | RectOp | EllipseOp | PolylineOp | ImageOp | QrOp


@dataclass(frozen=True)
class ComposedCard:
    card_id: str
    front: tuple[Op, ...]
    back: tuple[Op, ...]


def qr_modules(text: str) -> tuple[tuple[bool, ...], ...]:
    """The QR symbol of the UTF-8 ``text`` (byte mode, error correction level M)."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=QR_QUIET_MODULES, box_size=1
    )
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    return tuple(tuple(bool(m) for m in row) for row in code.get_matrix())


def _aligned_x(box: Box, width: float, align: str) -> float:
    if align == "center":
        return box.x + (box.w - width) / 2
    if align == "right":
        return box.right - width
    return box.x


def _ascent(size: float) -> float:
    """Distance from a line's top to its base line (DejaVu: about 0.93 em incl. accents room)."""
    return size * PT_MM * 0.95


def _pattern(layout: Layout, face: Face) -> list[Op]:
    """A light guilloche-like wave pattern: security-print look, no meaning."""
    ops: list[Op] = []
    color = layout.colors["pattern"]
    steps = 60
    # The back's MRZ zone stays plain: background print there hinders OCR (ICAO 9303-3 §4.2).
    floor = layout.height - layout.mrz.zone_height if face is layout.back else layout.height
    for k in range(9):
        phase = k * 0.7
        y0 = 6.0 + k * 5.6
        if y0 + 1.6 > floor:
            break
        pts = tuple(
            (
                layout.width * i / steps,
                y0 + 1.6 * math.sin(2 * math.pi * i / steps * 3 + phase),
            )
            for i in range(steps + 1)
        )
        ops.append(PolylineOp(pts, color, 0.12))
    return ops


def _emblem(box: Box, layout: Layout) -> list[Op]:
    """A geometric placeholder mark (concentric rings and a diamond), not a state emblem."""
    accent = layout.colors["accent"]
    gold = "#e0b12e"
    inset = box.w * 0.12
    inner = Box(box.x + inset, box.y + inset, box.w - 2 * inset, box.h - 2 * inset)
    cx, cy, r = box.x + box.w / 2, box.y + box.h / 2, inner.w * 0.32
    diamond = ((cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy))
    return [
        EllipseOp(box, gold),
        EllipseOp(inner, accent),
        PolylineOp(diamond, gold, 0.0, closed_fill=True),
    ]


def _chip(box: Box) -> list[Op]:
    ops: list[Op] = [RectOp(box, "#d9b860", "#9c7f2f", 0.15, radius=1.2)]
    for i in (1, 2):
        y = box.y + box.h * i / 3
        ops.append(PolylineOp(((box.x, y), (box.right, y)), "#9c7f2f", 0.15))
    x = box.x + box.w / 2
    ops.append(PolylineOp(((x, box.y), (x, box.bottom)), "#9c7f2f", 0.15))
    return ops


class Composer:
    """Lays out cards for one layout; ``measure`` gives text widths (the fonts' metrics)."""

    def __init__(self, layout: Layout, measure: FontMeasure) -> None:
        self.layout = layout
        self.measure = measure
        self._static: dict[str, tuple[Op, ...]] = {}

    # --- static artwork ------------------------------------------------------------------------

    def static_ops(self, side: Literal["front", "back"]) -> tuple[Op, ...]:
        if side not in self._static:
            self._static[side] = tuple(self._build_static(side))
        return self._static[side]

    def _build_static(self, side: Literal["front", "back"]) -> list[Op]:
        layout = self.layout
        face = layout.front if side == "front" else layout.back
        ops: list[Op] = [RectOp(Box(0.0, 0.0, layout.width, layout.height), face.background)]
        ops += _pattern(layout, face)
        if face.emblem is not None:
            ops += _emblem(face.emblem, layout)
        if face.chip is not None:
            ops += _chip(face.chip)
        for text in face.texts:
            font: FontName = "bold" if text.bold else "text"
            width = self.measure(text.text, font, text.size)
            ops.append(
                TextOp(
                    _aligned_x(text.box, width, text.align),
                    text.box.y + _ascent(text.size),
                    text.text,
                    font,
                    text.size,
                    layout.color(text.color),
                )
            )
        for fb in face.fields:
            if fb.label:
                ops.append(
                    TextOp(
                        fb.box.x,
                        fb.box.y + _ascent(max(fb.label_size, fb.size if fb.inline else 0)),
                        fb.label,
                        "text",
                        fb.label_size,
                        layout.colors["label"],
                    )
                )
        if face.photo is not None:
            ops.append(RectOp(face.photo, "#ffffff", "#8a8a8a", 0.15))
        for box in face.fingerprints:
            ops.append(RectOp(box, "#ffffff", "#6f6f6f", 0.2, radius=0.8))
        return ops

    # --- per card ------------------------------------------------------------------------------

    def fit_field(self, face: Face, name: str, value: str) -> FittedText:
        fb = next(f for f in face.fields if f.field == name)
        text = value.upper() if fb.upper else value
        font: FontName = "bold" if fb.bold else "text"

        def measure(t: str, size: float) -> float:
            return self.measure(t, font, size)

        label_w = self.measure(fb.label + " ", "text", fb.label_size) if fb.label else 0.0
        top = 0.0 if fb.inline or not fb.label else fb.label_size * PT_MM * LINE_FACTOR
        return fit_text(
            text,
            measure,
            field=name,
            width=fb.box.w,
            height=fb.box.h,
            size=fb.size,
            min_size=fb.min_size,
            max_lines=fb.max_lines,
            indent=label_w if fb.inline else 0.0,
            top=top,
        )

    def _fields(self, face: Face, card: CardData) -> list[Op]:
        ops: list[Op] = []
        for fb in face.fields:
            value = card.values.get(fb.field, "")
            fitted = self.fit_field(face, fb.field, value)
            font: FontName = "bold" if fb.bold else "text"
            if fb.inline:
                indent = self.measure(fb.label + " ", "text", fb.label_size)
                base = fb.box.y + _ascent(max(fb.label_size, fb.size))
            else:
                indent = 0.0
                label_h = fb.label_size * PT_MM * LINE_FACTOR if fb.label else 0.0
                base = fb.box.y + label_h + _ascent(fitted.size)
            for i, line in enumerate(fitted.lines):
                if line:
                    ops.append(
                        TextOp(
                            fb.box.x + (indent if i == 0 else 0.0),
                            base + i * fitted.line_height,
                            line,
                            font,
                            fitted.size,
                            self.layout.color(fb.color),
                        )
                    )
        return ops

    def _mrz(self, card: CardData) -> list[Op]:
        layout = self.layout
        zone = layout.mrz
        size = self.mrz_font_size()
        return [
            TextOp(
                zone.left,
                zone.baseline_from_top(i, layout.height),
                line,
                "mrz",
                size,
                "#000000",
                pitch=zone.pitch,
            )
            for i, line in enumerate(card.mrz)
        ]

    def mrz_font_size(self) -> float:
        """OCR-B size 1: the font size whose capitals are ``char_height`` tall (9303-3 §4.2.1);
        the pitch is then imposed character by character."""
        # OCR-B's cap height is 0.701 em (OS/2 sCapHeight 701 of 1000 units in fonts-ocr-b).
        return self.layout.mrz.char_height / 0.701 / PT_MM

    def compose(self, card: CardData) -> ComposedCard:
        """The card's per-card operations, front and back. Raises :class:`TextTooLong` naming the
        card and the field when a value does not fit."""
        layout = self.layout
        try:
            front = self._fields(layout.front, card)
            back = self._fields(layout.back, card)
        except TextTooLong as exc:
            raise exc.for_record(card.card_id) from None
        for face, ops in ((layout.front, front), (layout.back, back)):
            if face.photo is not None and card.photo is not None:
                ops.append(ImageOp(face.photo, card.photo, "photo", "cover"))
            if face.qr is not None:
                ops.append(QrOp(face.qr, qr_modules(card.qr_text)))
            for box, finger in zip(face.fingerprints, card.fingerprints, strict=False):
                if finger is not None:
                    inset = Box(box.x + 0.6, box.y + 0.6, box.w - 1.2, box.h - 1.2)
                    ops.append(ImageOp(inset, finger, "fingerprint", "contain"))
        back.extend(self._mrz(card))
        return ComposedCard(card.card_id, tuple(front), tuple(back))
