"""The structural walk of JPEG, JPEG 2000 and PNG files: good files pass, a cut anywhere fails,
damage gives a message naming the file and the fault and never another exception, and what
the walk passes Pillow decodes, but for rare damage inside the headers."""

from __future__ import annotations

import io
import random
import re
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cardkit.errors import ImageError
from cardkit.records.images import probe_bytes
from cardkit.records.structure import Facts, inflate_png, sniff, walk

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
PHOTO = SAMPLES / "photos" / "citizen-01.jpg"
FINGER = SAMPLES / "fingerprints" / "finger-01.png"


def encoded(
    fmt: str, size: tuple[int, int] = (240, 320), mode: str = "RGB", **options: object
) -> bytes:
    with Image.open(PHOTO) as im:
        out = io.BytesIO()
        im.convert(mode).resize(size).save(out, fmt, **options)
    return out.getvalue()


def good_files() -> dict[str, bytes]:
    return {
        "photo.jpg": PHOTO.read_bytes(),
        "finger.png": FINGER.read_bytes(),
        "baseline.jpg": encoded("JPEG"),
        "progressive.jpg": encoded("JPEG", progressive=True),
        "grey.jpg": encoded("JPEG", mode="L"),
        "grey-progressive.jpg": encoded("JPEG", mode="L", progressive=True),
        "cmyk.jpg": encoded("JPEG", mode="CMYK"),
        "optimized.jpg": encoded("JPEG", optimize=True),
        "444.jpg": encoded("JPEG", subsampling=0, quality=95),
        "restart-blocks.jpg": encoded("JPEG", restart_marker_blocks=1),
        "restart-rows.jpg": encoded("JPEG", restart_marker_rows=1),
        "exif.jpg": encoded("JPEG", exif=exif()),
        "icc.jpg": encoded("JPEG", icc_profile=bytes(range(256)) * 300),  # several APP2
        "rgb.png": encoded("PNG"),
        "grey.png": encoded("PNG", mode="L"),
        "palette.png": encoded("PNG", mode="P"),
        "rgba.png": encoded("PNG", mode="RGBA"),
        "bilevel.png": encoded("PNG", mode="1"),
        "16bit.png": encoded("PNG", mode="I;16"),
        "interlaced.png": interlaced_png(),
        "lossless.jp2": encoded("JPEG2000"),
        "lossy.jp2": encoded("JPEG2000", quality_mode="rates", quality_layers=[20]),
        "tiled.jp2": encoded("JPEG2000", tile_size=(64, 64)),
        "grey.jp2": encoded("JPEG2000", mode="L"),
        "one-level.jp2": encoded("JPEG2000", num_resolutions=1),
        "plt.jp2": encoded("JPEG2000", plt=True),
        "bare.j2k": encoded("JPEG2000", no_jp2=True),
    }


def exif() -> bytes:
    tags = Image.Exif()
    tags[0x010F] = "cardkit"  # Make
    tags[0x9286] = "\xff\xd9\xff\x00 a user comment with markers in it"  # UserComment
    return tags.tobytes()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def interlaced_png(width: int = 13, height: int = 11) -> bytes:
    """An Adam7-interlaced greyscale PNG (Pillow writes none): every pass's rows, filter 0."""
    rows = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                           (1, 0, 2, 2), (0, 1, 1, 2)):  # fmt: skip
        w, h = len(range(x0, width, dx)), len(range(y0, height, dy))
        if w and h:
            rows += (b"\x00" + bytes(range(w))) * h
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


GOOD = good_files()


def refusal(data: bytes, name: str = "x.jpg") -> str:
    with pytest.raises(ImageError) as caught:
        walk(data, name)
    return str(caught.value)


# ----------------------------------------------------------------------------------- good files


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_files_pass_with_their_size(name: str) -> None:
    data = GOOD[name]
    facts = walk(data, name)
    assert facts is not None
    with Image.open(io.BytesIO(data)) as im:
        assert (facts.width, facts.height) == im.size
        assert facts.format == {"JPEG": "JPEG", "PNG": "PNG", "JPEG2000": "JPEG 2000"}[im.format]
    if facts.format == "PNG":
        assert inflate_png(data, name) == facts


