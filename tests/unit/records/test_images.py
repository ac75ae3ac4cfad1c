"""Image checks: present and decodable without a full decode, the same verdicts and messages as
a full decode, each file checked once per run."""

from __future__ import annotations

import io
import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cardkit.profile import Profile, load_profile
from cardkit.records import images
from cardkit.records.images import ImageChecks, Probe, probe, probe_full
from cardkit.records.load import RawRecord, load_records
from cardkit.records.validate import Validated, validate, validate_stream

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
PHOTO = SAMPLES / "photos" / "citizen-01.jpg"
FINGER = SAMPLES / "fingerprints" / "finger-01.png"
TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile("vn-cccd-2021")


@pytest.fixture(scope="module")
def base() -> dict[str, str]:
    return dict(load_records(SAMPLES / "citizens.csv")[0].fields)


def with_photo(profile: Profile, base: dict[str, str], photo: Path) -> Validated:
    return validate(RawRecord("t.csv", 2, {**base, "photo_path": str(photo)}), profile, TODAY)


def problems(v: Validated) -> list[tuple[str, str]]:
    return [(p.code, p.message) for p in v.problems]


def encoded(
    fmt: str, size: tuple[int, int] = (240, 320), mode: str = "RGB", **options: object
) -> bytes:
    with Image.open(PHOTO) as im:
        out = io.BytesIO()
        im.convert(mode).resize(size).save(out, fmt, **options)
    return out.getvalue()


# -------------------------------------------------------------------------- verdicts, messages


@pytest.mark.parametrize("keep", [0.5, 0.9, -2, -1])
def test_a_truncated_jpeg_is_undecodable(
    tmp_path: Path, profile: Profile, base: dict[str, str], keep: float
) -> None:
    data = PHOTO.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: int(len(data) * keep)] if keep > 0 else data[: int(keep)])
    with Image.open(cut) as im:
        assert im.size == (480, 640)  # the header is intact: only decoding finds the damage
    assert problems(with_photo(profile, base, cut)) == [
        ("photo.decode", "photo_path: not a decodable image (OSError)")
    ]
    assert probe(cut) == probe_full(cut) == Probe(None, "OSError")


def test_a_png_renamed_jpg_is_read_by_its_content(
    tmp_path: Path, profile: Profile, base: dict[str, str]
) -> None:
    renamed = tmp_path / "photo.jpg"
    shutil.copy(FINGER, renamed)  # 256x320: large enough for the profile's 240x320
    assert with_photo(profile, base, renamed).ok
    renamed.write_bytes(FINGER.read_bytes()[:20000])
    assert problems(with_photo(profile, base, renamed)) == [
        ("photo.decode", f"photo_path: not a decodable image ({probe_full(renamed).error})")
    ]


def test_a_zero_byte_file_is_undecodable(
    tmp_path: Path, profile: Profile, base: dict[str, str]
) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert problems(with_photo(profile, base, empty)) == [
        ("photo.decode", "photo_path: not a decodable image (UnidentifiedImageError)")
    ]


def test_what_is_not_a_file_is_missing(
    tmp_path: Path, profile: Profile, base: dict[str, str]
) -> None:
    for path in (tmp_path, tmp_path / "nope.jpg"):
        assert problems(with_photo(profile, base, path)) == [
            ("photo.missing", "photo_path: file not found")
        ]
    nul = with_photo(profile, base, Path(str(tmp_path) + "/a\0b.jpg"))  # never raises
    assert ("photo.missing", "photo_path: file not found") in problems(nul)


def test_sizes_come_from_the_header(tmp_path: Path, profile: Profile, base: dict[str, str]) -> None:
    small = tmp_path / "small.jpg"
    small.write_bytes(encoded("JPEG", (200, 300)))
    assert problems(with_photo(profile, base, small)) == [
        (
            "photo.size",
            "photo_path: image is 200x300 pixels; the profile needs at least 240x320",
        )
    ]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("baseline.jpg", encoded("JPEG")),
        ("progressive.jpg", encoded("JPEG", progressive=True)),
        ("grey.jpg", encoded("JPEG", mode="L")),
        ("cmyk.jpg", encoded("JPEG", mode="CMYK")),
        ("photo.png", encoded("PNG")),
        ("photo.jp2", encoded("JPEG2000")),
        ("photo.j2k", encoded("JPEG2000", no_jp2=True)),
    ],
)
def test_good_files_never_need_a_full_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    monkeypatch.setattr(images, "probe_full", lambda path: pytest.fail("decoded in full"))
    assert probe(path) == Probe((240, 320))


