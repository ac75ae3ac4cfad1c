"""Tests for photo and fingerprint preparation (cardkit.lds.image). Images are made in memory."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cardkit.errors import ImageError
from cardkit.lds import image as img

RED = (220, 20, 20)
GREEN = (20, 200, 20)
BLUE = (20, 20, 220)


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def photo(width: int = 120, height: int = 160, mode: str = "RGB") -> Image.Image:
    """A synthetic 'portrait': a gradient with a darker ellipse, so it compresses like a photo."""
    im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    from PIL import ImageDraw

    draw = ImageDraw.Draw(im)
    draw.ellipse((width // 4, height // 5, 3 * width // 4, 4 * height // 5), fill=(150, 110, 90))
    return im.convert(mode)


def decoded(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def close(a: object, b: tuple[int, ...], tol: int = 40) -> bool:
    assert isinstance(a, tuple)
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- detect_format / image_size


@pytest.mark.parametrize(
    ("fmt", "kwargs", "expected"),
    [
        ("JPEG", {}, "jpeg"),
        ("PNG", {}, "png"),
        ("GIF", {}, "gif"),
        ("BMP", {}, "bmp"),
        ("TIFF", {}, "tiff"),
        ("JPEG2000", {}, "jpeg2000"),
        ("JPEG2000", {"no_jp2": True}, "jpeg2000"),
    ],
)
def test_detect_format_and_size(fmt: str, kwargs: dict[str, object], expected: str) -> None:
    data = encode(photo(33, 21), fmt, **kwargs)
    assert img.detect_format(data) == expected
    assert img.image_size(data) == (33, 21)


def test_jpeg2000_containers() -> None:
    # ISO/IEC 15444-1: JP2 files start with the signature box, codestreams with SOC + SIZ.
    jp2 = encode(photo(16, 16), "JPEG2000")
    j2k = encode(photo(16, 16), "JPEG2000", no_jp2=True)
    assert jp2[:12] == bytes.fromhex("0000000C6A5020200D0A870A")
    assert j2k[:4] == bytes.fromhex("FF4FFF51")
    assert img.jpeg2000_container(jp2) == "jp2"
    assert img.jpeg2000_container(j2k) == "j2k"
    assert img.jpeg2000_container(encode(photo(16, 16), "JPEG")) is None


def test_detect_format_unknown_and_wsq() -> None:
    assert img.detect_format(b"") is None
    assert img.detect_format(b"hello world") is None
    assert img.detect_format(bytes.fromhex("FFA0FFA8")) == "wsq"
    assert img.detect_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"


@pytest.mark.parametrize("data", [b"", b"not an image", bytes.fromhex("FFD8FF") + b"\x00" * 8])
def test_image_size_rejects_non_images(data: bytes) -> None:
    with pytest.raises(ImageError):
        img.image_size(data)


# ---------------------------------------------------------------- fit_face


@pytest.mark.parametrize(("fmt", "quality"), [("jpeg", 85), ("jpeg2000", 40)])
def test_fit_face_size_format_and_budget(fmt: img.FaceFormat, quality: int) -> None:
    source = encode(photo(300, 500), "PNG")
    fitted = img.fit_face(source, 240, 320, fmt, max_bytes=20_000, quality=quality)
    assert (fitted.width, fitted.height, fitted.format) == (240, 320, fmt)
    assert len(fitted.data) <= 20_000
    assert img.detect_format(fitted.data) == fmt
    out = decoded(fitted.data)
    assert out.size == (240, 320)
    assert out.mode == "RGB"


def test_fit_face_jpeg2000_is_a_raw_codestream() -> None:
    fitted = img.fit_face(encode(photo(), "JPEG"), 60, 80, "jpeg2000", 20_000, 40)
    assert img.jpeg2000_container(fitted.data) == "j2k"


def test_fit_face_jpeg_is_baseline_without_metadata() -> None:
    source = photo(200, 200)
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x8825] = {2: (10.0, 20.0, 30.0)}  # a GPS IFD
    data = encode(source, "JPEG", exif=exif.tobytes(), comment=b"secret", icc_profile=b"x" * 64)
    assert b"CameraMaker" in data
    fitted = img.fit_face(data, 90, 120, "jpeg", 20_000, 90)
    assert b"CameraMaker" not in fitted.data and b"secret" not in fitted.data
    markers = _jpeg_markers(fitted.data)
    assert 0xE1 not in markers  # no APP1 (EXIF/XMP)
    assert 0xE2 not in markers  # no APP2 (ICC)
    assert 0xFE not in markers  # no COM
    assert 0xC2 not in markers  # not progressive
    assert 0xC0 in markers or 0xC1 in markers
    out = decoded(fitted.data)
    assert "exif" not in out.info and "icc_profile" not in out.info


def _jpeg_markers(data: bytes) -> list[int]:
    """Marker codes of the segments before the scan (ISO/IEC 10918-1 B.1.1.2)."""
    markers, i = [], 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return markers


def test_fit_face_applies_exif_orientation() -> None:
    # 40×20 landscape, top half red, bottom half blue, orientation 6 ("rotate 90° CW to view"):
    # upright it is 20×40 portrait with red on the right and blue on the left.
    im = Image.new("RGB", (40, 20), BLUE)
    im.paste(RED, (0, 0, 40, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(im, "JPEG", exif=exif.tobytes(), quality=95)
    fitted = img.fit_face(data, 20, 40, "jpeg", 10_000, 95)
    out = decoded(fitted.data).convert("RGB")
    assert close(out.getpixel((16, 20)), RED)
    assert close(out.getpixel((3, 20)), BLUE)


def test_fit_face_crops_instead_of_stretching() -> None:
    # 300×100: thirds red | green | blue. Fitted to 100×100, the centre third fills the frame.
    im = Image.new("RGB", (300, 100), RED)
    im.paste(GREEN, (100, 0, 200, 100))
    im.paste(BLUE, (200, 0, 300, 100))
    fitted = img.fit_face(encode(im, "PNG"), 100, 100, "jpeg", 10_000, 95)
    out = decoded(fitted.data).convert("RGB")
    for x in (3, 50, 96):
        assert close(out.getpixel((x, 50)), GREEN)


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "LA", "CMYK", "I;16"])
def test_fit_face_converts_any_mode_to_rgb(mode: str) -> None:
    source = photo(50, 60).convert(mode) if mode != "I;16" else photo(50, 60).convert("I;16")
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    fitted = img.fit_face(encode(source, fmt), 30, 40, "jpeg", 10_000, 80)
    assert decoded(fitted.data).mode == "RGB"


def test_fit_face_transparency_becomes_white() -> None:
    im = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    fitted = img.fit_face(encode(im, "PNG"), 20, 20, "jpeg", 10_000, 95)
    assert close(decoded(fitted.data).convert("RGB").getpixel((10, 10)), (255, 255, 255), 8)


@pytest.mark.parametrize("fmt", ["jpeg", "jpeg2000"])
def test_fit_face_lowers_quality_to_fit(fmt: img.FaceFormat) -> None:
    source = encode(photo(240, 320), "PNG")
    start = 95 if fmt == "jpeg" else 60
    roomy = img.fit_face(source, 240, 320, fmt, 1_000_000, start)
    budget = len(roomy.data) * 2 // 3
    tight = img.fit_face(source, 240, 320, fmt, budget, start)
    assert len(tight.data) <= budget
    assert tight.quality is not None and roomy.quality is not None
    assert tight.quality < roomy.quality


@pytest.mark.parametrize("fmt", ["jpeg", "jpeg2000"])
def test_fit_face_too_small_budget_raises(fmt: img.FaceFormat) -> None:
    with pytest.raises(ImageError, match="cannot fit"):
        img.fit_face(encode(photo(), "PNG"), 120, 160, fmt, max_bytes=100, quality=40)


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (b"", {}, "no image data"),
        (b"definitely not an image", {}, "not an image format"),
        (bytes.fromhex("FFD8FFE0") + b"\x00" * 40, {}, "looks like jpeg"),
        (None, {"fmt": "png"}, "JPEG or JPEG 2000"),
        (None, {"width": 0}, "1 to 65535"),
        (None, {"max_bytes": 0}, "max_bytes"),
        (None, {"quality": 0}, "quality"),
    ],
)
def test_fit_face_errors(data: bytes | None, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "image": data if data is not None else encode(photo(), "PNG"),
        "width": 30,
        "height": 40,
        "fmt": "jpeg",
        "max_bytes": 10_000,
        "quality": 80,
    }
    args.update(kwargs)
    with pytest.raises(ImageError, match=message):
        img.fit_face(**args)  # type: ignore[arg-type]


@settings(max_examples=15)
@given(
    st.integers(8, 200),
    st.integers(8, 200),
    st.integers(8, 96),
    st.integers(8, 96),
    st.sampled_from(["jpeg", "jpeg2000"]),
)
def test_fit_face_any_size(sw: int, sh: int, w: int, h: int, fmt: img.FaceFormat) -> None:
    fitted = img.fit_face(
        encode(photo(sw, sh), "PNG"), w, h, fmt, 50_000, 80 if fmt == "jpeg" else 40
    )
    assert decoded(fitted.data).size == (w, h) == (fitted.width, fitted.height)
    assert img.image_size(fitted.data) == (w, h)


# ---------------------------------------------------------------- fit_finger


@pytest.mark.parametrize(("fmt", "quality"), [("jpeg", 90), ("jpeg2000", 45), ("png", 0)])
def test_fit_finger_grey_exact_size(fmt: img.FingerFormat, quality: int) -> None:
    source = encode(photo(300, 400), "JPEG")
    fitted = img.fit_finger(source, 256, 360, fmt, 100_000, quality)
    out = decoded(fitted.data)
    assert out.size == (256, 360)
    assert out.mode == "L"
    assert img.detect_format(fitted.data) == fmt


def test_fit_finger_rescales_by_resolution_and_pads_white() -> None:
    # A 100×100 black square scanned at 1000 ppi is 50×50 at 500 ppi, centred on white.
    black = encode(Image.new("L", (100, 100), 0), "PNG")
    fitted = img.fit_finger(black, 80, 80, "png", 100_000, 0, source_ppi=1000, target_ppi=500)
    out = decoded(fitted.data)
    assert out.getpixel((40, 40)) == 0
    assert out.getpixel((2, 2)) == 255
    assert out.getpixel((77, 40)) == 255
    assert out.getpixel((20, 40)) == 0  # 15..65 is the square


def test_fit_finger_errors() -> None:
    with pytest.raises(ImageError, match="ppi"):
        img.fit_finger(encode(photo(), "PNG"), 10, 10, "png", 1000, 0, source_ppi=1)
    with pytest.raises(ImageError, match="format"):
        img.fit_finger(encode(photo(), "PNG"), 10, 10, "gif", 1000, 0)  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="cannot fit"):
        img.fit_finger(encode(photo(), "PNG"), 100, 100, "png", 50, 0)


@pytest.mark.parametrize("fit", [img.fit_face, img.fit_finger])
def test_16_bit_grey_keeps_its_tones(fit: object) -> None:
    # A true 16-bit grey PNG at half scale (32768) must come out mid-grey, not clipped to white.
    im = Image.new("I", (40, 40), 32768).convert("I;16")
    assert callable(fit)
    fitted = fit(encode(im, "PNG"), 40, 40, "jpeg", 10_000, 90)
    value = decoded(fitted.data).convert("L").getpixel((20, 20))
    assert isinstance(value, int) and 110 <= value <= 146


@pytest.mark.parametrize("mode", ["LAB", "YCbCr", "CMYK", "F", "1"])
def test_fit_finger_converts_any_mode_to_grey(mode: str) -> None:
    source = encode(photo(50, 60).convert(mode), "TIFF")
    fitted = img.fit_finger(source, 30, 40, "png", 10_000, 0)
    assert decoded(fitted.data).mode == "L"
