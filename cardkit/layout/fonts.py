"""Fonts for the card face: DejaVu Sans for the Vietnamese text, OCR-B for the MRZ.

The text font must cover Vietnamese (Latin Extended Additional, precomposed letters such as
"Ế", "ự"): Debian's ``fonts-dejavu-core`` does. The MRZ is printed in OCR-B (ICAO 9303-3 §4.2.1,
ISO 1073-2); Debian's ``fonts-ocr-b`` ships it as OpenType with CFF outlines, which Pillow reads
as is but ReportLab cannot embed, so it is converted to TrueType outlines (quadratic curves,
fontTools' cu2qu) once and cached under ``${XDG_CACHE_HOME:-~/.cache}/cardkit/fonts``, keyed by
the SHA-256 of the source file so that an upgraded font is converted again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cardkit.errors import CardkitError

#: Where Debian installs the fonts, searched after $CARDKIT_FONT_DIRS.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/opentype/ocr-b"),
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
)

_WANTED = {
    "text": ("DejaVuSans.ttf", "fonts-dejavu-core"),
    "bold": ("DejaVuSans-Bold.ttf", "fonts-dejavu-core"),
    "ocrb": ("OCRB.otf", "fonts-ocr-b"),
}


class FontError(CardkitError):
    """A font the card face needs is missing or cannot be converted."""


@dataclass(frozen=True)
class FontFiles:
    """The font files of a card face. ``mrz_ttf`` is OCR-B with TrueType outlines (ReportLab);
    ``mrz`` the original OpenType file (Pillow)."""

    text: Path
    bold: Path
    mrz: Path
    mrz_ttf: Path


def search_dirs() -> list[Path]:
    dirs: list[Path] = []
    if env := os.environ.get("CARDKIT_FONT_DIRS"):
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    dirs.extend(FONT_DIRS)
    return dirs


def find_font(file_name: str, package: str, dirs: list[Path] | None = None) -> Path:
    """The first ``file_name`` in the font directories (searched recursively), or a FontError
    naming the Debian package that ships it."""
    searched = dirs if dirs is not None else search_dirs()
    for d in searched:
        direct = d / file_name
        if direct.is_file():
            return direct
    for d in searched:
        if d.is_dir():
            for found in sorted(d.rglob(file_name)):
                if found.is_file():
                    return found
    raise FontError(
        f"font {file_name} not found (looked in {', '.join(str(d) for d in searched)}): "
        f"install the Debian package {package} (apt-get install {package}) "
        "or point CARDKIT_FONT_DIRS at a folder holding it"
    )


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cardkit" / "fonts"


def truetype_outlines(source: Path, cache: Path | None = None) -> Path:
    """``source`` (OpenType/CFF) converted to TrueType outlines, cached by the source's hash."""
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise FontError(f"cannot read font {source}: {exc.strerror}") from None
    if data[:4] in (b"\x00\x01\x00\x00", b"true"):
        return source  # already TrueType
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = cache if cache is not None else cache_dir()
    target = folder / f"{source.stem}-{digest}.ttf"
    if target.is_file():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{source.stem}.", suffix=".ttf", dir=folder)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _convert_cff_to_ttf(source, tmp)
            # Atomic: parallel printers may convert at once; the last rename wins, same bytes.
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise FontError(f"cannot write the converted font to {folder}: {exc.strerror}") from None
    return target


def _convert_cff_to_ttf(source: Path, target: Path) -> None:
    """Replace the CFF table by glyf/loca, cubic curves approximated by quadratic ones
    (the conversion the fontTools documentation describes for OTF → TTF)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    try:
        font = TTFont(str(source))
        if "CFF " not in font:
            raise FontError(f"cannot convert {source}: expected CFF outlines")
        order = font.getGlyphOrder()
        glyph_set = font.getGlyphSet()
        glyf = newTable("glyf")
        glyf.glyphOrder = order
        glyf.glyphs = {}
        for name in order:
            pen = TTGlyphPen(glyph_set)
            # TrueType contours run the other way round to PostScript ones.
            glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
            glyf.glyphs[name] = pen.glyph()
        font["loca"] = newTable("loca")
        font["glyf"] = glyf
        maxp = newTable("maxp")
        maxp.tableVersion = 0x00010000
        for attr in (
            "maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
            "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
            "maxComponentElements", "maxComponentDepth",
        ):  # fmt: skip
            setattr(maxp, attr, 0)
        maxp.maxZones = 1
        font["maxp"] = maxp
        post = font["post"]
        post.formatType = 2.0
        post.extraNames = []
        post.mapping = {}
        post.glyphOrder = order
        font["head"].indexToLocFormat = 0
        font["head"].glyphDataFormat = 0
        del font["CFF "]
        if "VORG" in font:
            del font["VORG"]
        font.sfntVersion = "\x00\x01\x00\x00"
        font.save(str(target))  # recalculates maxp/head bounds from the glyphs
    except FontError:
        raise
    except Exception as exc:  # fontTools raises assorted errors on a damaged font
        raise FontError(f"cannot convert {source} to TrueType: {type(exc).__name__}") from None


def find_fonts(cache: Path | None = None) -> FontFiles:
    """Locate the card face's fonts and make OCR-B embeddable (converted once, then cached)."""
    text = find_font(*_WANTED["text"])
    bold = find_font(*_WANTED["bold"])
    mrz = find_font(*_WANTED["ocrb"])
    return FontFiles(text=text, bold=bold, mrz=mrz, mrz_ttf=truetype_outlines(mrz, cache))
