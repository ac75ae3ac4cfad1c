"""Render composed cards to PNG with Pillow at a given resolution (300 or 600 dpi).

The static artwork of each face is drawn once (at twice the resolution, then reduced, which
smooths its curves) and copied for every card; fonts are loaded once per size.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from cardkit.layout.compose import (
    ComposedCard,
    Composer,
    EllipseOp,
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
from cardkit.layout.render_pdf import font_measure, prepare_image

Side = Literal["front", "back"]
SUPERSAMPLE = 2


@functools.lru_cache(maxsize=256)
def _font(path: Path, size_px: float) -> ImageFont.FreeTypeFont:
    # BASIC layout: advances as in the font, no kerning, so widths match the PDF's fitting.
    return ImageFont.truetype(str(path), size_px, layout_engine=ImageFont.Layout.BASIC)


class PngRenderer:
    """Renders card faces as RGB images at ``dpi``."""

    def __init__(self, layout: Layout, fonts: FontFiles, dpi: int = 300) -> None:
        self.layout = layout
        self.dpi = dpi
        self.font_files: dict[FontName, Path] = {
            "text": fonts.text,
            "bold": fonts.bold,
            "mrz": fonts.mrz,  # Pillow reads the CFF outlines as they are
        }
        self.composer = Composer(layout, font_measure(fonts))
        self._base: dict[Side, Image.Image] = {}
        self.size = (self._px(layout.width), self._px(layout.height))

    def _px(self, v: float, scale: float = 1.0) -> int:
        return round(v / 25.4 * self.dpi * scale)

    def _base_image(self, side: Side) -> Image.Image:
        if side not in self._base:
            scale = SUPERSAMPLE
            big = Image.new(
                "RGB", (self._px(self.layout.width, scale), self._px(self.layout.height, scale))
            )
            self._draw(big, self.composer.static_ops(side), scale)
            self._base[side] = big.resize(self.size, Image.Resampling.LANCZOS)
        return self._base[side]

    def _draw(self, img: Image.Image, ops: Sequence[Op], scale: float = 1.0) -> None:
        draw = ImageDraw.Draw(img)
        f = self.dpi / 25.4 * scale  # pixels per millimetre

        def box(b: Box) -> tuple[float, float, float, float]:
            return (b.x * f, b.y * f, b.right * f - 1, b.bottom * f - 1)

        for op in ops:
            if isinstance(op, TextOp):
                size_px = op.size * PT_MM * f
                font = _font(self.font_files[op.font], round(size_px, 2))
                if op.pitch is None:
                    draw.text((op.x * f, op.y * f), op.text, font=font, fill=op.color, anchor="ls")
                else:
                    for i, ch in enumerate(op.text):
                        draw.text(
                            ((op.x + i * op.pitch) * f, op.y * f),
                            ch,
                            font=font,
                            fill=op.color,
                            anchor="ls",
                        )
            elif isinstance(op, RectOp):
                width = max(1, round(op.width * f)) if op.stroke else 0
                if op.radius:
                    draw.rounded_rectangle(
                        box(op.box), op.radius * f, fill=op.fill, outline=op.stroke, width=width
                    )
                else:
                    draw.rectangle(box(op.box), fill=op.fill, outline=op.stroke, width=width)
            elif isinstance(op, EllipseOp):
                width = max(1, round(op.width * f)) if op.stroke else 0
                draw.ellipse(box(op.box), fill=op.fill, outline=op.stroke, width=width)
            elif isinstance(op, PolylineOp):
                pts = [(px * f, py * f) for px, py in op.points]
                if op.closed_fill:
                    draw.polygon(pts, fill=op.color)
                else:
                    draw.line(pts, fill=op.color, width=max(1, round(op.width * f)))
            elif isinstance(op, ImageOp):
                picture = prepare_image(op.data, op.box, op.fit, self.dpi * scale)
                img.paste(picture, (round(op.box.x * f), round(op.box.y * f)))
            elif isinstance(op, QrOp):
                self._qr(img, op, f)

    @staticmethod
    def _qr(img: Image.Image, op: QrOp, f: float) -> None:
        n = len(op.modules)
        side_px = int(min(op.box.w, op.box.h) * f)
        module = max(1, side_px // n)  # whole pixels per module: crisp edges for scanners
        matrix = Image.new("L", (n, n), 255)
        matrix.putdata([0 if dark else 255 for row in op.modules for dark in row])
        symbol = matrix.resize((n * module, n * module), Image.Resampling.NEAREST)
        x = round(op.box.x * f + (op.box.w * f - symbol.width) / 2)
        y = round(op.box.y * f + (op.box.h * f - symbol.height) / 2)
        img.paste(symbol.convert("RGB"), (x, y))

    def render(self, card: ComposedCard, side: Side) -> Image.Image:
        img = self._base_image(side).copy()
        self._draw(img, card.front if side == "front" else card.back)
        return img

    def write(self, card: ComposedCard, folder: Path) -> tuple[Path, Path]:
        """``<card_id>-front.png`` and ``<card_id>-back.png`` in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        out: list[Path] = []
        for side in ("front", "back"):
            path = folder / f"{card.card_id}-{side}.png"
            # Low zlib effort: the files are proofs, encoding speed matters more than bytes.
            self.render(card, side).save(path, "PNG", dpi=(self.dpi, self.dpi), compress_level=1)
            out.append(path)
        return out[0], out[1]
