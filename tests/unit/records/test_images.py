"""Image checks in validation: present, whole and well formed (a structural walk, no decoding)
by default, decoded too at depth "decode", every pixel at depth "full"; messages naming the
file and the fault; each file checked once per run."""

from __future__ import annotations

import io
import os
import shutil
import zlib
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from cardkit.profile import Profile, load_profile
from cardkit.records import images
from cardkit.records.images import ImageChecks, Probe, probe, probe_bytes, probe_full
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


def with_photo(
    profile: Profile, base: dict[str, str], photo: Path, checks: ImageChecks | None = None
) -> Validated:
    raw = RawRecord("t.csv", 2, {**base, "photo_path": str(photo)})
    return validate(raw, profile, TODAY, images=checks)


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
def test_a_truncated_jpeg_is_refused_by_name(
    tmp_path: Path, profile: Profile, base: dict[str, str], keep: float
) -> None:
    data = PHOTO.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: int(len(data) * keep)] if keep > 0 else data[: int(keep)])
    with Image.open(cut) as im:
        assert im.size == (480, 640)  # the header is intact: the end is what is missing
    assert problems(with_photo(profile, base, cut)) == [
        ("photo.decode", f"photo_path: {cut}: truncated: no EOI marker")
    ]
    assert probe_full(cut).size is None  # as a full decode finds


def test_a_damaged_fingerprint_is_refused_by_name(
    tmp_path: Path, profile: Profile, base: dict[str, str]
) -> None:
    damaged = tmp_path / "finger.png"
    data = bytearray(FINGER.read_bytes())
    data[5000] ^= 0x40
    damaged.write_bytes(bytes(data))
    raw = RawRecord("t.csv", 2, {**base, "fingerprint_paths": f"{FINGER};{damaged}"})
    assert problems(validate(raw, profile, TODAY)) == [
        (
            "fingerprint.decode",
            f"fingerprint 2: {damaged}: damaged: chunk IDAT at offset 33 fails its CRC",
        )
    ]


def test_a_png_renamed_jpg_is_read_by_its_content(
    tmp_path: Path, profile: Profile, base: dict[str, str]
) -> None:
    renamed = tmp_path / "photo.jpg"
    shutil.copy(FINGER, renamed)  # 256x320: large enough for the profile's 240x320
    assert with_photo(profile, base, renamed).ok
    renamed.write_bytes(FINGER.read_bytes()[:20000])
    [(code, message)] = problems(with_photo(profile, base, renamed))
    assert code == "photo.decode"
    assert message.startswith(f"photo_path: {renamed}: truncated: chunk IDAT at offset ")


