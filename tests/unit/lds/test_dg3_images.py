"""Issue 15 §6: DG3's finger images shown. The profile's JPEG 2000 finger images (and PNG, JPEG,
raw grey pixels) decode to PNG files named by their ISO/IEC 19794-4:2005 finger position
(Table 5); a malformed DG3 is an EncodingError, an image that does not decode an ImageError."""

from __future__ import annotations

import contextlib
import io
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cardkit.cli.main import cli
from cardkit.errors import EncodingError, ImageError
from cardkit.lds import dg3 as dg3_module
from cardkit.lds.build import _dg3, fit_finger_for
from cardkit.lds.dg3 import Dg3, FingerImage, FingerRecord, position_label, position_slug
from cardkit.lds.image import WSQ_SOI
from cardkit.services.fingerprints import finger_pictures, write_finger_images

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples" / "fingerprints"


def _sample(n: int) -> bytes:
    return (SAMPLES / f"finger-{n:02d}.png").read_bytes()


def _png(size: tuple[int, int], value: int = 100, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def profile_dg3() -> Dg3:
    """DG3 as the profiles build it: right and left index, JPEG 2000, 400 × 500 at 500 ppi."""
    return Dg3.from_bytes(_dg3([_sample(1), _sample(2)]).raw)


def test_position_labels_follow_19794_4_table_5() -> None:
    assert position_label(0) == "unknown finger"
    assert position_label(1) == "right thumb"
    assert position_label(2) == "right index"
    assert position_label(6) == "left thumb"
    assert position_label(7) == "left index"
    assert position_label(10) == "left little"
    assert position_label(42) == "position 42"
    assert position_slug(7) == "left-index"


def test_the_profiles_jpeg2000_fingers_become_png_files(profile_dg3: Dg3, tmp_path: Path) -> None:
    paths = write_finger_images(profile_dg3.raw, tmp_path / "out")
    assert [p.name for p in paths] == ["DG3-right-index.png", "DG3-left-index.png"]
    for path, (_record, finger) in zip(paths, profile_dg3.finger_images(), strict=True):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # personal data
        with Image.open(path) as img:
            assert img.format == "PNG" and img.mode == "L"
            assert img.size == (finger.width, finger.height) == (400, 500)
            # Lossless conversion: the PNG holds exactly the pixels the JPEG 2000 decodes to.
            with Image.open(io.BytesIO(finger.image)) as original:
                assert img.tobytes() == original.convert("L").tobytes()


def test_pictures_carry_the_position_and_source_format(profile_dg3: Dg3) -> None:
    pictures = finger_pictures(profile_dg3)
    assert [(p.position, p.label, p.source_format) for p in pictures] == [
        (2, "right index", "jpeg2000"),
        (7, "left index", "jpeg2000"),
    ]


def test_png_images_are_kept_as_stored_and_jpeg_converted() -> None:
    png = _png((40, 50))
    dg = Dg3.build(
        [FingerImage(dg3_module.POSITION_LEFT_THUMB, png, 40, 50)],
        compression=dg3_module.COMPRESSION_PNG,
    )
    (picture,) = finger_pictures(dg.raw)
    assert picture.name == "DG3-left-thumb.png" and picture.data == png
    jpeg = _png((40, 50), fmt="JPEG")
    dg = Dg3.build(
        [FingerImage(dg3_module.POSITION_RIGHT_THUMB, jpeg, 40, 50)],
        compression=dg3_module.COMPRESSION_JPEG,
    )
    (picture,) = finger_pictures(dg.raw)
    assert picture.source_format == "jpeg" and picture.data.startswith(b"\x89PNG")


def test_raw_pixels_and_a_second_view_of_one_finger() -> None:
    pixels = bytes(range(256)) * 4  # 32 × 32
    fingers = [
        FingerImage(dg3_module.POSITION_RIGHT_INDEX, pixels, 32, 32),
        FingerImage(dg3_module.POSITION_RIGHT_INDEX, pixels, 32, 32, view_number=2),
    ]
    dg = Dg3.build(fingers, compression=dg3_module.COMPRESSION_UNCOMPRESSED)
    pictures = finger_pictures(dg.raw)
    assert [p.name for p in pictures] == ["DG3-right-index.png", "DG3-right-index-2.png"]
    with Image.open(io.BytesIO(pictures[0].data)) as img:
        assert img.size == (32, 32) and img.tobytes() == pixels


def test_wsq_is_written_as_it_is(tmp_path: Path) -> None:
    wsq = WSQ_SOI + b"\x00" * 20
    dg = Dg3.build(
        [FingerImage(dg3_module.POSITION_LEFT_INDEX, wsq, 10, 10)],
        compression=dg3_module.COMPRESSION_WSQ,
    )
    (path,) = write_finger_images(dg.raw, tmp_path)
    assert path.name == "DG3-left-index.wsq" and path.read_bytes() == wsq


def test_a_corrupt_image_is_an_image_error_and_nothing_is_written(tmp_path: Path) -> None:
    good = fit_finger_for(_sample(1))
    bad = good.data[:40] + b"\x00" * 100  # the JPEG 2000 header survives, the codestream not
    record = FingerRecord(
        fingers=(
            FingerImage(dg3_module.POSITION_RIGHT_INDEX, good.data, good.width, good.height),
            FingerImage(dg3_module.POSITION_LEFT_INDEX, bad, good.width, good.height),
        ),
        compression=dg3_module.COMPRESSION_JPEG2000,
    )
    dg = Dg3.from_records([record])
    with pytest.raises(ImageError, match="left index"):
        write_finger_images(dg.raw, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_raw_pixels_that_do_not_fill_the_header_are_refused() -> None:
    record = FingerRecord(
        fingers=(FingerImage(dg3_module.POSITION_RIGHT_INDEX, b"\x00" * 10, 4, 4),),
        compression=dg3_module.COMPRESSION_UNCOMPRESSED,
    )
    dg = Dg3(records=(record,), raw=b"")  # skips build-time validation: as a hostile chip might
    with pytest.raises(ImageError, match="raw pixels"):
        finger_pictures(dg)


def test_a_malformed_dg3_is_an_encoding_error(profile_dg3: Dg3) -> None:
    for data in (b"", b"\x63\x00", profile_dg3.raw[:-1], profile_dg3.raw[:200]):
        with pytest.raises(EncodingError):
            write_finger_images(data, Path("/nonexistent/never-written"))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_leak_another_exception(data: bytes) -> None:
    with contextlib.suppress(EncodingError, ImageError):
        finger_pictures(b"\x63" + bytes([len(data)]) + data if len(data) < 128 else data)


@settings(max_examples=40, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=15),
    width=st.integers(min_value=1, max_value=24),
    height=st.integers(min_value=1, max_value=24),
    seed=st.integers(min_value=0, max_value=255),
)
def test_raw_pixels_round_trip_through_png(
    position: int, width: int, height: int, seed: int
) -> None:
    pixels = bytes((seed + i * 7) % 256 for i in range(width * height))
    dg = Dg3.build(
        [FingerImage(position, pixels, width, height)],
        compression=dg3_module.COMPRESSION_UNCOMPRESSED,
    )
    (picture,) = finger_pictures(Dg3.from_bytes(dg.raw))
    assert picture.name == f"DG3-{position_slug(position)}.png"
    assert "/" not in picture.name and " " not in picture.name
    with Image.open(io.BytesIO(picture.data)) as img:
        assert img.size == (width, height) and img.tobytes() == pixels


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=255))
def test_every_position_has_a_file_name(position: int) -> None:
    slug = position_slug(position)
    assert slug and all(c.isalnum() or c == "-" for c in slug)


def test_lds_dump_describes_the_records_and_writes_the_fingers(
    profile_dg3: Dg3, tmp_path: Path
) -> None:
    source = tmp_path / "DG3.bin"
    source.write_bytes(profile_dg3.raw)
    result = CliRunner().invoke(
        cli, ["lds", "dump", str(source), "--fingers-out", str(tmp_path / "fingers")]
    )
    assert result.exit_code == 0, result.output
    for text in ("position: right index", "position_code: 7", "image_format: jpeg2000",
                 "width: 400", "height: 500", "compression: jpeg2000", "image_bytes:"):  # fmt: skip
        assert text in result.output
    assert sorted(p.name for p in (tmp_path / "fingers").iterdir()) == [
        "DG3-left-index.png",
        "DG3-right-index.png",
    ]
