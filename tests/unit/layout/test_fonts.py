"""Finding fonts, the OCR-B TrueType conversion and its cache (the Debian fonts are installed by
scripts/bootstrap.sh; without them these tests name the package and skip, except in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from requirements import unavailable

from cardkit.layout.fonts import FontError, find_font, find_fonts, truetype_outlines


def _fonts_or_skip() -> None:
    try:
        find_fonts()
    except FontError as exc:
        if os.environ.get("CI") == "true":
            raise
        unavailable(str(exc))


def test_missing_font_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(FontError, match=r"install the Debian package fonts-ocr-b"):
        find_font("OCRB.otf", "fonts-ocr-b", dirs=[tmp_path])


def test_font_found_in_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "X.ttf").write_bytes(b"\x00\x01\x00\x00")
    assert find_font("X.ttf", "x", dirs=[tmp_path]) == tmp_path / "a" / "b" / "X.ttf"


def test_ocrb_is_converted_once_to_truetype(tmp_path: Path) -> None:
    _fonts_or_skip()
    source = find_font("OCRB.otf", "fonts-ocr-b")
    first = truetype_outlines(source, tmp_path)
    assert first.parent == tmp_path and first.read_bytes()[:4] == b"\x00\x01\x00\x00"
    mtime = first.stat().st_mtime_ns
    assert truetype_outlines(source, tmp_path) == first and first.stat().st_mtime_ns == mtime
    converted, original = TTFont(str(first)), TTFont(str(source))
    assert "glyf" in converted and "CFF " not in converted
    # Same characters, same advances: the MRZ pitch does not change with the conversion.
    cmap = original.getBestCmap()
    assert converted.getBestCmap() == cmap
    for ch in "ID<0123456789VNM":
        name = cmap[ord(ch)]
        assert converted["hmtx"][name][0] == original["hmtx"][name][0]


def test_cache_is_keyed_by_the_source_hash(tmp_path: Path) -> None:
    _fonts_or_skip()
    source = find_font("OCRB.otf", "fonts-ocr-b")
    copy = tmp_path / "src" / "OCRB.otf"
    copy.parent.mkdir()
    copy.write_bytes(source.read_bytes())
    a = truetype_outlines(copy, tmp_path / "cache")
    copy.write_bytes(source.read_bytes() + b"\x00")  # a different font file: a new cache entry
    b = truetype_outlines(copy, tmp_path / "cache")
    assert a != b and a.exists() and b.exists()


def test_damaged_font_is_a_font_error(tmp_path: Path) -> None:
    bad = tmp_path / "Bad.otf"
    bad.write_bytes(b"OTTO" + b"\x00" * 40)
    with pytest.raises(FontError, match="cannot convert"):
        truetype_outlines(bad, tmp_path / "cache")