def test_other_formats_are_decoded_in_full(tmp_path: Path) -> None:
    path = tmp_path / "photo.bmp"
    path.write_bytes(encoded("BMP"))
    assert probe(path) == probe_full(path) == Probe((240, 320))
    path.write_bytes(path.read_bytes()[:-100])
    assert probe(path) == probe_full(path) == Probe(None, "OSError")


def test_a_quick_check_that_fails_is_decided_by_the_full_decode(tmp_path: Path) -> None:
    # A PNG without its IEND chunk: verify() refuses it, a full decode reads every pixel. The
    # full decode decides, as before: never refused when it decodes.
    data = FINGER.read_bytes()
    assert data.endswith(b"IEND\xae\x42\x60\x82")
    path = tmp_path / "no-iend.png"
    path.write_bytes(data[:-12])
    with Image.open(path) as im, pytest.raises(OSError):
        im.verify()
    assert probe(path) == probe_full(path) == Probe((256, 320))


# ------------------------------------------------------------- property: quick == full decode


def _damaged(data: bytes, keep: int, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data[: keep % (len(data) + 1)])
    for at, value in flips:
        if out:
            out[at % len(out)] = value
    return bytes(out)


@pytest.fixture(scope="module")
def originals() -> dict[str, bytes]:
    return {
        "baseline.jpg": PHOTO.read_bytes(),
        "progressive.jpg": encoded("JPEG", progressive=True),
        "finger.png": FINGER.read_bytes(),
        "small.jp2": encoded("JPEG2000", (60, 80)),
    }


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images")


@given(
    name=st.sampled_from(["baseline.jpg", "progressive.jpg", "finger.png", "small.jp2"]),
    keep=st.integers(min_value=0),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=3),
)
def test_the_quick_check_agrees_with_a_full_decode(
    originals: dict[str, bytes],
    scratch: Path,
    name: str,
    keep: int,
    flips: list[tuple[int, int]],
) -> None:
    if name.endswith(".jp2"):
        flips = []  # OpenJPEG on random bytes is slow; truncation is what matters here
    path = scratch / name
    path.write_bytes(_damaged(originals[name], keep, flips))
    assert probe(path) == probe_full(path)


# ---------------------------------------------------------------------------------- the cache


def test_a_file_shared_by_rows_is_checked_once(
    tmp_path: Path, profile: Profile, base: dict[str, str]
) -> None:
    raws = [
        RawRecord("t.csv", row, {**base, "id_number": base["id_number"][:6] + f"{row:06d}"})
        for row in range(2, 12)
    ]
    checks = ImageChecks()
    results = list(validate_stream(raws, profile, TODAY, images=checks))
    assert all(r.ok for r in results)
    assert checks.probes == 1 + len(base["fingerprint_paths"].split(";"))


def test_a_file_changed_during_the_run_is_checked_again(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    shutil.copy(PHOTO, path)
    checks = ImageChecks()
    assert checks.problem(path, (240, 320)) is None
    assert checks.problem(str(path), (240, 320)) is None
    assert checks.probes == 1
    path.write_bytes(PHOTO.read_bytes()[:5000])  # another size (and modification time)
    assert checks.problem(path, (240, 320)) == ("decode", "not a decodable image (OSError)")
    assert checks.probes == 2
    os.utime(path, ns=(0, 0))  # same size, another modification time
    assert checks.problem(path, None) is not None and checks.probes == 3


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    paths = [tmp_path / f"p{i}.jpg" for i in range(3)]
    for path in paths:
        shutil.copy(PHOTO, path)
    checks = ImageChecks(capacity=2)
    for path in [*paths, paths[2], paths[0]]:
        assert checks.problem(path, None) is None
    # p0, p1, p2 probed; p2 still kept; p0 had been forgotten (the oldest) and is probed again.
    assert checks.probes == 4


def test_full_decode_mode_decodes_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str | Path] = []

    def counting(path: str | Path) -> Probe:
        calls.append(path)
        return Probe((480, 640))

    monkeypatch.setattr(images, "probe_full", counting)
    assert ImageChecks(full_decode=True).problem(PHOTO, (240, 320)) is None
    assert calls == [PHOTO]