def test_what_the_samples_hold() -> None:
    assert walk(GOOD["photo.jpg"], "p") == Facts("JPEG", 480, 640)
    assert walk(GOOD["finger.png"], "f") == Facts("PNG", 256, 320)
    assert walk(GOOD["lossless.jp2"], "j") == Facts("JPEG 2000", 240, 320, levels=5)
    assert walk(GOOD["one-level.jp2"], "j") == Facts("JPEG 2000", 240, 320, levels=0)
    restarts = len(re.findall(rb"\xff[\xd0-\xd7]", GOOD["restart-blocks.jpg"]))
    assert restarts > 100  # the restart-marker case is really exercised


def test_other_formats_are_not_walked() -> None:
    for data in (encoded("BMP"), encoded("GIF"), encoded("TIFF"), b"", b"GIF89a", b"\xff"):
        assert sniff(data) is None and walk(data, "x") is None


# ----------------------------------------------------------------------- truncation, anywhere

CUT_SAMPLES = ["photo.jpg", "progressive.jpg", "restart-rows.jpg", "exif.jpg", "finger.png",
               "palette.png", "interlaced.png", "lossy.jp2", "tiled.jp2", "bare.j2k"]  # fmt: skip


@pytest.mark.parametrize("name", CUT_SAMPLES)
def test_a_file_cut_anywhere_is_refused(name: str) -> None:
    data = GOOD[name]
    accepted = [cut for cut in range(len(data)) if probe_bytes(data[:cut], name).size is not None]
    assert accepted == []


