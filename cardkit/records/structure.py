"""Is an image file whole and well formed? Proved from its structure, without decoding a pixel.

:func:`walk` reads the bytes of a JPEG, JPEG 2000 or PNG file from the first to the last and
checks everything that can be checked without entropy decoding or inflating, in C where the
bytes are many (``re``, ``zlib.crc32``) and in Python only per segment, box or chunk:

- JPEG (ITU-T T.81 Annex B): SOI first; every marker segment's length inside the file; one
  SOF0, SOF1 or SOF2 frame (8-bit samples, width and height not 0, 1, 3 or 4 components with
  distinct ids, sampling factors 1-4, quantization table 0-3); DQT and DHT segments whose
  tables fill them exactly (a Huffman table's code lengths must leave its all-ones code unused
  and a DC table's symbols be at most 15, as libjpeg demands); every scan (SOS) consistent with
  the frame (its components in the frame, once each, their quantization and Huffman tables
  defined before it, Ss/Se/Ah/Al as the process allows, at most 10 blocks per MCU); the
  entropy-coded data of each scan, through to the next marker, holding only stuffed ``FF00``,
  restart markers in their modulo-8 order (and only with a restart interval), fill ``FF``\\s
  and, after it, the segments a progressive file puts between scans; every component scanned;
  the file ending at EOI. T.81 has no default Huffman tables (Annex K's are examples): a scan
  whose tables no DHT defined is refused, although libjpeg substitutes Annex K's for
  Motion-JPEG frames. Other processes (arithmetic coding, lossless, hierarchical) are refused
  as unsupported: the walk knows the Huffman DCT ones, which every reader takes; so are
  12-bit samples, which Pillow does not read.
- JPEG 2000 (ITU-T T.800): the JP2 boxes (signature, ``ftyp`` listing ``jp2 ``, a ``jp2h``
  holding ``ihdr`` first and a ``colr``, then the ``jp2c`` codestream; every box length inside
  the file, which ends with the last box) or a bare codestream; the codestream's SOC, a sane SIZ
  (matching ``ihdr``; at most 4 components of at most 16 bits, what Pillow reads), COD and
  QCD in the main header with coding and quantization parameters T.800 allows and that agree
  on the number of subbands, only the marker segments each header may hold, every
  tile-part's SOT with its Psot length landing exactly on the next SOT or on the EOC that
  ends the codestream, SOD in each, tile-parts numbered in order, every tile present.
- PNG (ISO/IEC 15948): the signature, IHDR first and sane, every chunk's length inside the file
  and its CRC, PLTE where the colour type needs it, consecutive IDATs starting a valid zlib
  header, IEND last and the file ending there.

What it does not prove: that the entropy-coded data (JPEG), the packets (JPEG 2000) or the zlib
stream (PNG) decode, nor that they hold as many pixels as the header says. A file cut short
fails here wherever the cut is (the end marker or a length is missing), as does most damage to
the headers; damage inside the compressed data with correct lengths and markers (a PNG's CRC
aside, which catches it) passes, and shows as wrong pixels or fails when ``prepare`` decodes the
photo to fit it. :mod:`cardkit.records.images` can add a decode (``depth="decode"``).

Pure: bytes in, :class:`Facts` out, :class:`~cardkit.errors.ImageError` naming the file and the
fault (``"photos/x.jpg: truncated: no EOI marker"``) for anything else; never another exception.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from operator import mul

from cardkit.errors import ImageError

#: Pillow's limit: it refuses to open an image of more pixels (DecompressionBombError).
MAX_PIXELS = 2 * 89_478_485


@dataclass(frozen=True, slots=True)
class Facts:
    """What the walk found: the format (``JPEG``, ``JPEG 2000``, ``PNG``) and the size in
    pixels the header declares; ``levels`` is a JPEG 2000 codestream's fewest decomposition
    levels (the most a reduced decode may drop), 0 for the others."""

    format: str
    width: int
    height: int
    levels: int = 0


def sniff(data: bytes) -> str | None:
    """The format :func:`walk` checks ``data`` as (from its first bytes, not the file's name),
    or None for anything else; a file cut inside the signature counts as its format."""
    if data[:2] == b"\xff\xd8":
        return "JPEG"
    if data[:4] == b"\xff\x4f\xff\x51" or data == b"\xff\x4f" or data == b"\xff\x4f\xff":
        return "JPEG 2000"
    if len(data) >= 5 and _JP2_SIGNATURE.startswith(data[:12]):
        return "JPEG 2000"
    if len(data) >= 2 and _PNG_SIGNATURE.startswith(data[:8]):
        return "PNG"
    return None


def walk(data: bytes, name: str) -> Facts | None:
    """Check ``data`` (the file called ``name`` in messages) as its format; None when it is
    none of the three (:func:`sniff`)."""
    kind = sniff(data)
    if kind == "JPEG":
        return walk_jpeg(data, name)
    if kind == "PNG":
        return walk_png(data, name)
    if kind == "JPEG 2000":
        return walk_jpeg2000(data, name)
    return None


def _fail(name: str, what: str) -> ImageError:
    return ImageError(f"{name}: {what}")


# ------------------------------------------------------------------------------------------ JPEG

_U16 = struct.Struct(">H")
_SOF_HEAD = struct.Struct(">BHHB")  # P, Y, X, Nf
_HUFF_WEIGHTS = tuple(1 << (16 - length) for length in range(1, 17))
# In entropy-coded data an FF not followed by 00 (a stuffed FF) starts a marker or fill bytes.
_ENTROPY_MARKER = re.compile(rb"\xff[^\x00]")

_SUPPORTED_SOF = {0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive"}
_UNSUPPORTED_SOF = {
    0xC3: "a lossless",
    **dict.fromkeys((0xC5, 0xC6, 0xC7), "a hierarchical"),
    **dict.fromkeys((0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF), "an arithmetic-coded"),
}
_MARKER_NAMES = {0xC4: "DHT", 0xC8: "JPG", 0xCC: "DAC", 0xD8: "SOI", 0xD9: "EOI", 0xDA: "SOS",
                 0xDB: "DQT", 0xDC: "DNL", 0xDD: "DRI", 0xDE: "DHP", 0xDF: "EXP", 0xFE: "COM",
                 0x01: "TEM"}  # fmt: skip


def _marker_name(code: int) -> str:
    if code in _MARKER_NAMES:
        return _MARKER_NAMES[code]
    if 0xC0 <= code <= 0xCF:
        return f"SOF{code - 0xC0}"
    if 0xD0 <= code <= 0xD7:
        return f"RST{code - 0xD0}"
    if 0xE0 <= code <= 0xEF:
        return f"APP{code - 0xE0}"
    return f"FF{code:02X}"


@dataclass(slots=True)
class _Frame:
    sof: int
    width: int
    height: int
    # component id → (H, V, Tq), in frame order
    components: dict[int, tuple[int, int, int]]
    scanned: dict[int, int]  # component id → scans that included it
    dc_first: set[int]  # progressive: components whose first DC scan has been seen


def walk_jpeg(data: bytes, name: str) -> Facts:
    """Check a JPEG file (module docstring) and return its facts; ImageError otherwise."""
    n = len(data)
    if data[:2] != b"\xff\xd8":
        raise _fail(name, "not a JPEG file (no SOI marker)")
    frame: _Frame | None = None
    quant: set[int] = set()
    dc_tables: set[int] = set()
    ac_tables: set[int] = set()
    restart = 0
    scans = 0
    pos = 2
    while True:
        # A marker: FF, any number of fill FFs, the code.
        if pos >= n:
            raise _fail(name, "truncated: no EOI marker" if scans else "truncated: no image data")
        if data[pos] != 0xFF:
            raise _fail(name, f"malformed: byte {data[pos]:02X} at offset {pos} is not a marker")
        start = pos
        pos += 1
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise _fail(name, "truncated: no EOI marker" if scans else "truncated: no image data")
        code = data[pos]
        pos += 1
        if code == 0xD9:  # EOI
            if frame is None or not scans:
                raise _fail(name, f"malformed: EOI at offset {start} before any image data")
            if pos != n:
                raise _fail(
                    name,
                    f"malformed: {n - pos} bytes after the EOI marker (a second picture, as in "
                    "a camera's MPO file, or appended data)",
                )
            missing = [c for c in frame.components if not frame.scanned[c]]
            if missing:
                raise _fail(name, f"truncated: component {missing[0]} is in no scan")
            if frame.sof == 0xC2 and len(frame.dc_first) != len(frame.components):
                lost = next(c for c in frame.components if c not in frame.dc_first)
                raise _fail(name, f"truncated: component {lost} has no DC scan")
            return Facts("JPEG", frame.width, frame.height)
        if code == 0x00 or code == 0x01 or 0xD0 <= code <= 0xD8:
            raise _fail(name, f"malformed: {_marker_name(code)} marker at offset {start}")
        # Every other marker starts a segment: its length counts itself, not the marker.
        if pos + 2 > n:
            raise _fail(name, f"truncated: {_marker_name(code)} segment at offset {start} is cut")
        length = (data[pos] << 8) | data[pos + 1]
        end = pos + length
        if length < 2:
            raise _fail(
                name,
                f"malformed: {_marker_name(code)} segment at offset {start} has length {length}",
            )
        if end > n:
            raise _fail(
                name,
                f"truncated: {_marker_name(code)} segment at offset {start} declares "
                f"{length} bytes, {n - pos} remain",
            )
        body = pos + 2
        if 0xE0 <= code <= 0xEF or code == 0xFE:  # APPn, COM: not interpreted
            pass
        elif code == 0xDB:
            _dqt(data, body, end, quant, name, start)
        elif code == 0xC4:
            _dht(data, body, end, dc_tables, ac_tables, name, start)
        elif code == 0xDD:
            if length != 4:
                raise _fail(name, f"malformed: DRI segment at offset {start} has length {length}")
            restart = (data[body] << 8) | data[body + 1]
        elif code in _SUPPORTED_SOF:
            if frame is not None:
                raise _fail(name, f"malformed: a second frame header at offset {start}")
            frame = _sof(data, body, end, code, name, start)
        elif code in _UNSUPPORTED_SOF:
            raise _fail(
                name,
                f"unsupported: {_UNSUPPORTED_SOF[code]} JPEG ({_marker_name(code)}): only "
                "baseline, extended and progressive Huffman-coded JPEGs are taken",
            )
        elif code == 0xDA:
            if frame is None:
                raise _fail(name, f"malformed: SOS at offset {start} before the frame header")
            _sos(data, body, end, frame, quant, dc_tables, ac_tables, name, start)
            scans += 1
            pos = _entropy_data(data, end, restart, name)
            continue
        elif code == 0xDC:
            raise _fail(name, "unsupported: a DNL marker (the height defined after the scan)")
        elif code in (0xCC, 0xDE, 0xDF):
            raise _fail(
                name,
                f"unsupported: a {_marker_name(code)} marker (arithmetic or hierarchical "
                "coding): only baseline, extended and progressive Huffman-coded JPEGs are taken",
            )
        else:
            raise _fail(name, f"malformed: {_marker_name(code)} marker at offset {start}")
        pos = end


def _dqt(data: bytes, pos: int, end: int, quant: set[int], name: str, start: int) -> None:
    if pos == end:
        raise _fail(name, f"malformed: empty DQT segment at offset {start}")
    while pos < end:
        pq, tq = data[pos] >> 4, data[pos] & 15
        if pq > 1 or tq > 3:
            raise _fail(name, f"malformed: DQT segment at offset {start}: table {pq}/{tq}")
        pos += 1 + (128 if pq else 64)
        if pos > end:
            raise _fail(
                name, f"malformed: DQT segment at offset {start} is shorter than its tables"
            )
        quant.add(tq)


def _dht(
    data: bytes, pos: int, end: int, dc: set[int], ac: set[int], name: str, start: int
) -> None:
    if pos == end:
        raise _fail(name, f"malformed: empty DHT segment at offset {start}")
    while pos < end:
        tc, th = data[pos] >> 4, data[pos] & 15
        if tc > 1 or th > 3:
            raise _fail(name, f"malformed: DHT segment at offset {start}: table {tc}/{th}")
        counts = data[pos + 1 : pos + 17]
        symbols = pos + 17 + sum(counts)
        if len(counts) < 16 or symbols > end:
            raise _fail(
                name, f"malformed: DHT segment at offset {start} is shorter than its tables"
            )
        # Codes of length 1..16 assigned in order (T.81 Annex C): the code space must not
        # overflow, and the all-ones code stays unused (libjpeg: "Bogus Huffman table").
        if sum(map(mul, counts, _HUFF_WEIGHTS)) >= 1 << 16:
            raise _fail(
                name,
                f"malformed: DHT segment at offset {start}: table {tc}/{th} has "
                "more codes than its lengths allow",
            )
        if tc == 0 and symbols > pos + 17 and max(data[pos + 17 : symbols]) > 15:
            raise _fail(
                name,
                f"malformed: DHT segment at offset {start}: DC table {th} has a symbol over 15",
            )
        (ac if tc else dc).add(th)
        pos = symbols


def _sof(data: bytes, pos: int, end: int, sof: int, name: str, start: int) -> _Frame:
    if end - pos < 6:
        raise _fail(name, f"malformed: frame header at offset {start} is too short")
    precision, height, width, count = _SOF_HEAD.unpack_from(data, pos)
    if precision != 8:
        if sof == 0xC0 or precision != 12:
            raise _fail(name, f"malformed: {precision}-bit samples in a {_SUPPORTED_SOF[sof]} JPEG")
        raise _fail(name, "unsupported: 12-bit samples (Pillow reads 8-bit JPEGs)")
    if width == 0:
        raise _fail(name, "malformed: the frame header gives width 0")
    if height == 0:
        raise _fail(name, "unsupported: height 0 (to be defined by a DNL marker)")
    if width * height > MAX_PIXELS:
        raise _fail(name, f"unsupported: {width}x{height} pixels, more than Pillow opens")
    if end - pos != 6 + 3 * count:
        raise _fail(
            name,
            f"malformed: frame header at offset {start} has length "
            f"{end - pos + 2} for {count} components",
        )
    if count not in (1, 3, 4):
        raise _fail(name, f"unsupported: {count} components (Pillow reads 1, 3 or 4)")
    components: dict[int, tuple[int, int, int]] = {}
    for at in range(pos + 6, end, 3):
        cid, hv, tq = data[at], data[at + 1], data[at + 2]
        h, v = hv >> 4, hv & 15
        if cid in components:
            raise _fail(name, f"malformed: component {cid} twice in the frame header")
        if not (1 <= h <= 4 and 1 <= v <= 4) or tq > 3:
            raise _fail(
                name,
                f"malformed: component {cid} of the frame header: sampling "
                f"{h}x{v}, quantization table {tq}",
            )
        components[cid] = (h, v, tq)
    return _Frame(sof, width, height, components, dict.fromkeys(components, 0), set())


def _sos(
    data: bytes,
    pos: int,
    end: int,
    frame: _Frame,
    quant: set[int],
    dc: set[int],
    ac: set[int],
    name: str,
    start: int,
) -> None:
    count = data[pos] if pos < end else 0
    if not 1 <= count <= 4 or end - pos != 4 + 2 * count:
        raise _fail(
            name,
            f"malformed: scan header at offset {start} (length {end - pos + 2}, "
            f"{count} components)",
        )
    ss, se, a = data[end - 3], data[end - 2], data[end - 1]
    ah, al = a >> 4, a & 15
    progressive = frame.sof == 0xC2
    where = f"scan header at offset {start}"
    if not progressive:
        if (ss, se, ah, al) != (0, 63, 0, 0):
            raise _fail(
                name,
                f"malformed: {where}: spectral selection {ss}-{se}, successive "
                f"approximation {ah}/{al} in a sequential JPEG",
            )
    elif (
        se > 63
        or ss > se
        or (ss == 0) != (se == 0)
        or (ss > 0 and count != 1)
        or ah > 13
        or al > 13
        or (ah and al != ah - 1)
    ):
        raise _fail(
            name,
            f"malformed: {where}: spectral selection {ss}-{se}, successive approximation {ah}/{al}",
        )
    limit = 1 if frame.sof == 0xC0 else 3
    blocks = 0
    seen: set[int] = set()
    for at in range(pos + 1, end - 3, 2):
        cid, td, ta = data[at], data[at + 1] >> 4, data[at + 1] & 15
        component = frame.components.get(cid)
        if component is None or cid in seen:
            raise _fail(
                name,
                f"malformed: {where}: component {cid} "
                + ("twice" if cid in seen else "is not in the frame"),
            )
        seen.add(cid)
        h, v, tq = component
        blocks += h * v
        if tq not in quant:
            raise _fail(
                name,
                f"malformed: {where}: quantization table {tq} (component {cid}) is not defined",
            )
        # The Huffman tables this scan decodes with (a DC refinement uses none).
        for kind, table, defined, used in (
            ("DC", td, dc, ss == 0 and ah == 0),
            ("AC", ta, ac, se > 0),
        ):
            if not used:
                continue
            if table > limit:
                raise _fail(
                    name,
                    f"malformed: {where}: {kind} Huffman table {table} in a "
                    f"{_SUPPORTED_SOF[frame.sof]} JPEG",
                )
            if table not in defined:
                raise _fail(
                    name,
                    f"malformed: {where}: no DHT defines {kind} Huffman table "
                    f"{table} (T.81 has no default tables)",
                )
        if progressive and ss == 0 and ah == 0:
            frame.dc_first.add(cid)
        elif progressive and ss == 0 and cid not in frame.dc_first:
            raise _fail(
                name,
                f"malformed: {where}: a DC refinement of component {cid} before its first DC scan",
            )
        frame.scanned[cid] += 1
        if not progressive and frame.scanned[cid] > 1:
            raise _fail(name, f"malformed: {where}: component {cid} in a second scan")
    if count > 1 and blocks > 10:
        raise _fail(name, f"malformed: {where}: {blocks} blocks per MCU (T.81 allows 10)")


def _entropy_data(data: bytes, pos: int, restart: int, name: str) -> int:
    """The offset of the marker that ends the entropy-coded data starting at ``pos``."""
    n = len(data)
    expected = 0  # the next restart marker, modulo 8
    search = _ENTROPY_MARKER.search
    while True:
        found = search(data, pos)
        if found is None:
            raise _fail(name, "truncated: no EOI marker")
        at = found.start()
        code = data[at + 1]
        if code == 0xFF:  # fill bytes: a marker, or a stuffed FF00 after them (libjpeg reads it)
            nxt = at + 1
            while nxt < n and data[nxt] == 0xFF:
                nxt += 1
            if nxt >= n:
                raise _fail(name, "truncated: no EOI marker")
            code = data[nxt]
            if code == 0x00:
                pos = nxt + 1
                continue
            at = nxt - 1
        if 0xD0 <= code <= 0xD7:
            if not restart:
                raise _fail(
                    name,
                    f"malformed: RST{code - 0xD0} marker at offset {at} without a restart interval",
                )
            if code - 0xD0 != expected:
                raise _fail(
                    name,
                    f"malformed: RST{code - 0xD0} marker at offset {at} where "
                    f"RST{expected} belongs (restart intervals lost)",
                )
            expected = (expected + 1) & 7
            pos = at + 2
            continue
        return at


# ------------------------------------------------------------------------------------- JPEG 2000

_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_BOX = struct.Struct(">I4s")
_U64 = struct.Struct(">Q")
_IHDR = struct.Struct(">IIHBBBB")  # HEIGHT WIDTH NC BPC C UnkC IPR
_SIZ = struct.Struct(">HIIIIIIIIH")  # Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz
_SOT = struct.Struct(">HHIBB")  # Lsot Isot Psot TPsot TNsot

_SOC, _SIZ_M, _COD, _COC, _QCD, _QCC, _SOT_M, _SOD, _EOC = (
    0xFF4F, 0xFF51, 0xFF52, 0xFF53, 0xFF5C, 0xFF5D, 0xFF90, 0xFF93, 0xFFD9
)  # fmt: skip
_J2K_NAMES = {0xFF4F: "SOC", 0xFF51: "SIZ", 0xFF52: "COD", 0xFF53: "COC", 0xFF55: "TLM",
              0xFF57: "PLM", 0xFF58: "PLT", 0xFF5C: "QCD", 0xFF5D: "QCC", 0xFF5E: "RGN",
              0xFF5F: "POC", 0xFF60: "PPM", 0xFF61: "PPT", 0xFF63: "CRG", 0xFF64: "COM",
              0xFF90: "SOT", 0xFF91: "SOP", 0xFF92: "EPH", 0xFF93: "SOD",
              0xFFD9: "EOC"}  # fmt: skip
# The marker segments each header may hold (T.800 Table A.2; CAP and CPF: T.814 HTJ2K; MCT, MCC,
# MCO and CBD: T.801 multi-component transforms, only in a Part 2 codestream (Rsiz bit 15)).
# OpenJPEG fails on others, so they are refused.
_MAIN_HEADER_MARKERS = frozenset({0xFF52, 0xFF53, 0xFF5C, 0xFF5D, 0xFF5E, 0xFF5F, 0xFF60, 0xFF55,
                                  0xFF57, 0xFF63, 0xFF64, 0xFF50, 0xFF59, 0xFF74, 0xFF75, 0xFF77,
                                  0xFF78})  # fmt: skip
_TILE_PART_MARKERS = frozenset({0xFF52, 0xFF53, 0xFF5C, 0xFF5D, 0xFF5E, 0xFF5F, 0xFF61, 0xFF58,
                                0xFF64, 0xFF74, 0xFF75, 0xFF77})  # fmt: skip
_PART2_MARKERS = frozenset({0xFF74, 0xFF75, 0xFF77, 0xFF78})


def _verdict(code: int) -> str:
    """How to call a marker out of place: a known one is misplaced, another unknown."""
    return "malformed" if code in _J2K_NAMES or code < 0xFF30 else "unsupported"


def _j2k_name(code: int) -> str:
    return _J2K_NAMES.get(code, f"{code:04X}")


def walk_jpeg2000(data: bytes, name: str) -> Facts:
    """Check a JP2 file or a bare JPEG 2000 codestream (module docstring)."""
    if data[:2] == b"\xff\x4f":
        width, height, _components, levels = _codestream(data, 0, len(data), name)
        return Facts("JPEG 2000", width, height, levels)
    n = len(data)
    if data[:12] != _JP2_SIGNATURE:
        if _JP2_SIGNATURE.startswith(data[:12]):
            raise _fail(name, "truncated: inside the JP2 signature box")
        raise _fail(name, "not a JPEG 2000 file (no JP2 signature box)")
    pos = 12
    header: tuple[int, int, int] | None = None  # WIDTH, HEIGHT, NC of ihdr
    facts: Facts | None = None
    boxes = 1
    while pos < n:
        box, pos, end = _box(data, pos, n, name, "")
        boxes += 1
        if boxes == 2 and box != b"ftyp":
            raise _fail(name, f"malformed: the box after the signature is {_show(box)}, not ftyp")
        if box == b"ftyp":
            if boxes != 2:
                raise _fail(name, "malformed: a second ftyp box")
            if end - pos < 8 or (end - pos) % 4:
                raise _fail(name, f"malformed: ftyp box of {end - pos + 8} bytes")
            brands = {data[at : at + 4] for at in range(pos + 8, end, 4)}
            if b"jp2 " not in brands and data[pos : pos + 4] != b"jp2 ":
                raise _fail(name, "unsupported: ftyp does not list the JP2 brand")
        elif box == b"jp2h":
            if header is not None:
                raise _fail(name, "malformed: a second jp2h box")
            header = _jp2h(data, pos, end, name)
        elif box == b"jp2c" and facts is None:
            if header is None:
                raise _fail(name, "malformed: the codestream (jp2c) comes before jp2h")
            width, height, components, levels = _codestream(data, pos, end, name)
            if (width, height, components) != header:
                raise _fail(
                    name,
                    f"malformed: ihdr says {header[0]}x{header[1]} pixels, "
                    f"{header[2]} components; the codestream {width}x{height}, "
                    f"{components}",
                )
            facts = Facts("JPEG 2000", width, height, levels)
        pos = end
    if boxes < 2:
        raise _fail(name, "truncated: no ftyp box")
    if header is None:
        raise _fail(name, "truncated: no jp2h box")
    if facts is None:
        raise _fail(name, "truncated: no codestream (jp2c box)")
    return facts


def _show(box: bytes) -> str:
    return repr(box.decode("latin-1"))


def _box(data: bytes, pos: int, end: int, name: str, inside: str) -> tuple[bytes, int, int]:
    """The box at ``pos`` (ending by ``end``): its type, where its contents start and end."""
    where = f" in {inside}" if inside else ""
    if pos + 8 > end:
        raise _fail(name, f"truncated: a box header at offset {pos}{where} is cut")
    length, box = _BOX.unpack_from(data, pos)
    if length == 1:
        if pos + 16 > end:
            raise _fail(name, f"truncated: a box header at offset {pos}{where} is cut")
        (length,) = _U64.unpack_from(data, pos + 8)
        body = pos + 16
        if length < 16:
            raise _fail(name, f"malformed: box {_show(box)} at offset {pos} has length {length}")
    elif length == 0:
        if inside:
            raise _fail(
                name,
                f"malformed: box {_show(box)} at offset {pos}{where} runs to the end of the file",
            )
        length = end - pos
        body = pos + 8
    else:
        body = pos + 8
        if length < 8:
            raise _fail(name, f"malformed: box {_show(box)} at offset {pos} has length {length}")
    if pos + length > end:
        raise _fail(
            name,
            f"truncated: box {_show(box)} at offset {pos}{where} declares "
            f"{length} bytes, {end - pos} remain",
        )
    return box, body, pos + length


def _jp2h(data: bytes, pos: int, end: int, name: str) -> tuple[int, int, int]:
    first = True
    header: tuple[int, int, int] | None = None
    colour = False
    while pos < end:
        box, body, box_end = _box(data, pos, end, name, "jp2h")
        if first and box != b"ihdr":
            raise _fail(name, f"malformed: jp2h starts with {_show(box)}, not ihdr")
        first = False
        if box == b"ihdr":
            if header is not None or box_end - body != 14:
                raise _fail(name, "malformed: ihdr box")
            height, width, nc, bpc, c, unknown, ipr = _IHDR.unpack_from(data, body)
            if not width or not height or not nc or c != 7 or unknown > 1 or ipr > 1:
                raise _fail(
                    name, f"malformed: ihdr ({width}x{height}, {nc} components, compression {c})"
                )
            if bpc != 0xFF and (bpc & 0x7F) > 37:
                raise _fail(name, f"malformed: ihdr gives {(bpc & 0x7F) + 1}-bit components")
            header = (width, height, nc)
        elif box == b"colr":
            colour = True
        pos = box_end
    if header is None:
        raise _fail(name, "malformed: jp2h has no ihdr box")
    if not colour:
        raise _fail(name, "malformed: jp2h has no colr box")
    return header


def _codestream(data: bytes, pos: int, end: int, name: str) -> tuple[int, int, int, int]:
    """Walk the codestream in ``data[pos:end]``: (width, height, components, fewest levels)."""
    if end - pos < 4 or data[pos : pos + 4] != b"\xff\x4f\xff\x51":
        if data[pos:end] and b"\xff\x4f\xff\x51".startswith(data[pos:end]):
            raise _fail(name, "truncated: the codestream ends in its first marker")
        raise _fail(name, "malformed: the codestream does not start with SOC and SIZ")
    at = pos + 4
    if at + 2 + _SIZ.size > end:
        raise _fail(name, "truncated: the SIZ marker segment is cut")
    (lsiz,) = _U16.unpack_from(data, at)
    rsiz, xs, ys, xo, yo, xt, yt, xto, yto, csiz = _SIZ.unpack_from(data, at + 2)
    if not 1 <= csiz <= 16384 or lsiz != 38 + 3 * csiz:
        raise _fail(name, f"malformed: SIZ of length {lsiz} for {csiz} components")
    if at + lsiz > end:
        raise _fail(name, "truncated: the SIZ marker segment is cut")
    if not (xo < xs and yo < ys and xt and yt and xto <= xo and yto <= yo):
        raise _fail(
            name,
            f"malformed: SIZ: image {xs}x{ys} from {xo},{yo}, tiles {xt}x{yt} from {xto},{yto}",
        )
    if xto + xt <= xo or yto + yt <= yo:
        raise _fail(name, "malformed: SIZ: the first tile lies outside the image")
    width, height = xs - xo, ys - yo
    if width * height > MAX_PIXELS:
        raise _fail(name, f"unsupported: {width}x{height} pixels, more than Pillow opens")
    if csiz > 4:
        raise _fail(name, f"unsupported: {csiz} components (Pillow reads 1 to 4)")
    for c in range(at + 38, at + 38 + 3 * csiz, 3):
        if (data[c] & 0x7F) > 37 or not data[c + 1] or not data[c + 2]:
            raise _fail(name, "malformed: SIZ: a component's depth or subsampling")
        if (data[c] & 0x7F) > 15:
            raise _fail(
                name, f"unsupported: {(data[c] & 0x7F) + 1}-bit components (Pillow reads up to 16)"
            )
    tiles = -(-(xs - xto) // xt) * -(-(ys - yto) // yt)
    if tiles > 65535:
        raise _fail(name, f"malformed: SIZ: {tiles} tiles (at most 65,535)")
    at += lsiz
    # The main header: marker segments up to the first SOT; COD and QCD required.
    levels = 33
    cod_levels: int | None = None
    qcd_bands: int | None = None
    per_component = False  # a COC or QCC: QCD's and COD's counts need not match
    while True:
        code, at, seg_end = _j2k_segment(data, at, end, name, "the main header")
        if code == _SOT_M:
            break
        if code not in _MAIN_HEADER_MARKERS or (code in _PART2_MARKERS and not rsiz & 0x8000):
            raise _fail(name, f"{_verdict(code)}: {_j2k_name(code)} marker in the main header")
        if code == _COD:
            if cod_levels is not None:
                raise _fail(name, "malformed: two COD markers in the main header")
            cod_levels = _cod(data, at, seg_end, csiz, rsiz, name)
            levels = min(levels, cod_levels)
        elif code == _COC:
            per_component = True
            levels = min(levels, _coc(data, at, seg_end, csiz, rsiz, name))
        elif code == _QCD:
            if qcd_bands is not None:
                raise _fail(name, "malformed: two QCD markers in the main header")
            qcd_bands = _quantization(data, at, seg_end, name, "QCD")
        elif code == _QCC:
            per_component = True
            _quantization(data, at + (2 if csiz >= 257 else 1), seg_end, name, "QCC")
        at = seg_end
    if cod_levels is None:
        raise _fail(name, "malformed: no COD marker in the main header")
    if qcd_bands is None:
        raise _fail(name, "malformed: no QCD marker in the main header")
    if not per_component and qcd_bands and qcd_bands != 3 * cod_levels + 1:
        raise _fail(
            name,
            f"malformed: QCD quantizes {qcd_bands} subbands, COD's {cod_levels} levels "
            f"make {3 * cod_levels + 1}",
        )
    # Tile-parts: each SOT's Psot lands on the next SOT, or on the EOC ending the codestream.
    parts: dict[int, int] = {}  # tile → tile-parts seen
    declared: dict[int, int] = {}  # tile → TNsot, when given
    sot = at - 4  # the SOT marker (at is past its length field)
    while True:
        if sot + 12 > end:
            raise _fail(name, f"truncated: SOT marker segment at offset {sot} is cut")
        lsot, tile, psot, part, total = _SOT.unpack_from(data, sot + 2)
        where = f"tile-part at offset {sot}"
        if lsot != 10:
            raise _fail(name, f"malformed: {where}: SOT of length {lsot}")
        if tile >= tiles:
            raise _fail(name, f"malformed: {where}: tile {tile} of {tiles}")
        expected = parts.get(tile, 0)
        if part != expected or (total and part >= total):
            of = f" of {total}" if total else ""
            raise _fail(
                name,
                f"malformed: {where}: tile-part {part}{of} of tile {tile} (expected {expected})",
            )
        if total and declared.setdefault(tile, total) != total:
            raise _fail(
                name,
                f"malformed: {where}: tile {tile} announced with "
                f"{declared[tile]} and {total} tile-parts",
            )
        parts[tile] = part + 1
        if psot == 0:  # to the EOC: the last tile-part
            if data[end - 2 : end] != b"\xff\xd9" or end - 2 < sot + 14:
                raise _fail(name, "truncated: no EOC marker at the end of the codestream")
            part_end = end - 2
        else:
            part_end = sot + psot
            if psot < 14:
                raise _fail(name, f"malformed: {where}: Psot {psot}")
            if part_end + 2 > end:
                raise _fail(name, f"truncated: {where} declares {psot} bytes, {end - sot} remain")
        # The tile-part header: marker segments up to SOD.
        at = sot + 12
        while True:
            code, at, seg_end = _j2k_segment(data, at, part_end, name, where)
            if code == _SOD:
                break
            if code not in _TILE_PART_MARKERS or (code in _PART2_MARKERS and not rsiz & 0x8000):
                raise _fail(
                    name, f"{_verdict(code)}: {_j2k_name(code)} marker in the header of the {where}"
                )
            if code == _COD:
                levels = min(levels, _cod(data, at, seg_end, csiz, rsiz, name))
            elif code == _COC:
                levels = min(levels, _coc(data, at, seg_end, csiz, rsiz, name))
            elif code == _QCD:
                _quantization(data, at, seg_end, name, "QCD")
            elif code == _QCC:
                _quantization(data, at + (2 if csiz >= 257 else 1), seg_end, name, "QCC")
            at = seg_end
        marker = data[part_end : part_end + 2]
        if marker == b"\xff\xd9":
            if part_end + 2 != end:
                raise _fail(name, f"malformed: {end - part_end - 2} bytes after the EOC marker")
            break
        if marker != b"\xff\x90":
            raise _fail(
                name,
                f"malformed: {where}: Psot {psot} does not end on the next tile-part or the EOC",
            )
        sot = part_end
    if len(parts) != tiles:
        missing = next(t for t in range(tiles) if t not in parts)
        raise _fail(name, f"truncated: tile {missing} of {tiles} is missing")
    for tile, total in declared.items():
        if parts[tile] != total:
            raise _fail(name, f"truncated: tile {tile} has {parts[tile]} of its {total} tile-parts")
    return width, height, csiz, levels


def _j2k_segment(data: bytes, at: int, end: int, name: str, where: str) -> tuple[int, int, int]:
    """The marker at ``at`` (before ``end``): its code, where its parameters start and end
    (SOD and the parameterless markers end where they start)."""
    if at + 2 > end:
        raise _fail(name, f"truncated: {where} ends before its last marker")
    code = (data[at] << 8) | data[at + 1]
    if data[at] != 0xFF:
        raise _fail(
            name, f"malformed: byte {data[at]:02X} at offset {at} in {where} is not a marker"
        )
    if code in (_SOC, _SOD, _EOC) or 0xFF30 <= code <= 0xFF3F:
        return code, at + 2, at + 2
    if at + 4 > end:
        raise _fail(name, f"truncated: {_j2k_name(code)} marker segment at offset {at} is cut")
    length = (data[at + 2] << 8) | data[at + 3]
    if length < 2 or at + 2 + length > end:
        raise _fail(
            name,
            f"{'malformed' if length < 2 else 'truncated'}: {_j2k_name(code)} marker segment "
            f"at offset {at} in {where} declares {length} bytes, {end - at - 2} remain",
        )
    return code, at + 4, at + 2 + length


def _cod(data: bytes, at: int, end: int, csiz: int, rsiz: int, name: str) -> int:
    """Check a COD segment's parameters (after Lcod, T.800 A.6.1); its decomposition levels."""
    if end - at < 10:
        raise _fail(name, "malformed: COD marker segment too short")
    scod, order, mct = data[at], data[at + 1], data[at + 4]
    layers = (data[at + 2] << 8) | data[at + 3]
    if scod > 7 or order > 4 or not layers or mct > 1 or (mct and csiz < 3):
        raise _fail(
            name,
            f"malformed: COD: style {scod:#x}, order {order}, {layers} layers, "
            f"component transform {mct} for {csiz} components",
        )
    return _spcod(data, at + 5, end, scod, rsiz, name, "COD")


def _coc(data: bytes, at: int, end: int, csiz: int, rsiz: int, name: str) -> int:
    """Check a COC segment's parameters (T.800 A.6.2); its decomposition levels."""
    base = at + (2 if csiz >= 257 else 1)
    if end - base < 6:
        raise _fail(name, "malformed: COC marker segment too short")
    component = int.from_bytes(data[at:base], "big")
    if component >= csiz or data[base] > 1:
        raise _fail(name, f"malformed: COC for component {component} of {csiz}")
    return _spcod(data, base + 1, end, data[base], rsiz, name, "COC")


def _quantization(data: bytes, at: int, end: int, name: str, what: str) -> int:
    """Check a QCD/QCC's Sqcd and step sizes (T.800 A.6.4); the subbands it lists, 0 when its
    style derives them from one."""
    if at >= end:
        raise _fail(name, f"malformed: {what} marker segment too short")
    style, size = data[at] & 0x1F, end - at - 1
    if style == 0 and size >= 1:
        return size
    if style == 1 and size == 2:
        return 0
    if style == 2 and size >= 2 and size % 2 == 0:
        return size // 2
    raise _fail(name, f"malformed: {what}: quantization style {style} with {size} bytes")


def _spcod(data: bytes, at: int, end: int, scod: int, rsiz: int, name: str, what: str) -> int:
    levels, xcb, ycb, style, transform = data[at : at + 5]
    if levels > 32 or xcb > 8 or ycb > 8 or xcb + ycb > 8 or transform > 1:
        raise _fail(
            name,
            f"malformed: {what}: {levels} levels, code-blocks 2^{xcb + 2}x2^{ycb + 2}, "
            f"wavelet {transform}",
        )
    # Bit 6: HTJ2K (T.814) code-blocks, only in a codestream that says so (Rsiz bit 14).
    if style & 0x80 or (style & 0x40 and not rsiz & 0x4000):
        raise _fail(name, f"malformed: {what}: code-block style {style:#x}")
    if end - at != 5 + (levels + 1 if scod & 1 else 0):
        precincts = " and precinct sizes" if scod & 1 else ""
        raise _fail(
            name, f"malformed: {what}: a length that does not fit {levels} levels{precincts}"
        )
    return int(levels)


# ------------------------------------------------------------------------------------------- PNG

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHUNK = struct.Struct(">I4s")
_IHDR_PNG = struct.Struct(">IIBBBBB")
_CRC = struct.Struct(">I")
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_KNOWN_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})


