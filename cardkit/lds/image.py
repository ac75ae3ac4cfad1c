"""Photo and fingerprint preparation for DG2/DG3: bytes in, bytes out (Pillow).

Nothing here touches files or clocks: callers pass the image's bytes and get the encoded bytes
back. Every failure to decode, convert or fit an image raises :class:`~cardkit.errors.ImageError`.

Face images (ICAO 9303-10 §4.7.2, ISO/IEC 19794-5): decoded from any format Pillow reads, turned
upright by their EXIF orientation, converted to RGB, scaled and centre-cropped to the profile's
exact width × height (the aspect ratio is kept by cropping, never by stretching), then encoded as

* JPEG: baseline (non-progressive: 19794-5 §5.7.2 names ISO/IEC 10918-1 baseline and some
  readers reject progressive JPEG), with no EXIF, ICC or comment segments: metadata on a chip is
  wasted space and a privacy leak (camera serial numbers, GPS, capture times);
* JPEG 2000: a raw **codestream** (``.j2k``, starting ``FF 4F FF 51``), not a JP2 file. ICAO
  allows both. The codestream is chosen because the 19794-5 record already carries what the JP2
  boxes would (dimensions, colour space), so the boxes only cost chip memory, and because every
  reader checked (JMRTD, gmrtd, OpenJPEG via Pillow) accepts the codestream. The quality is the
  target PSNR in dB of a single quality layer (the profile's ``photo.quality``).

The quality is lowered step by step until the encoding fits ``max_bytes``; below a floor the
image is refused rather than degraded into uselessness.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from cardkit.errors import ImageError

if TYPE_CHECKING:
    from PIL import Image
# Pillow is imported by the functions that decode or encode: reading DG2 (a checkpoint's
# verify) needs only detect_format.

ImageKind = Literal["jpeg", "jpeg2000", "png", "gif", "bmp", "tiff", "webp", "wsq"]
FaceFormat = Literal["jpeg", "jpeg2000"]
FingerFormat = Literal["jpeg", "jpeg2000", "png"]

#: JP2 file signature box (ISO/IEC 15444-1 Annex I.5.1).
JP2_SIGNATURE = bytes.fromhex("0000000C6A5020200D0A870A")
#: JPEG 2000 codestream: SOC marker followed by the SIZ marker (ISO/IEC 15444-1 A.4.1, A.5.1).
J2K_CODESTREAM = bytes.fromhex("FF4FFF51")
#: JPEG SOI marker (ISO/IEC 10918-1 B.2.1); the next byte starts another marker.
JPEG_SOI = bytes.fromhex("FFD8FF")
#: WSQ SOI marker (FBI IAFIS-IC-0110, the fingerprint codec 19794-4 calls "WSQ").
WSQ_SOI = bytes.fromhex("FFA0")

_MAGIC: tuple[tuple[bytes, ImageKind], ...] = (
    (JPEG_SOI, "jpeg"),
    (JP2_SIGNATURE[:8], "jpeg2000"),
    (J2K_CODESTREAM, "jpeg2000"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (WSQ_SOI, "wsq"),
)

#: Lowest JPEG quality / JPEG 2000 PSNR (dB) fit_face and fit_finger will go down to.
MIN_JPEG_QUALITY = 20
MIN_JPEG2000_DB = 20.0
_JPEG_STEP = 5
_JPEG2000_STEP_DB = 2.0

#: Refuse absurd inputs before Pillow allocates them (a 100-megapixel photo is already plenty).
_MAX_PIXELS = 100_000_000


@dataclass(frozen=True)
class FittedImage:
    """An image encoded for the chip: exactly ``width`` × ``height`` pixels, in ``format``."""

    data: bytes = field(repr=False)
    width: int
    height: int
    format: str
    quality: float | None = None  # the JPEG quality or JPEG 2000 dB that made it fit

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError("a fitted image has at least one pixel each way")


def detect_format(data: bytes) -> ImageKind | None:
    """The image format announced by ``data``'s magic bytes, or None when unknown."""
    head = bytes(data[:16])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def jpeg2000_container(data: bytes) -> Literal["jp2", "j2k"] | None:
    """``"jp2"`` for a JP2 file, ``"j2k"`` for a raw codestream, None for anything else."""
    if bytes(data[:12]) == JP2_SIGNATURE:
        return "jp2"
    if bytes(data[:4]) == J2K_CODESTREAM:
        return "j2k"
    return None