def test_a_cut_in_the_scan_says_so() -> None:
    data = GOOD["photo.jpg"]
    for cut in (len(data) // 2, len(data) - 2, len(data) - 1):
        assert refusal(data[:cut], "photos/x.jpg") == "photos/x.jpg: truncated: no EOI marker"
    assert refusal(data[:300], "p.jpg").startswith("p.jpg: truncated: ")
    assert refusal(data[:2]) == "x.jpg: truncated: no image data"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("finger.png", "truncated: chunk IDAT at offset 33 declares"),
        ("finger.png", "truncated: no IEND chunk"),
        ("lossy.jp2", "truncated: "),
        ("bare.j2k", "truncated: "),
    ],
)
def test_cuts_in_other_formats_say_so(name: str, message: str) -> None:
    data = GOOD[name]
    cut = data[:-12] if "IEND" in message else data[: len(data) // 2]
    assert message in refusal(cut, name)


# ---------------------------------------------------------------------- damage, named precisely


def jpeg_segments(data: bytes) -> dict[int, int]:
    """Marker code → offset of its first segment, up to SOS."""
    found, pos = {}, 2
    while data[pos + 1] != 0xDA:
        found.setdefault(data[pos + 1], pos)
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    found[0xDA] = pos
    return found


def without_segments(data: bytes, code: int) -> bytes:
    out, pos = bytearray(data[:2]), 2
    while data[pos + 1] != 0xDA:
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if data[pos + 1] != code:
            out += data[pos:end]
        pos = end
    return bytes(out + data[pos:])


def test_jpeg_damage_is_named() -> None:
    data = GOOD["baseline.jpg"]
    sof = jpeg_segments(data)[0xC0]
    assert refusal(data + b"\0\0").startswith("x.jpg: malformed: 2 bytes after the EOI marker")
    assert refusal(without_segments(data, 0xC4)).endswith(
        "no DHT defines DC Huffman table 0 (T.81 has no default tables)"
    )
    assert "quantization table 0 (component 1) is not defined" in refusal(
        without_segments(data, 0xDB)
    )
    arithmetic = data[: sof + 1] + b"\xc9" + data[sof + 2 :]
    assert refusal(arithmetic) == (
        "x.jpg: unsupported: an arithmetic-coded JPEG (SOF9): only baseline, extended and "
        "progressive Huffman-coded JPEGs are taken"
    )
    twelve_bit = bytearray(data)
    twelve_bit[sof + 1], twelve_bit[sof + 4] = 0xC1, 12
    assert refusal(bytes(twelve_bit)).endswith("12-bit samples (Pillow reads 8-bit JPEGs)")
    no_height = bytearray(data)
    no_height[sof + 5 : sof + 7] = b"\0\0"
    assert "height 0" in refusal(bytes(no_height))
    junk = data[:sof] + b"\x12" + data[sof:]
    assert refusal(junk) == f"x.jpg: malformed: byte 12 at offset {sof} is not a marker"


def test_restart_markers_in_order_only() -> None:
    data = GOOD["restart-rows.jpg"]
    first = re.search(rb"\xff[\xd0-\xd7]", data)
    assert first is not None and data[first.start() + 1] == 0xD0
    swapped = data[: first.start() + 1] + b"\xd3" + data[first.start() + 2 :]
    assert "RST3 marker" in refusal(swapped) and "RST0 belongs" in refusal(swapped)
    dri = jpeg_segments(data)[0xDD]
    no_interval = data[:dri] + data[dri + 6 :]
    assert "without a restart interval" in refusal(no_interval)


def test_png_damage_is_named() -> None:
    data = GOOD["rgb.png"]
    flipped = bytearray(data)
    flipped[100] ^= 0x01
    damaged = "f.png: damaged: chunk IDAT at offset 33 fails its CRC"
    assert refusal(bytes(flipped), "f.png") == damaged
    assert refusal(data + b"x", "f.png") == "f.png: malformed: 1 bytes after the IEND chunk"
    assert refusal(b"\x89PNG\r\n", "f.png") == "f.png: truncated: inside the PNG signature"


def png_with_idat(data: bytes, idat: bytes) -> bytes:
    head = data[:33]
    assert head[12:16] == b"IHDR"
    return head + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def test_a_broken_zlib_stream_passes_the_walk_and_fails_to_inflate() -> None:
    data = GOOD["grey.png"]
    good = png_with_idat(data, b"".join(chunk_bodies(data, b"IDAT")))
    assert walk(good, "g.png") is not None and inflate_png(good, "g.png")
    body = bytearray(b"".join(chunk_bodies(data, b"IDAT")))
    body[len(body) // 2] ^= 0xFF  # inside the deflate data: the CRC is recomputed
    broken = png_with_idat(data, bytes(body))
    assert walk(broken, "g.png") == Facts("PNG", 240, 320)
    with pytest.raises(ImageError, match=r"^g\.png: (damaged|malformed|truncated): "):
        inflate_png(broken, "g.png")
    short = png_with_idat(data, zlib.compress(b"\0" * 100))
    with pytest.raises(ImageError, match=r"bytes of pixel data|ends early"):
        inflate_png(short, "g.png")


def chunk_bodies(data: bytes, kind: bytes) -> list[bytes]:
    out, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == kind:
            out.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    return out


def test_jpeg2000_damage_is_named() -> None:
    data = GOOD["lossy.jp2"]
    assert refusal(data + b"\0" * 4, "j.jp2").startswith("j.jp2: truncated: a box header")
    sot = data.index(b"\xff\x90")
    psot = int.from_bytes(data[sot + 6 : sot + 10], "big")
    longer = data[: sot + 6] + (psot - 1).to_bytes(4, "big") + data[sot + 10 :]
    assert "does not end on the next tile-part or the EOC" in refusal(longer, "j.jp2")
    ihdr = data.index(b"ihdr")
    wider = bytearray(data)
    wider[ihdr + 8 : ihdr + 12] = (241).to_bytes(4, "big")
    assert "ihdr says 241x320 pixels" in refusal(bytes(wider), "j.jp2")
    no_colr = data.replace(b"colr", b"xolr")
    assert refusal(no_colr, "j.jp2") == "j.jp2: malformed: jp2h has no colr box"


def test_a_missing_tile_is_found() -> None:
    data = GOOD["tiled.jp2"]
    sots = [m.start() for m in re.finditer(rb"\xff\x90\x00\x0a", data)]
    assert len(sots) == 20  # 4 x 5 tiles of 64 x 64
    # Drop the second tile-part: the one before it now ends on the third, so all lengths agree.
    dropped = data[: sots[1]] + data[sots[2] :]
    start = data.index(b"jp2c") - 4
    dropped = dropped[:start] + (len(dropped) - start).to_bytes(4, "big") + dropped[start + 4 :]
    assert refusal(dropped, "t.jp2") == "t.jp2: truncated: tile 1 of 20 is missing"


# --------------------------------------------------------------- property: only ImageError


def header_size(data: bytes) -> int:
    """Where a sample's headers end: the first scan's data (JPEG), the first tile-part's data
    (JPEG 2000), the first IDAT's data (PNG)."""
    if data[:2] == b"\xff\xd8":
        return jpeg_segments(data)[0xDA] + 14
    if data[:4] == b"\x89PNG":
        return data.index(b"IDAT") + 8
    return data.index(b"\xff\x93") + 2


def walk_or_refuse(data: bytes) -> Facts | None:
    try:
        return walk(data, "x")
    except ImageError as exc:
        assert str(exc).startswith("x: ") and len(str(exc)) > 5
        return None


SIGNATURES = [b"\xff\xd8", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"\xff\x4f\xff\x51",
              b"\x00\x00\x00\x0cjP  \r\n\x87\n"]  # fmt: skip


@given(
    name=st.sampled_from(sorted(GOOD)),
    flips=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=4
    ),
    keep=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_damaged_headers_give_an_image_error_or_pass(
    name: str, flips: list[tuple[int, int]], keep: int | None
) -> None:
    data = bytearray(GOOD[name])
    limit = header_size(GOOD[name])
    for at, value in flips:
        data[at % limit] = value
    if keep is not None:
        del data[keep % (len(data) + 1) :]
    walk_or_refuse(bytes(data))


@given(
    head=st.sampled_from(SIGNATURES),
    tail=st.binary(max_size=400),
)
def test_random_bytes_give_an_image_error(head: bytes, tail: bytes) -> None:
    assert walk_or_refuse(head + tail) is None or len(tail) > 20


@given(data=st.binary(max_size=300))
def test_random_bytes_never_raise_at_any_depth(data: bytes) -> None:
    for depth in ("structure", "decode", "full"):
        probe = probe_bytes(data, "x", depth)  # type: ignore[arg-type]
        assert (probe.size is None) == bool(probe.error)


@given(name=st.sampled_from(sorted(GOOD)), data=st.data())
def test_spliced_files_never_raise(name: str, data: st.DataObject) -> None:
    """Headers of one sample followed by another's data: lengths that mislead, markers that
    do not match."""
    good = GOOD[name]
    other = GOOD[data.draw(st.sampled_from(sorted(GOOD)))]
    cut = data.draw(st.integers(0, len(good)))
    start = data.draw(st.integers(0, len(other)))
    walk_or_refuse(good[:cut] + other[start:])


# ---------------------------------------------- what the walk passes, Pillow decodes (mostly)


@pytest.mark.parametrize(
    ("names", "allowed", "at_least"),
    [
        (["photo.jpg", "progressive.jpg", "restart-rows.jpg", "cmyk.jpg"], 0.01, 200),
        (["finger.png", "palette.png", "16bit.png"], 0.0, 0),  # the CRCs catch it all
        (["lossy.jp2", "bare.j2k"], 0.04, 60),
    ],
)
def test_headers_the_walk_passes_are_rarely_undecodable(
    names: list[str], allowed: float, at_least: int
) -> None:
    """Damage to the headers (1 to 3 bytes anywhere in them) that the walk does not refuse
    leaves a file Pillow decodes, but for rare cases: a JPEG 2000 coding style or step size
    that is legal but does not match the data, for one. (Damage the walk passes is mostly in
    values any decoder takes: quantization steps, Huffman code values, APPn contents.)"""
    rng = random.Random(12)
    passed = undecodable = 0
    for name in names:
        good = GOOD[name]
        limit = header_size(good)
        for _ in range(150):
            data = bytearray(good)
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(limit)] = rng.randrange(256)
            if walk_or_refuse(bytes(data)) is not None:
                passed += 1
                undecodable += probe_bytes(bytes(data), "x", "full").size is None
    assert passed >= at_least
    assert undecodable <= allowed * passed, f"{undecodable} of {passed} undecodable"


def grey_png(rows: bytes, width: int, height: int, interlace: int = 0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, interlace)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("piece", [1, 7, 64, 1 << 20])
def test_every_row_filter_type_is_checked_piece_by_piece(
    monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    from cardkit.records import structure

    monkeypatch.setattr(structure, "_INFLATE_PIECE", piece)
    assert inflate_png(GOOD["interlaced.png"], "i.png") == Facts("PNG", 13, 11)
    assert inflate_png(GOOD["grey.png"], "g.png") == Facts("PNG", 240, 320)
    for bad_row in (0, 5, 10):
        rows = bytearray((b"\x00" + bytes(range(13))) * 11)
        rows[bad_row * 14] = 5
        with pytest.raises(ImageError, match="a row with an unknown filter type"):
            inflate_png(grey_png(bytes(rows), 13, 11), "b.png")
    # The last pass of an interlaced image: its rows start after the six before.
    data = interlaced_png()
    body = bytearray(zlib.decompress(chunk_bodies(data, b"IDAT")[0]))
    body[-14] = 9  # the filter byte of pass 7's last row (13 pixels wide)
    broken = data[:33] + png_chunk(b"IDAT", zlib.compress(bytes(body))) + png_chunk(b"IEND", b"")
    with pytest.raises(ImageError, match="a row with an unknown filter type"):
        inflate_png(broken, "i.png")
