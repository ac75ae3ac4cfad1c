"""BER-TLV as used by ISO/IEC 7816-4 and the ICAO LDS (9303-10 §4.4, ISO/IEC 8825-1).

Tags are handled as integers holding their encoded bytes (``0x5F1F`` for the two-byte tag
``5F 1F``), which is how ICAO and ISO write them. Only the definite length form is accepted:
9303-10 forbids the indefinite form in LDS files. Decoding is strict and raises
:class:`~cardkit.errors.EncodingError` with the offset of the first bad byte; it never raises
anything else on malformed input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cardkit.errors import EncodingError

#: Longest length field we accept (1 + 4 bytes): no card file comes near 4 GiB.
_MAX_LENGTH_OCTETS = 4


def tag_bytes(tag: int) -> bytes:
    """The encoded bytes of ``tag`` (an int holding the tag's bytes, e.g. ``0x7F61``)."""
    if tag < 0:
        raise ValueError("a tag is a non-negative integer")
    raw = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    _check_tag_form(raw)
    return raw


def _check_tag_form(raw: bytes) -> None:
    # ISO/IEC 8825-1 §8.1.2: low five bits 11111 announce subsequent bytes, each with b8 set
    # except the last. A one-byte tag must not have 11111 in its low bits.
    multi = raw[0] & 0x1F == 0x1F
    if not multi:
        if len(raw) != 1:
            raise ValueError(f"tag {raw.hex().upper()}: first byte does not announce more bytes")
        return
    if len(raw) < 2:
        raise ValueError(f"tag {raw.hex().upper()}: announces more bytes but has none")
    for i, b in enumerate(raw[1:], start=1):
        last = i == len(raw) - 1
        if bool(b & 0x80) == last:
            raise ValueError(f"tag {raw.hex().upper()}: bad continuation bit in byte {i}")


def is_constructed(tag: int) -> bool:
    """Whether ``tag`` is a constructed (b6 of the first byte set) tag."""
    first = tag_bytes(tag)[0]
    return bool(first & 0x20)


def encode_length(length: int) -> bytes:
    """DER definite length: short form below 128, else ``8n`` followed by n bytes."""
    if length < 0:
        raise ValueError("a length is non-negative")
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(raw) > _MAX_LENGTH_OCTETS:
        raise ValueError("value too long for BER-TLV")
    return bytes([0x80 | len(raw)]) + raw


def encode(tag: int, value: bytes) -> bytes:
    """One TLV: tag, definite length, value."""
    n = len(value)
    if tag <= 0xFF and tag & 0x1F != 0x1F and n < 0x80:
        return bytes((tag, n)) + value  # the common case, without the general checks
    return tag_bytes(tag) + encode_length(n) + value


@dataclass(frozen=True)
class Tlv:
    """One decoded data object. ``raw`` holds the exact bytes it was decoded from."""

    tag: int
    value: bytes
    raw: bytes

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def children(self) -> list[Tlv]:
        """The data objects inside a constructed TLV."""
        if not self.constructed:
            raise EncodingError(f"tag {self.tag:X} is primitive and has no children")
        return decode_all(self.value)

    def __bytes__(self) -> bytes:
        return self.raw

    @classmethod
    def build(cls, tag: int, value: bytes) -> Tlv:
        return cls(tag, value, encode(tag, value))


def _read_tag(data: bytes, offset: int) -> tuple[int, int]:
    if offset >= len(data):
        raise EncodingError("truncated: tag expected", offset=offset)
    start = offset
    first = data[offset]
    offset += 1
    if first in (0x00, 0xFF):
        # 00 and FF are padding/invalid as the first tag byte (ISO/IEC 7816-4 §5.2.2.1).
        raise EncodingError(f"invalid tag byte {first:02X}", offset=start)
    if first & 0x1F == 0x1F:
        while True:
            if offset >= len(data):
                raise EncodingError("truncated inside a multi-byte tag", offset=offset)
            b = data[offset]
            offset += 1
            if offset - start > 4:
                raise EncodingError("tag longer than 4 bytes", offset=start)
            if not b & 0x80:
                break
    return int.from_bytes(data[start:offset], "big"), offset


def _read_length(data: bytes, offset: int) -> tuple[int, int]:
    if offset >= len(data):
        raise EncodingError("truncated: length expected", offset=offset)
    first = data[offset]
    offset += 1
    if first < 0x80:
        return first, offset
    n = first & 0x7F
    if n == 0:
        raise EncodingError("indefinite length is not allowed (9303-10 §4.4)", offset=offset - 1)
    if n > _MAX_LENGTH_OCTETS:
        raise EncodingError(f"length field of {n} bytes is too long", offset=offset - 1)
    if offset + n > len(data):
        raise EncodingError("truncated inside a length field", offset=offset)
    return int.from_bytes(data[offset : offset + n], "big"), offset + n


def decode_one(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """Decode the TLV at ``offset``; return it and the offset just past it."""
    start = offset
    tag, offset = _read_tag(data, offset)
    length, offset = _read_length(data, offset)
    end = offset + length
    if end > len(data):
        raise EncodingError(
            f"tag {tag:X} declares {length} bytes but only {len(data) - offset} remain",
            offset=start,
        )
    return Tlv(tag, bytes(data[offset:end]), bytes(data[start:end])), end


def iter_tlv(data: bytes) -> Iterator[Tlv]:
    """Decode consecutive TLVs filling ``data`` exactly."""
    offset = 0
    while offset < len(data):
        tlv, offset = decode_one(data, offset)
        yield tlv


def decode_all(data: bytes) -> list[Tlv]:
    """Decode consecutive TLVs filling ``data`` exactly."""
    return list(iter_tlv(data))


def decode_single(data: bytes, expected_tag: int | None = None, *, what: str = "") -> Tlv:
    """Decode exactly one TLV covering all of ``data``, optionally checking its tag."""
    tlv, end = decode_one(data)
    label = what or "data"
    if expected_tag is not None and tlv.tag != expected_tag:
        raise EncodingError(f"{label}: expected tag {expected_tag:X}, found {tlv.tag:X}", offset=0)
    if end != len(data):
        raise EncodingError(
            f"{label}: {len(data) - end} unexpected bytes after the TLV", offset=end
        )
    return tlv


def find(children: list[Tlv], tag: int) -> Tlv | None:
    """The first child with ``tag``, or None."""
    return next((c for c in children if c.tag == tag), None)


def require(children: list[Tlv], tag: int, what: str) -> Tlv:
    """The first child with ``tag``; an EncodingError naming ``what`` when absent."""
    found = find(children, tag)
    if found is None:
        raise EncodingError(f"{what}: required tag {tag:X} is missing")
    return found