def _open(data: bytes, what: str) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError(f"{what}: no image data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > _MAX_PIXELS:
                raise ImageError(
                    f"{what}: {img.width}×{img.height} is too large (over {_MAX_PIXELS} pixels)"
                )
            return img
    except ImageError:
        raise
    except UnidentifiedImageError:
        kind = detect_format(data)
        if kind:
            raise ImageError(f"{what}: looks like {kind} but cannot be read (corrupt?)") from None
        raise ImageError(f"{what}: not an image format Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{what}: refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{what}: cannot read the image header: {exc}") from None


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an encoded image, read from its header (no pixel decoding).

    Pillow's ``open`` is lazy: it parses the header (JPEG SOF, PNG IHDR, JPEG 2000 SIZ/ihdr)
    and defers decoding until the pixels are needed. EXIF orientation is not applied: this is
    the stored size, the one an ISO/IEC 19794 record declares.
    """
    img = _open(data, "image")
    return img.width, img.height


def _load(data: bytes, what: str) -> Image.Image:
    from PIL import ImageOps

    img = _open(data, what)
    try:
        img.load()
        # exif_transpose reads the orientation tag and returns an upright copy without it.
        upright = ImageOps.exif_transpose(img)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise ImageError(f"{what}: cannot decode the image: {exc}") from None
    return upright if upright is not None else img


def _flatten(img: Image.Image, mode: Literal["RGB", "L"]) -> Image.Image:
    """Convert to 8-bit ``mode``, compositing any transparency onto white (a photo background)."""
    from PIL import Image

    try:
        if img.mode in ("I", "F") or img.mode.startswith("I;16"):
            # 16/32-bit or float grey: keep the top 8 bits of true 16-bit samples rather than
            # letting convert() clip everything above 255 to white.
            extrema = img.getextrema()
            high = extrema[1] if isinstance(extrema[1], (int, float)) else 255
            img = img.point(lambda v: v / 256) if high > 255 else img
            img = img.convert("F").convert("L")
        elif img.mode in ("P", "PA") or (img.mode in ("L", "RGB") and "transparency" in img.info):
            img = img.convert("RGBA")
        elif img.mode not in ("1", "L", "LA", "RGB", "RGBA", "RGBa", "La"):
            img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
        if img.mode in ("RGBA", "LA", "RGBa", "La"):
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        converted = img.convert(mode)
    except (ValueError, OSError, TypeError) as exc:
        raise ImageError(f"cannot convert a {img.mode} image to {mode}: {exc}") from None
    # A fresh image carries no info dict: no EXIF, ICC profile, comments or DPI leak through.
    clean = Image.new(mode, converted.size)
    clean.paste(converted)
    return clean


def _fit(img: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover width × height keeping the aspect ratio, then crop the centre."""
    from PIL import Image, ImageOps

    return ImageOps.fit(img, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def _encode(img: Image.Image, fmt: str, quality: float) -> bytes:
    buf = io.BytesIO()
    try:
        if fmt == "jpeg":
            img.save(buf, "JPEG", quality=int(quality), optimize=True, progressive=False)
        elif fmt == "jpeg2000":
            img.save(
                buf,
                "JPEG2000",
                no_jp2=True,  # raw codestream, see the module docstring
                irreversible=True,  # 9/7 wavelet: the lossy path
                quality_mode="dB",
                quality_layers=[float(quality)],
            )
        elif fmt == "png":
            img.save(buf, "PNG", optimize=True)
        else:
            raise ImageError(f"unsupported output format {fmt!r}")
    except ImageError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ImageError(f"cannot encode the image as {fmt}: {exc}") from None
    return buf.getvalue()


def _qualities(fmt: str, start: float) -> list[float]:
    if fmt == "jpeg":
        q = int(start)
        if not 1 <= q <= 95:
            raise ImageError("JPEG quality must be 1 to 95")
        steps = [float(v) for v in range(q, MIN_JPEG_QUALITY - 1, -_JPEG_STEP)]
        return steps or [float(q)]
    if fmt == "jpeg2000":
        if not 1.0 <= start <= 100.0:
            raise ImageError("JPEG 2000 quality (target PSNR) must be 1 to 100 dB")
        out: list[float] = []
        db = float(start)
        while db >= MIN_JPEG2000_DB or not out:
            out.append(db)
            db -= _JPEG2000_STEP_DB
        return out
    return [0.0]  # PNG: lossless, one attempt


def _encode_to_fit(
    img: Image.Image, fmt: str, max_bytes: int, quality: float, what: str
) -> FittedImage:
    if max_bytes < 1:
        raise ImageError(f"{what}: max_bytes must be positive")
    smallest = None
    for q in _qualities(fmt, quality):
        data = _encode(img, fmt, q)
        if len(data) <= max_bytes:
            return FittedImage(data, img.width, img.height, fmt, None if fmt == "png" else q)
        smallest = len(data) if smallest is None else min(smallest, len(data))
    floor = {"jpeg": f"quality {MIN_JPEG_QUALITY}", "jpeg2000": f"{MIN_JPEG2000_DB:g} dB"}
    raise ImageError(
        f"{what}: cannot fit {img.width}×{img.height} {fmt} into {max_bytes} bytes "
        f"(smallest was {smallest} bytes at {floor.get(fmt, 'lossless')}); "
        "allow more bytes or a smaller image"
    )


def _check_size(width: int, height: int) -> None:
    if not (1 <= width <= 0xFFFF and 1 <= height <= 0xFFFF):
        raise ImageError("width and height must be 1 to 65535 pixels (ISO/IEC 19794)")


def fit_face(
    image: bytes,
    width: int,
    height: int,
    fmt: FaceFormat,
    max_bytes: int,
    quality: float,
) -> FittedImage:
    """Prepare a face photo for DG2: exactly ``width`` × ``height`` RGB, ≤ ``max_bytes``.

    ``quality`` is the starting JPEG quality (1–95) or JPEG 2000 target PSNR in dB; it is
    lowered by 5 (JPEG) or 2 dB (JPEG 2000) until the result fits, down to a floor.
    """
    if fmt not in ("jpeg", "jpeg2000"):
        raise ImageError(f"face images are JPEG or JPEG 2000 (ISO/IEC 19794-5), not {fmt!r}")
    _check_size(width, height)
    img = _flatten(_load(image, "face image"), "RGB")
    return _encode_to_fit(_fit(img, width, height), fmt, max_bytes, quality, "face image")


def fit_finger(
    image: bytes,
    width: int,
    height: int,
    fmt: FingerFormat,
    max_bytes: int,
    quality: float,
    *,
    source_ppi: int = 500,
    target_ppi: int = 500,
) -> FittedImage:
    """Prepare a fingerprint for DG3: 8-bit grey, exactly ``width`` × ``height``.

    Unlike a face, a fingerprint's scale matters: matchers rely on the resolution the
    ISO/IEC 19794-4 header declares (500 ppi nominal, 19794-4 Table 1 level 31). So the image
    is only rescaled by ``target_ppi / source_ppi`` and then centre-cropped, or padded with
    white (the background of an ink or live-scan print), to the requested size — never
    stretched to fill it. ``fmt`` "png" is lossless and ignores ``quality``.
    """
    if fmt not in ("jpeg", "jpeg2000", "png"):
        raise ImageError(f"unsupported finger image format {fmt!r}")
    if not (50 <= source_ppi <= 5000 and 50 <= target_ppi <= 5000):
        raise ImageError("finger image resolutions must be 50 to 5000 ppi")
    from PIL import Image

    _check_size(width, height)
    img = _flatten(_load(image, "finger image"), "L")
    if source_ppi != target_ppi:
        scale = target_ppi / source_ppi
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (width, height), 255)
    left = (width - img.width) // 2
    top = (height - img.height) // 2
    canvas.paste(img, (left, top))  # negative offsets crop the centre
    return _encode_to_fit(canvas, fmt, max_bytes, quality, "finger image")