@dataclass(frozen=True, slots=True)
class PngLayout:
    """What a PNG's IHDR says about its pixel data (for a decode: :func:`inflate_png`)."""

    width: int
    height: int
    depth: int
    colour: int
    interlaced: bool


def walk_png(data: bytes, name: str) -> Facts:
    """Check a PNG file (module docstring)."""
    layout, _idat = _png_chunks(data, name, keep_idat=False)
    return Facts("PNG", layout.width, layout.height)


def _png_chunks(data: bytes, name: str, *, keep_idat: bool) -> tuple[PngLayout, list[bytes]]:
    n = len(data)
    if data[:8] != _PNG_SIGNATURE:
        if _PNG_SIGNATURE.startswith(data[:8]):
            raise _fail(name, "truncated: inside the PNG signature")
        raise _fail(name, "not a PNG file (no PNG signature)")
    view = memoryview(data)
    crc32 = zlib.crc32
    layout: PngLayout | None = None
    palette = False
    idat_state = 0  # 0 before the IDATs, 1 in them, 2 after them
    zlib_head = b""
    idat: list[bytes] = []
    pos = 8
    while True:
        if pos + 8 > n:
            raise _fail(
                name,
                "truncated: no IEND chunk"
                if pos == n
                else f"truncated: a chunk header at offset {pos} is cut",
            )
        length, kind = _CHUNK.unpack_from(data, pos)
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise _fail(name, f"malformed: chunk at offset {pos} (type {kind!r}, length {length})")
        end = pos + 12 + length
        if end > n:
            raise _fail(
                name,
                f"truncated: chunk {kind.decode()} at offset {pos} declares "
                f"{length} bytes, {n - pos - 12} remain",
            )
        if crc32(view[pos + 4 : end - 4]) != _CRC.unpack_from(data, end - 4)[0]:
            raise _fail(name, f"damaged: chunk {kind.decode()} at offset {pos} fails its CRC")
        body = pos + 8
        if layout is None and kind != b"IHDR":
            raise _fail(name, f"malformed: the first chunk is {kind.decode()}, not IHDR")
        if kind == b"IDAT":
            if idat_state == 2:
                raise _fail(name, f"malformed: IDAT chunks not consecutive (offset {pos})")
            if layout is not None and layout.colour == 3 and not palette:
                raise _fail(name, "malformed: a palette image without a PLTE chunk")
            idat_state = 1
            if len(zlib_head) < 2:
                zlib_head += data[body : body + min(length, 2 - len(zlib_head))]
            if keep_idat:
                idat.append(data[body : end - 4])
        else:
            if idat_state == 1:
                idat_state = 2
            if kind == b"IHDR":
                if layout is not None or length != 13:
                    raise _fail(name, f"malformed: IHDR chunk at offset {pos}")
                layout = _png_header(data, body, name)
            elif kind == b"PLTE":
                if palette or idat_state or length % 3 or not 3 <= length <= 768:
                    raise _fail(name, f"malformed: PLTE chunk at offset {pos}")
                assert layout is not None
                if layout.colour in (0, 4):
                    raise _fail(name, "malformed: a PLTE chunk in a greyscale image")
                palette = True
            elif kind == b"IEND":
                if length:
                    raise _fail(name, "malformed: IEND chunk with data")
                if not idat_state:
                    raise _fail(name, "malformed: no IDAT chunk")
                if end != n:
                    raise _fail(name, f"malformed: {n - end} bytes after the IEND chunk")
                break
            elif kind[0] < 0x61 and kind not in _KNOWN_CRITICAL:  # upper case: critical
                raise _fail(name, f"unsupported: critical chunk {kind.decode()}")
        pos = end
    assert layout is not None
    cmf_flg = int.from_bytes(zlib_head, "big") if len(zlib_head) == 2 else 0
    if len(zlib_head) < 2 or (zlib_head[0] & 0x0F) != 8 or zlib_head[0] >> 4 > 7:
        raise _fail(name, "malformed: the IDAT data does not start a zlib stream")
    if cmf_flg % 31 or zlib_head[1] & 0x20:
        raise _fail(name, "malformed: the IDAT data does not start a zlib stream")
    return layout, idat


