"""DG3's fingerprints as pictures: each ISO/IEC 19794-4 finger image as a PNG file.

DG3 (ICAO 9303-10 §4.7.3) carries finger image records whose images are JPEG 2000 (as cardkit's
profiles write them, and as ICAO recommends), PNG, JPEG, raw 8-bit grey pixels or WSQ. Each is
written as ``DG3-<position>.png`` (``DG3-right-index.png``, ``DG3-left-index.png``: the finger
positions of ISO/IEC 19794-4:2005 Table 5), converted with Pillow when it is not PNG already.
WSQ, which Pillow cannot decode, is written as it is (``DG3-<position>.wsq``).

The images come from a chip: they are decoded with Pillow's decompression-bomb guard and a pixel
limit, and every failure is an :class:`~cardkit.errors.ImageError` naming the finger.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cardkit.errors import ImageError
from cardkit.lds import dg3 as dg3_module
from cardkit.lds.dg3 import Dg3, FingerImage, FingerRecord

#: No finger image is larger than this (a 1000 ppi, 4 × 4 inch slap is 16 Mpx).
MAX_PIXELS = 4096 * 4096
PREFIX = "DG3-"


@dataclass(frozen=True)
class FingerPicture:
    """One finger of DG3, ready to be written: its position, a file name and the bytes."""

    position: int
    label: str  # "right index"
    name: str  # "DG3-right-index.png"
    data: bytes = field(repr=False)
    width: int
    height: int
    source_format: str  # "jpeg2000", "png", "jpeg", "raw", "wsq"


def _decode_to_png(data: bytes, what: str) -> tuple[bytes, int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(f"{what}: {img.width}×{img.height} is too large")
            img.load()
        if img.mode not in ("L", "LA", "RGB", "RGBA", "I;16", "I"):
            img = img.convert("L")
        if img.mode in ("I;16", "I"):
            img = img.point(lambda v: v / 256).convert("L")  # 16-bit grey to 8-bit
        out = io.BytesIO()
        img.save(out, format="PNG", optimize=True)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{what}: not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{what}: refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise ImageError(f"{what}: cannot decode the image: {exc}") from None
    return out.getvalue(), img.width, img.height


def _raw_to_png(record: FingerRecord, finger: FingerImage, what: str) -> tuple[bytes, int, int]:
    from PIL import Image

    if record.pixel_depth != 8:
        raise ImageError(f"{what}: raw pixels of depth {record.pixel_depth}: only 8-bit grey")
    if finger.width * finger.height > MAX_PIXELS or not finger.width or not finger.height:
        raise ImageError(f"{what}: {finger.width}×{finger.height} is not a usable size")
    if len(finger.image) != finger.width * finger.height:
        raise ImageError(
            f"{what}: {len(finger.image)} bytes of raw pixels, the header says "
            f"{finger.width}×{finger.height}"
        )
    img = Image.frombytes("L", (finger.width, finger.height), finger.image)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue(), finger.width, finger.height


def picture(
    record: FingerRecord, finger: FingerImage, name_stem: str | None = None
) -> FingerPicture:
    """One finger image as PNG (WSQ: as it is); :class:`ImageError` when it cannot be."""
    stem = name_stem or PREFIX + dg3_module.position_slug(finger.position)
    what = f"DG3 {finger.label}"
    compression = record.compression
    if compression == dg3_module.COMPRESSION_WSQ:
        return FingerPicture(
            finger.position, finger.label, stem + ".wsq", finger.image, finger.width,
            finger.height, "wsq",
        )  # fmt: skip
    if compression == dg3_module.COMPRESSION_UNCOMPRESSED:
        png, width, height = _raw_to_png(record, finger, what)
        source = "raw"
    elif compression == dg3_module.COMPRESSION_BIT_PACKED:
        raise ImageError(f"{what}: bit-packed raw pixels are not supported")
    else:
        source = finger.image_format or dg3_module.COMPRESSION.get(compression, str(compression))
        if source == "png":
            _, width, height = _decode_to_png(finger.image, what)  # checked, kept as stored
            png = finger.image
        else:
            png, width, height = _decode_to_png(finger.image, what)
    return FingerPicture(finger.position, finger.label, stem + ".png", png, width, height, source)


def finger_pictures(dg3: bytes | Dg3) -> list[FingerPicture]:
    """Every finger of a DG3 file as a picture, named by position; a second image of the same
    position (another view) gets ``-2``, ``-3`` …. :class:`EncodingError` for a malformed DG3,
    :class:`ImageError` for an image that does not decode."""
    decoded = dg3 if isinstance(dg3, Dg3) else Dg3.from_bytes(dg3)
    seen: dict[str, int] = {}
    out = []
    for record, finger in decoded.finger_images():
        stem = PREFIX + dg3_module.position_slug(finger.position)
        seen[stem] = seen.get(stem, 0) + 1
        if seen[stem] > 1:
            stem = f"{stem}-{seen[stem]}"
        out.append(picture(record, finger, stem))
    return out


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_pictures(pictures: Iterable[FingerPicture], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for pic in pictures:
        path = out_dir / pic.name
        _write(path, pic.data)
        paths.append(path)
    return paths


def write_finger_images(dg3_bytes: bytes | Dg3, out_dir: Path) -> list[Path]:
    """Write each finger image of DG3 into ``out_dir`` as ``DG3-<position>.png`` (JPEG 2000,
    JPEG and raw pixels converted; WSQ as ``.wsq``) and return the paths, in file order.

    Every image is converted before anything is written, so a DG3 with one bad image writes
    none (and raises :class:`ImageError`); a malformed DG3 raises ``EncodingError``. The files
    are mode 0600: fingerprints are personal data."""
    return write_pictures(finger_pictures(dg3_bytes), out_dir)
