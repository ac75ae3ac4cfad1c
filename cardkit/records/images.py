"""Is an image file there, whole and well formed, and how large is it? Checked once per file.

Validation needs three facts about each photo and fingerprint file: that it exists, that it is
an image file ``prepare`` can use, and its size in pixels. :class:`ImageChecks` finds them at
one of three depths:

- ``structure`` (the default): the file's structure walked from its first byte to its last
  (:mod:`cardkit.records.structure`: JPEG markers and segments through EOI, JPEG 2000 boxes and
  tile-parts through EOC, PNG chunks and their CRCs through IEND) without decoding the
  compressed data: a cut, a damaged header, a PNG's damaged data, a file that is not what its
  first bytes announce are found; damage inside a JPEG's or JPEG 2000's entropy-coded data is
  not (it shows as wrong pixels, or fails when ``prepare`` decodes the photo to fit it).
- ``decode`` (``records check --decode-images``): the structure, then the data decoded as
  cheaply as it can be: a JPEG reduced eight times in the inverse DCT (libjpeg still
  Huffman-decodes every coefficient), a JPEG 2000 at a reduced resolution level, a PNG's zlib
  stream inflated (its Adler-32, its length, every row's filter type).
- ``full``: every pixel decoded by Pillow and nothing else (the check as it first was; for
  comparison).

A format without a structural walk (BMP, TIFF, …: Pillow reads them; ``prepare`` converts them)
is decoded in full at every depth. The size is the header's. Messages name the file and the
fault: ``photos/x.jpg: truncated: no EOI marker``.

Results are kept per (path, modification time, size) in a bounded cache, so a file that many
records share is checked once per run; a file changed during the run is checked again.
"""

from __future__ import annotations

import io
import os
import stat
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cardkit.errors import ImageError
from cardkit.records.structure import Facts, inflate_png, walk

#: How deep :class:`ImageChecks` looks (module docstring).
Depth = Literal["structure", "decode", "full"]
DEPTHS: tuple[Depth, ...] = ("structure", "decode", "full")

#: The most files whose result :class:`ImageChecks` keeps (oldest forgotten first): enough for
#: the images a batch shares, bounded however many rows it has.
CACHE_SIZE = 4096

#: A larger file is not read: no photo or fingerprint is near this size.
MAX_FILE_BYTES = 64 << 20

_JPEG_SCALE = 8  # the largest reduction libjpeg's scaled inverse DCT offers
_JPEG2000_REDUCE = 3  # resolution levels dropped (each halves width and height), at most


@dataclass(frozen=True)
class Probe:
    """What a check found: the size in pixels, or the message saying what is wrong."""

    size: tuple[int, int] | None
    error: str = ""


def read_file(path: str | Path, size: int | None = None) -> bytes:
    """The bytes of ``path`` (``size``: what stat said, to read it in one call).

    OSError when it cannot be read; ImageError when it is over :data:`MAX_FILE_BYTES`."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        if size is None:
            size = os.fstat(fd).st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{os.fspath(path)}: {size} bytes, larger than an image file may be")
        chunks = [os.read(fd, size + 1)]
        while chunks[-1] and sum(map(len, chunks)) <= MAX_FILE_BYTES:
            chunks.append(os.read(fd, 1 << 16))
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{os.fspath(path)}: larger than an image file may be")
    return data


def probe(path: str | Path, depth: Depth = "structure", *, size: int | None = None) -> Probe:
    """Check the file at ``path`` to ``depth`` (module docstring)."""
    name = os.fspath(path)
    try:
        data = read_file(path, size)
    except ImageError as exc:
        return Probe(None, str(exc))
    except OSError as exc:  # gone or unreadable since it was found
        return Probe(None, f"{name}: cannot be read ({exc.strerror or type(exc).__name__})")
    except ValueError:  # a NUL in the path
        return Probe(None, f"{name}: cannot be read")
    return probe_bytes(data, name, depth)


def probe_full(path: str | Path) -> Probe:
    """Every pixel decoded by Pillow (the reference the other depths are measured against)."""
    return probe(path, "full")


def probe_bytes(data: bytes, name: str, depth: Depth = "structure") -> Probe:
    """Check ``data``, the contents of the file ``name``, to ``depth``."""
    if not data:
        return Probe(None, f"{name}: empty file")
    if depth == "full":
        return _pillow(data, name)
    try:
        facts = walk(data, name)
        if facts is None:  # a format without a walk: Pillow decides
            return _pillow(data, name)
        if depth == "decode":
            _decode(data, name, facts)
    except ImageError as exc:
        return Probe(None, str(exc))
    return Probe((facts.width, facts.height))


def _pillow(data: bytes, name: str) -> Probe:
    """Decode every pixel with Pillow; the message names what it raised."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return Probe(im.size)
    except UnidentifiedImageError:
        return Probe(
            None, f"{name}: not an image file (JPEG, JPEG 2000, PNG or another format Pillow reads)"
        )
    except Exception as exc:  # Pillow raises many types on corrupt data; all mean "not usable"
        return Probe(None, f"{name}: Pillow cannot decode it ({_describe(exc)})")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _decode(data: bytes, name: str, facts: Facts) -> None:
    """The ``decode`` depth after a good walk (module docstring); ImageError when it fails."""
    if facts.format == "PNG":
        inflate_png(data, name)
        return
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if facts.format == "JPEG":
                width, height = im.size
                # Grayscale skips the chroma inverse DCT and the colour conversion, not the
                # decoding.
                im.draft("L", (max(1, width // _JPEG_SCALE), max(1, height // _JPEG_SCALE)))
            else:
                from PIL import Jpeg2KImagePlugin  # imported already: Image.open found it

                assert isinstance(im, Jpeg2KImagePlugin.Jpeg2KImageFile)
                im.reduce = min(_JPEG2000_REDUCE, facts.levels)
            im.load()
    except Exception as exc:  # Pillow raises many types on corrupt data; all mean "not usable"
        raise ImageError(f"{name}: Pillow cannot decode it ({_describe(exc)})") from None


class ImageChecks:
    """Image facts for one run of validation, each file checked once (module docstring), to
    ``depth``. Not thread-safe; each worker process of a parallel validation has its own."""

    def __init__(self, capacity: int = CACHE_SIZE, *, depth: Depth = "structure") -> None:
        if depth not in DEPTHS:
            raise ValueError(f"depth must be one of {', '.join(DEPTHS)}")
        self._capacity = capacity
        self.depth: Depth = depth
        self._seen: OrderedDict[tuple[str, int, int], Probe] = OrderedDict()
        self.probes = 0  # files checked (cache misses), for tests and benchmarks

    def problem(self, path: str | Path, min_size: tuple[int, int] | None) -> tuple[str, str] | None:
        """None when ``path`` is a usable image, at least ``min_size``; else (kind, why).

        ``kind`` is ``missing`` (no such file, or not a regular file), ``decode`` (``why``
        names the file and what is wrong with it) or ``size``.
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
            found = probe(path, self.depth, size=st.st_size)
            self.probes += 1
            self._seen[key] = found
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        if found.size is None:
            return "decode", found.error
        width, height = found.size
        if min_size is not None and (width < min_size[0] or height < min_size[1]):
            return "size", (
                f"image is {width}x{height} pixels; the profile needs at least "
                f"{min_size[0]}x{min_size[1]}"
            )
        return None
