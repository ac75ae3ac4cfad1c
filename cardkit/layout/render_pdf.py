"""Render composed cards to PDF with ReportLab: vector text (extractable, e.g. by pdftotext),
fonts embedded as subsets, one card face per page at card size or A4 proof sheets.

Speed: the static artwork of each face is drawn once per document as a form XObject and reused on
every page; fonts are registered once per process.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from PIL import Image
from reportlab.lib import units
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from cardkit.errors import CardkitError, ImageError
from cardkit.layout.compose import (
    ComposedCard,
    Composer,
    EllipseOp,
    FontMeasure,
    FontName,
    ImageOp,
    Op,
    PolylineOp,
    QrOp,
    RectOp,
    TextOp,
)
from cardkit.layout.fit import PT_MM
from cardkit.layout.fonts import FontFiles
from cardkit.layout.model import Box, Layout

Sheet = Literal["card", "a4"]

A4_MM = (210.0, 297.0)
#: A4 proof sheet: cards in rows, front left and back right, this far apart (mm).
A4_GAP_MM = 10.0
A4_ROWS = 4
CROP_MARK_MM, CROP_OFFSET_MM = 4.0, 1.5
#: Photos and fingerprints are embedded at this resolution at most (enough for 600-dpi print
#: of a 3:4 photo box at the size a card has, without bloating the file).
IMAGE_DPI = 400

mm: float = float(units.mm)  # points per millimetre

_registered: dict[Path, str] = {}


def register_fonts(fonts: FontFiles) -> dict[FontName, str]:
    """Register the card fonts with ReportLab once per process; their ReportLab names."""
    names: dict[FontName, str] = {}
    for key, path in (("text", fonts.text), ("bold", fonts.bold), ("mrz", fonts.mrz_ttf)):
        if path not in _registered:
            name = f"cardkit-{key}-{len(_registered)}"
            try:
                pdfmetrics.registerFont(TTFont(name, str(path)))
            except Exception as exc:  # ReportLab raises TTFError and friends on a bad font
                raise CardkitError(f"cannot load font {path}: {exc}") from None
            _registered[path] = name
        names[key] = _registered[path]  # type: ignore[index]
    return names


def font_measure(fonts: FontFiles) -> FontMeasure:
    """Text widths in millimetres from the fonts' advance widths (the same for PDF and PNG)."""
    names = register_fonts(fonts)

    def measure(text: str, font: FontName, size: float) -> float:
        return float(pdfmetrics.stringWidth(text, names[font], size)) * PT_MM

    return measure


def _rgb(color: str) -> tuple[float, float, float]:
    return (int(color[1:3], 16) / 255, int(color[3:5], 16) / 255, int(color[5:7], 16) / 255)


