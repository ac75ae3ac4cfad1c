"""EF.COM: the LDS version, the Unicode version and the list of data groups present.

ICAO 9303-10 §4.6.1 (Table 33)::

    60 L
       5F01 04 "aabb"      LDS version, 4 ASCII digits (aa major, bb minor: "0107" = LDS 1.7)
       5F36 06 "aabbcc"    Unicode version, 6 ASCII digits ("040000" = Unicode 4.0.0)
       5C   n  tag list    one byte per data group present (61 = DG1, 75 = DG2, ...)

EF.COM is not covered by EF.SOD, so a verifier must never trust it over EF.SOD's hash list; it is
still what readers use to decide which files to select, so the issuer keeps it consistent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds import files

TAG = 0x60
LDS_VERSION_TAG = 0x5F01
UNICODE_VERSION_TAG = 0x5F36
TAG_LIST_TAG = 0x5C

_DG_NUMBER_BY_TAG: dict[int, int] = {
    spec.tag: spec.dg for spec in files.DATA_GROUPS if spec.tag is not None and spec.dg is not None
}


def _check_digits(value: str, length: int, what: str) -> None:
    if len(value) != length or not value.isascii() or not value.isdigit():
        raise EncodingError(f"EF.COM {what} must be {length} ASCII digits (9303-10 §4.6.1)")


def _check_tags(tags: tuple[int, ...]) -> None:
    seen: set[int] = set()
    for i, tag in enumerate(tags):
        if tag not in _DG_NUMBER_BY_TAG:
            raise EncodingError(
                f"EF.COM tag list entry {i} ({tag:02X}) is not a data-group tag (9303-10 §4.6.1)"
            )
        if tag in seen:
            raise EncodingError(f"EF.COM tag list names DG{_DG_NUMBER_BY_TAG[tag]} twice")
        seen.add(tag)


@dataclass(frozen=True)
class Com:
    """EF.COM (ICAO 9303-10 §4.6.1). ``tags`` keeps the tag list in the order it was read."""

    lds_version: str
    unicode_version: str
    tags: tuple[int, ...]
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        _check_digits(self.lds_version, 4, "LDS version")
        _check_digits(self.unicode_version, 6, "Unicode version")
        _check_tags(self.tags)

    @property
    def data_groups(self) -> tuple[int, ...]:
        """Data-group numbers named in the tag list, in tag-list order."""
        return tuple(_DG_NUMBER_BY_TAG[t] for t in self.tags)

    @classmethod
    def build(cls, lds_version: str, unicode_version: str, data_groups: Iterable[int]) -> Com:
        """Encode EF.COM; the tag list is written in ascending DG order, as 9303-10 Appendix A.1."""
        numbers = list(data_groups)
        if len(set(numbers)) != len(numbers):
            raise EncodingError("EF.COM: a data group is listed twice")
        tag_by_number = {n: t for t, n in _DG_NUMBER_BY_TAG.items()}
        for n in numbers:
            if n not in tag_by_number:
                raise EncodingError(f"EF.COM: there is no DG{n}: data groups are numbered 1 to 16")
        clean = tuple(tag_by_number[n] for n in sorted(numbers))
        # Validate before encoding so that a bad version never reaches the bytes.
        _check_digits(lds_version, 4, "LDS version")
        _check_digits(unicode_version, 6, "Unicode version")
        body = (
            tlv.encode(LDS_VERSION_TAG, lds_version.encode("ascii"))
            + tlv.encode(UNICODE_VERSION_TAG, unicode_version.encode("ascii"))
            + tlv.encode(TAG_LIST_TAG, bytes(clean))
        )
        return cls(lds_version, unicode_version, clean, tlv.encode(TAG, body))

    @classmethod
    def from_bytes(cls, data: bytes) -> Com:
        """Strict decode: the three mandatory elements, once each, nothing else."""
        data = bytes(data)
        outer = tlv.decode_single(data, TAG, what="EF.COM")
        children = outer.children()
        seen: dict[int, tlv.Tlv] = {}
        for child in children:
            if child.tag not in (LDS_VERSION_TAG, UNICODE_VERSION_TAG, TAG_LIST_TAG):
                raise EncodingError(f"EF.COM: unexpected element {child.tag:X} (9303-10 §4.6.1)")
            if child.tag in seen:
                raise EncodingError(f"EF.COM: element {child.tag:X} appears twice")
            seen[child.tag] = child
        lds = tlv.require(children, LDS_VERSION_TAG, "EF.COM LDS version")
        uni = tlv.require(children, UNICODE_VERSION_TAG, "EF.COM Unicode version")
        tag_list = tlv.require(children, TAG_LIST_TAG, "EF.COM tag list")
        return cls(
            _ascii(lds.value, "LDS version"),
            _ascii(uni.value, "Unicode version"),
            tuple(tag_list.value),
            data,
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "file": "EF.COM",
            "lds_version": f"{int(self.lds_version[:2])}.{int(self.lds_version[2:])}",
            "unicode_version": ".".join(
                str(int(self.unicode_version[i : i + 2])) for i in (0, 2, 4)
            ),
            "data_groups": list(self.data_groups),
        }


def _ascii(value: bytes, what: str) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise EncodingError(f"EF.COM {what} is not ASCII") from None
