"""Is an image file present and decodable, and how large is it? Checked fast, once per file.

Validation needs three facts about each photo and fingerprint file: that it exists, that Pillow
can decode it, and its size in pixels. Decoding every pixel proves the second but costs most of
a record's validation; :class:`ImageChecks` proves it more cheaply, per format:

- JPEG: the header (``Image.open``), then a decode reduced eight times in each direction
  (``draft``: libjpeg scales in the inverse DCT, so it still reads and Huffman-decodes every
  coefficient of every scan: a truncated or cut file fails exactly as in a full decode).
- JPEG 2000: the header, then a decode at a reduced resolution level (``reduce``).
- PNG: the header, then ``verify()``: every chunk up to IEND is read and its CRC checked, so a
  truncated or damaged file fails. The compressed pixel data is not inflated: a file whose
  chunks all carry correct CRCs but whose zlib stream is broken (a faulty encoder, not damage in
  storage or transfer, which the CRC catches) passes here and fails when ``prepare`` fits it.
- any other format Pillow reads: a full decode, as before.

When the quick check fails, the full decode of before decides, so a file is never refused
that a full decode accepts (a PNG without its IEND chunk, say), and the message names the
exception a full decode raises, as before. The image's size is the header's (the full size).

Results are kept per (path, modification time, size) in a bounded cache, so a file that many
records share is checked once per run; a file changed during the run is checked again.
"""

from __future__ import annotations

import os
import stat
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

#: The most files whose result :class:`ImageChecks` keeps (oldest forgotten first): enough for
#: the images a batch shares, bounded however many rows it has.
CACHE_SIZE = 4096

_JPEG_SCALE = 8  # the largest reduction libjpeg's scaled inverse DCT offers
_JPEG2000_REDUCE = 3  # resolution levels dropped (each halves width and height)


@dataclass(frozen=True)
class Probe:
    """What a decode found: the size in pixels, or the name of the exception it raised."""

    size: tuple[int, int] | None
    error: str = ""


def probe_full(path: str | Path) -> Probe:
    """Decode every pixel (the reference :func:`probe` agrees with on every file)."""
    try:
        with Image.open(path) as im:
            im.load()
            return Probe(im.size)
    except Exception as exc:  # Pillow raises many types on corrupt data; all mean "not usable"
        return Probe(None, type(exc).__name__)


def probe(path: str | Path) -> Probe:
    """The header and a reduced decode (see the module docstring); a full decode if that fails."""
    try:
        with Image.open(path) as im:
            size = im.size
            if not _has_quick_check(im):
                im.load()  # its exception is the full decode's
                return Probe(im.size)
            try:
                _quick_check(im)
            except Exception:  # the full decode below decides, and names the error
                pass
            else:
                return Probe(size)
    except Exception as exc:  # Pillow raises many types on corrupt data; all mean "not usable"
        return Probe(None, type(exc).__name__)
    return probe_full(path)


# Formats by Pillow's name for them (the plugins are imported by Image.open, not here).
_JPEG = frozenset({"JPEG", "MPO"})  # MPO: a camera's JPEG with extra pictures after the first
_QUICK = _JPEG | {"PNG", "JPEG2000"}


def _has_quick_check(im: Image.Image) -> bool:
    return im.format in _QUICK


def _quick_check(im: Image.Image) -> None:
    """Prove ``im`` (just opened, a JPEG, JPEG 2000 or PNG) decodable cheaply, or raise."""
    if im.format in _JPEG:
        width, height = im.size
        # Grayscale skips the chroma inverse DCT and the colour conversion, not the decoding.
        im.draft("L", (max(1, width // _JPEG_SCALE), max(1, height // _JPEG_SCALE)))
        im.load()
    elif im.format == "PNG":
        im.verify()
    else:
        from PIL import Jpeg2KImagePlugin  # imported already: Image.open found a JPEG 2000

        assert isinstance(im, Jpeg2KImagePlugin.Jpeg2KImageFile)
        im.reduce = _JPEG2000_REDUCE
        im.load()


class ImageChecks:
    """Image facts for one run of validation, each file probed once (see the module docstring).

    ``full_decode`` decodes every pixel instead (:func:`probe_full`, the check before the
    quick one: for comparison). Not thread-safe; each worker process of a parallel validation
    has its own.
    """

    def __init__(self, capacity: int = CACHE_SIZE, *, full_decode: bool = False) -> None:
        self._capacity = capacity
        self._full_decode = full_decode
        self._seen: OrderedDict[tuple[str, int, int], Probe] = OrderedDict()
        self.probes = 0  # files decoded (cache misses), for tests and benchmarks

    def problem(self, path: str | Path, min_size: tuple[int, int] | None) -> tuple[str, str] | None:
        """None when ``path`` is a decodable image, at least ``min_size``; else (kind, why).

        ``kind`` is ``missing`` (no such file, or not a regular file), ``decode`` or ``size``.
        """
        try:
            st = os.stat(path)
        except (OSError, ValueError):  # ValueError: a NUL in the path
            return "missing", "file not found"
        if not stat.S_ISREG(st.st_mode):
            return "missing", "file not found"
        key = (os.fspath(path), st.st_mtime_ns, st.st_size)
        found = self._seen.get(key)
        if found is None:
            found = (probe_full if self._full_decode else probe)(path)
            self.probes += 1
            self._seen[key] = found
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        if found.size is None:
            return "decode", f"not a decodable image ({found.error})"
        width, height = found.size
        if min_size is not None and (width < min_size[0] or height < min_size[1]):
            return "size", (
                f"image is {width}x{height} pixels; the profile needs at least "
                f"{min_size[0]}x{min_size[1]}"
            )
        return None