def prepare_image(data: bytes, box: Box, how: str, dpi: float) -> Image.Image:
    """Decode ``data`` and fit it to ``box`` at ``dpi``: ``cover`` crops to the box's aspect
    (centred), ``contain`` keeps the whole image on a white ground."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            img = opened.convert("RGB")
    except Exception:  # Pillow raises many kinds on undecodable data
        raise ImageError("a card image (photo or fingerprint) cannot be decoded") from None
    target_w = max(1, round(box.w / 25.4 * dpi))
    target_h = max(1, round(box.h / 25.4 * dpi))
    if how == "cover":
        scale = max(target_w / img.width, target_h / img.height)
        w, h = round(target_w / scale), round(target_h / scale)
        left, top = (img.width - w) // 2, (img.height - h) // 2
        return img.resize(
            (target_w, target_h), Image.Resampling.LANCZOS, (left, top, left + w, top + h)
        )
    scale = min(target_w / img.width, target_h / img.height)
    inner = img.resize(
        (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
        Image.Resampling.LANCZOS,
    )
    canvas = Image.new("RGB", (target_w, target_h), "white")
    canvas.paste(inner, ((target_w - inner.width) // 2, (target_h - inner.height) // 2))
    return canvas


class PdfWriter:
    """Writes cards to one PDF: ``sheet="card"``: a page per face (front, then back) at card
    size; ``sheet="a4"``: proof sheets, a row per card (front, back) with crop marks."""

    def __init__(self, path: Path, layout: Layout, fonts: FontFiles, sheet: Sheet = "card") -> None:
        self.layout = layout
        self.sheet = sheet
        self.fonts = register_fonts(fonts)
        self.composer = Composer(layout, font_measure(fonts))
        size = (
            (layout.width * mm, layout.height * mm)
            if sheet == "card"
            else (A4_MM[0] * mm, A4_MM[1] * mm)
        )
        self.canvas = Canvas(str(path), pagesize=size, pageCompression=1)
        self.canvas.setTitle("cardkit card faces")
        self.canvas.setCreator("cardkit")
        self._forms: set[str] = set()
        self._slot = 0  # cards on the current A4 page
        self.pages = 0

    # --- drawing primitives (mm, top-left origin of the face at (ox, oy) points) ---------------

    def _draw(self, ops: Sequence[Op]) -> None:
        c = self.canvas
        height = self.layout.height

        def x(v: float) -> float:
            return v * mm

        def y(v: float) -> float:
            return (height - v) * mm

        for op in ops:
            if isinstance(op, TextOp):
                c.setFillColorRGB(*_rgb(op.color))
                if op.pitch is None:
                    c.setFont(self.fonts[op.font], op.size)
                    c.drawString(x(op.x), y(op.y), op.text)
                else:
                    # Fixed pitch (the MRZ): the character spacing makes up the difference
                    # between the font's advance and the pitch, so the text stays one string.
                    advance = pdfmetrics.stringWidth("<", self.fonts[op.font], op.size)
                    t = c.beginText(x(op.x), y(op.y))
                    t.setFont(self.fonts[op.font], op.size)
                    t.setCharSpace(op.pitch * mm - advance)
                    t.textOut(op.text)
                    c.drawText(t)
            elif isinstance(op, RectOp):
                self._paint(op.fill, op.stroke, op.width)
                b = op.box
                args = (x(b.x), y(b.bottom), b.w * mm, b.h * mm)
                fill, stroke = int(op.fill is not None), int(op.stroke is not None)
                if op.radius:
                    c.roundRect(*args, op.radius * mm, stroke=stroke, fill=fill)
                else:
                    c.rect(*args, stroke=stroke, fill=fill)
            elif isinstance(op, EllipseOp):
                self._paint(op.fill, op.stroke, op.width)
                b = op.box
                c.ellipse(
                    x(b.x), y(b.bottom), x(b.right), y(b.y),
                    stroke=int(op.stroke is not None), fill=int(op.fill is not None),
                )  # fmt: skip
            elif isinstance(op, PolylineOp):
                path = c.beginPath()
                path.moveTo(x(op.points[0][0]), y(op.points[0][1]))
                for px, py in op.points[1:]:
                    path.lineTo(x(px), y(py))
                if op.closed_fill:
                    path.close()
                    c.setFillColorRGB(*_rgb(op.color))
                    c.drawPath(path, stroke=0, fill=1)
                else:
                    c.setStrokeColorRGB(*_rgb(op.color))
                    c.setLineWidth(op.width * mm)
                    c.drawPath(path, stroke=1, fill=0)
            elif isinstance(op, ImageOp):
                img = prepare_image(op.data, op.box, op.fit, IMAGE_DPI)
                c.drawImage(
                    ImageReader(img), x(op.box.x), y(op.box.bottom), op.box.w * mm, op.box.h * mm
                )
            elif isinstance(op, QrOp):
                self._qr(op)

    def _paint(self, fill: str | None, stroke: str | None, width: float) -> None:
        if fill is not None:
            self.canvas.setFillColorRGB(*_rgb(fill))
        if stroke is not None:
            self.canvas.setStrokeColorRGB(*_rgb(stroke))
            self.canvas.setLineWidth(width * mm)

    def _qr(self, op: QrOp) -> None:
        c = self.canvas
        n = len(op.modules)
        side = min(op.box.w, op.box.h)
        module = side / n
        ox = op.box.x + (op.box.w - side) / 2
        oy = op.box.y + (op.box.h - side) / 2
        height = self.layout.height
        c.setFillColorRGB(1, 1, 1)
        c.rect(ox * mm, (height - oy - side) * mm, side * mm, side * mm, stroke=0, fill=1)
        c.setFillColorRGB(0, 0, 0)
        path = c.beginPath()
        for r, row in enumerate(op.modules):
            col = 0
            while col < n:
                if row[col]:
                    start = col
                    while col < n and row[col]:
                        col += 1
                    # One rectangle per run of dark modules: fewer path operators.
                    path.rect(
                        (ox + start * module) * mm,
                        (height - oy - (r + 1) * module) * mm,
                        (col - start) * module * mm,
                        module * mm,
                    )
                else:
                    col += 1
        c.drawPath(path, stroke=0, fill=1)

    def _face(self, side: Literal["front", "back"], ops: Sequence[Op]) -> None:
        name = f"cardkit-{side}"
        if name not in self._forms:
            self.canvas.beginForm(name)
            self._draw(self.composer.static_ops(side))
            self.canvas.endForm()
            self._forms.add(name)
        self.canvas.doForm(name)
        self._draw(ops)

    def _at(
        self, ox_mm: float, oy_mm: float, side: Literal["front", "back"], ops: Sequence[Op]
    ) -> None:
        c = self.canvas
        c.saveState()
        c.translate(ox_mm * mm, oy_mm * mm)
        self._face(side, ops)
        c.restoreState()

    # --- pages ---------------------------------------------------------------------------------

    def add(self, card: ComposedCard) -> None:
        if self.sheet == "card":
            for side, ops in (("front", card.front), ("back", card.back)):
                self._face(side, ops)  # type: ignore[arg-type]
                self.canvas.showPage()
                self.pages += 1
            return
        lw, lh = self.layout.width, self.layout.height
        margin_x = (A4_MM[0] - 2 * lw - A4_GAP_MM) / 2
        margin_y = (A4_MM[1] - A4_ROWS * lh - (A4_ROWS - 1) * A4_GAP_MM) / 2
        # PDF origin is bottom-left: row 0 at the top of the sheet.
        oy = A4_MM[1] - margin_y - lh - self._slot * (lh + A4_GAP_MM)
        for i, (side, ops) in enumerate((("front", card.front), ("back", card.back))):
            ox = margin_x + i * (lw + A4_GAP_MM)
            self._at(ox, oy, side, ops)  # type: ignore[arg-type]
            self._crop_marks(ox, oy)
        self._slot += 1
        if self._slot == A4_ROWS:
            self.canvas.showPage()
            self.pages += 1
            self._slot = 0

    def _crop_marks(self, ox: float, oy: float) -> None:
        """Short hairlines continuing each edge outside the card, clear of the card itself."""
        c = self.canvas
        c.setStrokeColorRGB(0, 0, 0)
        c.setLineWidth(0.1 * mm)
        w, h = self.layout.width, self.layout.height
        for cx, dx in ((ox, -1), (ox + w, 1)):
            for cy, dy in ((oy, -1), (oy + h, 1)):
                start, end = CROP_OFFSET_MM, CROP_OFFSET_MM + CROP_MARK_MM
                c.line((cx + dx * start) * mm, cy * mm, (cx + dx * end) * mm, cy * mm)
                c.line(cx * mm, (cy + dy * start) * mm, cx * mm, (cy + dy * end) * mm)

    def close(self) -> None:
        if self.sheet == "a4" and self._slot:
            self.canvas.showPage()
            self.pages += 1
        self.canvas.save()