def test_an_empty_file_and_text_are_refused(
    tmp_path: Path, profile: Profile, base: dict[str, str]
) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert problems(with_photo(profile, base, empty)) == [
        ("photo.decode", f"photo_path: {empty}: empty file")
    ]
    text = SAMPLES / "photos" / "broken-not-an-image.jpg"
    assert problems(with_photo(profile, base, text)) == [
        (
            "photo.decode",
            f"photo_path: {text}: not an image file (JPEG, JPEG 2000, PNG or another format "
            "Pillow reads)",
        )
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


def test_a_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    assert probe(tmp_path) == Probe(None, f"{tmp_path}: cannot be read (Is a directory)")
    assert probe(str(tmp_path) + "/a\0b") == Probe(None, f"{tmp_path}/a\0b: cannot be read")


def test_a_huge_file_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.jpg"
    path.write_bytes(PHOTO.read_bytes())
    monkeypatch.setattr(images, "MAX_FILE_BYTES", 1000)
    assert probe(path).error == (
        f"{path}: {path.stat().st_size} bytes, larger than an image file may be"
    )


def test_sizes_come_from_the_header(tmp_path: Path, profile: Profile, base: dict[str, str]) -> None:
    small = tmp_path / "small.jpg"
    small.write_bytes(encoded("JPEG", (200, 300)))
    assert problems(with_photo(profile, base, small)) == [
        (
            "photo.size",
            "photo_path: image is 200x300 pixels; the profile needs at least 240x320",
        )
    ]


# ------------------------------------------------------------------------------------- depths

GOOD = [
    ("baseline.jpg", encoded("JPEG")),
    ("progressive.jpg", encoded("JPEG", progressive=True)),
    ("grey.jpg", encoded("JPEG", mode="L")),
    ("cmyk.jpg", encoded("JPEG", mode="CMYK")),
    ("photo.png", encoded("PNG")),
    ("palette.png", encoded("PNG", mode="P")),
    ("photo.jp2", encoded("JPEG2000")),
    ("one-level.jp2", encoded("JPEG2000", num_resolutions=1)),  # reduce: at most its levels
    ("photo.j2k", encoded("JPEG2000", no_jp2=True)),
]


@pytest.mark.parametrize(("name", "data"), GOOD)
def test_good_files_pass_at_every_depth(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    for depth in images.DEPTHS:
        assert probe(path, depth) == Probe((240, 320)), depth


@pytest.mark.parametrize(("name", "data"), GOOD)
def test_the_structure_needs_no_pillow(
    monkeypatch: pytest.MonkeyPatch, name: str, data: bytes
) -> None:
    monkeypatch.setattr(images, "_pillow", lambda data, name: pytest.fail("decoded"))
    monkeypatch.setattr(images, "_decode", lambda data, name, facts: pytest.fail("decoded"))
    assert probe_bytes(data, name) == Probe((240, 320))


def test_other_formats_are_decoded_in_full(tmp_path: Path) -> None:
    path = tmp_path / "photo.bmp"
    path.write_bytes(encoded("BMP"))
    assert probe(path) == probe_full(path) == Probe((240, 320))
    path.write_bytes(path.read_bytes()[:-100])
    assert probe(path) == probe_full(path)
    assert probe(path).error.startswith(f"{path}: Pillow cannot decode it (OSError: ")


def test_the_structure_is_stricter_than_pillow_at_the_end() -> None:
    # Pillow decodes a PNG without IEND and a JPEG with bytes after EOI; neither file is whole.
    png = FINGER.read_bytes()
    assert probe_bytes(png[:-12], "f.png", "full").size == (256, 320)
    assert probe_bytes(png[:-12], "f.png") == Probe(None, "f.png: truncated: no IEND chunk")
    jpeg = PHOTO.read_bytes() + b"\0" * 10
    assert probe_bytes(jpeg, "p.jpg", "full").size == (480, 640)
    assert probe_bytes(jpeg, "p.jpg").error.startswith(
        "p.jpg: malformed: 10 bytes after the EOI marker"
    )


def short_png(size: tuple[int, int]) -> bytes:
    """A PNG whose zlib stream is whole but too short for its size, every CRC right: the
    structure passes, inflating it does not."""
    png = encoded("PNG", size, mode="L")
    idat = png.index(b"IDAT") - 4
    return png[:idat] + png_chunk(b"IDAT", zlib.compress(b"\0" * 81)) + png_chunk(b"IEND", b"")


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body).to_bytes(4, "big")
    return len(body).to_bytes(4, "big") + kind + body + crc


def test_the_decode_depth_finds_damage_inside_the_data() -> None:
    short = short_png((60, 80))
    assert probe_bytes(short, "s.png") == Probe((60, 80))
    assert probe_bytes(short, "s.png", "decode") == Probe(
        None, "s.png: malformed: 81 bytes of pixel data, IHDR implies 4880"
    )
    assert probe_bytes(short, "s.png", "full").size is None


def test_the_decode_depth_names_what_pillow_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    files = (("p.jpg", encoded("JPEG")), ("p.jp2", encoded("JPEG2000")))

    def failing(self: ImageFile.ImageFile) -> None:
        raise OSError("broken data stream when reading image file")

    monkeypatch.setattr(ImageFile.ImageFile, "load", failing)
    for name, data in files:
        assert probe_bytes(data, name, "decode") == Probe(
            None, f"{name}: Pillow cannot decode it (OSError: broken data stream when reading "
            "image file)",
        )  # fmt: skip


def test_an_unknown_depth_is_refused() -> None:
    with pytest.raises(ValueError, match="depth must be one of structure, decode, full"):
        ImageChecks(depth="deep")  # type: ignore[arg-type]


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
    assert checks.problem(path, (240, 320)) == ("decode", f"{path}: truncated: no EOI marker")
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


@pytest.mark.parametrize("depth", images.DEPTHS)
def test_each_depth_is_what_the_checks_use(
    monkeypatch: pytest.MonkeyPatch, depth: images.Depth
) -> None:
    calls: list[tuple[str, str]] = []

    def counting(data: bytes, name: str, depth: images.Depth = "structure") -> Probe:
        calls.append((name, depth))
        return Probe((480, 640))

    monkeypatch.setattr(images, "probe_bytes", counting)
    assert ImageChecks(depth=depth).problem(PHOTO, (240, 320)) is None
    assert calls == [(str(PHOTO), depth)]


def test_the_depth_reaches_the_workers(tmp_path: Path, profile: Profile) -> None:
    photo = tmp_path / "short.png"
    photo.write_bytes(short_png((240, 320)))
    raws = [
        RawRecord(r.source, r.row, {**r.fields, "photo_path": str(photo), "fingerprint_paths": ""})
        for r in load_records(SAMPLES / "citizens.csv")[:3]
    ]
    for depth, ok in (("structure", True), ("decode", False)):
        checks = ImageChecks(depth=depth)  # type: ignore[arg-type]
        results = list(validate_stream(raws, profile, TODAY, jobs=2, images=checks))
        assert [r.ok for r in results] == [ok] * 3, depth