def _png_header(data: bytes, pos: int, name: str) -> PngLayout:
    width, height, depth, colour, compression, filtering, interlace = _IHDR_PNG.unpack_from(
        data, pos
    )
    if not 0 < width <= 0x7FFFFFFF or not 0 < height <= 0x7FFFFFFF:
        raise _fail(name, f"malformed: IHDR gives {width}x{height} pixels")
    if depth not in _DEPTHS.get(colour, ()):
        raise _fail(name, f"malformed: IHDR: bit depth {depth} with colour type {colour}")
    if compression or filtering or interlace > 1:
        raise _fail(name, "malformed: IHDR: unknown compression, filter or interlace method")
    if width * height > MAX_PIXELS:
        raise _fail(name, f"unsupported: {width}x{height} pixels, more than Pillow opens")
    return PngLayout(width, height, depth, colour, bool(interlace))


_INFLATE_PIECE = 1 << 20  # bytes of pixel data inflated at a time

# x0, y0, dx, dy of each Adam7 pass (ISO/IEC 15948 §8.2)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # fmt: skip


def inflate_png(data: bytes, name: str) -> Facts:
    """:func:`walk_png`, then inflate the pixel data: the zlib stream complete (its Adler-32
    checked), exactly as long as IHDR implies, every row's filter type 0-4. What is left
    unproved is only the unfiltering (pixel values), which cannot fail. The data is inflated a
    piece at a time: memory does not grow with the image."""
    layout, idat = _png_chunks(data, name, keep_idat=True)
    bits = layout.depth * _CHANNELS[layout.colour]
    passes = (
        [(len(range(x0, layout.width, dx)), len(range(y0, layout.height, dy)))
         for x0, y0, dx, dy in _ADAM7]
        if layout.interlaced
        else [(layout.width, layout.height)]
    )  # fmt: skip
    # Each pass's rows: (offset of its first row in the inflated data, bytes a row, rows).
    rows: list[tuple[int, int, int]] = []
    expected = 0
    for width, height in passes:
        if width and height:
            size = -(-width * bits // 8) + 1  # the filter type byte, then the row
            rows.append((expected, size, height))
            expected += size * height
    inflater = zlib.decompressobj()
    done = 0  # bytes inflated so far
    pending = b"".join(idat)
    try:
        while True:
            piece = inflater.decompress(pending, _INFLATE_PIECE)
            pending = inflater.unconsumed_tail
            if done + len(piece) > expected:
                raise _fail(name, "malformed: more pixel data than IHDR's size")
            for first, size, height in rows:
                end = first + size * height
                if end <= done or first >= done + len(piece):
                    continue
                start = first + -(-max(0, done - first) // size) * size  # the next row's start
                stop = min(end, done + len(piece))
                if start < stop and max(piece[start - done : stop - done : size]) > 4:
                    raise _fail(name, "malformed: a row with an unknown filter type")
            done += len(piece)
            if inflater.eof or not piece:
                break
    except zlib.error as exc:
        raise _fail(name, f"damaged: the compressed pixel data does not inflate ({exc})") from None
    if not inflater.eof:
        raise _fail(
            name, f"truncated: the compressed pixel data ends early ({done} of {expected} bytes)"
        )
    if done != expected:
        raise _fail(name, f"malformed: {done} bytes of pixel data, IHDR implies {expected}")
    return Facts("PNG", layout.width, layout.height)
