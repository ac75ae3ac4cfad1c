"""EF.DG11: additional personal details (ICAO 9303-10 §4.7.11).

::

    6B L
       5C   tag list of the elements present
       5F0E full name (primary<<secondary)
       A0 { 02 count, 5F0F other name, ... }
       5F10 personal number          5F2B full date of birth yyyymmdd
       5F11 place of birth           5F42 permanent address
       5F12 telephone                5F13 profession
       5F14 title                    5F15 personal summary
       5F16 proof of citizenship (an image)
       5F17 other valid TD numbers   5F18 custody information

Every element is optional. The tag list names the elements present; following the worked
examples of 9303-10 (Appendix A) and its Supplement, the other-names group is listed by its
inner tag 5F0F rather than by A0 (both are accepted on decode). Text is UTF-8 (LDS 1.8; plain
ASCII in older files is a subset). Vietnam's CCCD has no DG11; this module exists for the
profiles that do and for reading foreign documents.

The helpers at the bottom (tag lists, dates, the counted name group) are shared with DG12.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cardkit.encoding import tlv
from cardkit.errors import EncodingError

TAG = 0x6B
TAG_LIST_TAG = 0x5C
OTHER_NAMES_GROUP_TAG = 0xA0
COUNT_TAG = 0x02
FULL_NAME_TAG = 0x5F0E
OTHER_NAME_TAG = 0x5F0F
PERSONAL_NUMBER_TAG = 0x5F10
FULL_DATE_OF_BIRTH_TAG = 0x5F2B
PLACE_OF_BIRTH_TAG = 0x5F11
ADDRESS_TAG = 0x5F42
TELEPHONE_TAG = 0x5F12
PROFESSION_TAG = 0x5F13
TITLE_TAG = 0x5F14
PERSONAL_SUMMARY_TAG = 0x5F15
PROOF_OF_CITIZENSHIP_TAG = 0x5F16
OTHER_TD_NUMBERS_TAG = 0x5F17
CUSTODY_INFORMATION_TAG = 0x5F18

#: Text elements in the order 9303-10 Table 44 lists them (also our encoding order).
_TEXT_TAGS: dict[int, str] = {
    FULL_NAME_TAG: "full_name",
    PERSONAL_NUMBER_TAG: "personal_number",
    PLACE_OF_BIRTH_TAG: "place_of_birth",
    ADDRESS_TAG: "address",
    TELEPHONE_TAG: "telephone",
    PROFESSION_TAG: "profession",
    TITLE_TAG: "title",
    PERSONAL_SUMMARY_TAG: "personal_summary",
    OTHER_TD_NUMBERS_TAG: "other_td_numbers",
    CUSTODY_INFORMATION_TAG: "custody_information",
}


@dataclass(frozen=True)
class Dg11:
    """EF.DG11, additional personal details (ICAO 9303-10 §4.7.11). ``None`` = absent."""

    full_name: str | None = None
    other_names: tuple[str, ...] = ()
    personal_number: str | None = None
    full_date_of_birth: str | None = None
    place_of_birth: str | None = None
    address: str | None = None
    telephone: str | None = None
    profession: str | None = None
    title: str | None = None
    personal_summary: str | None = None
    proof_of_citizenship: bytes | None = field(default=None, repr=False)
    other_td_numbers: str | None = None
    custody_information: str | None = None
    raw: bytes = field(default=b"", repr=False, compare=True)

    def __post_init__(self) -> None:
        for name in (*_TEXT_TAGS.values(), "full_date_of_birth"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise EncodingError(f"DG11 {name} must be text")
        if not isinstance(self.other_names, tuple) or not all(
            isinstance(n, str) for n in self.other_names
        ):
            raise EncodingError("DG11 other_names must be a tuple of text")
        check_count(len(self.other_names), "DG11 other names")
        if self.proof_of_citizenship is not None and not isinstance(
            self.proof_of_citizenship, bytes
        ):
            raise EncodingError("DG11 proof_of_citizenship must be bytes")
        if self.full_date_of_birth is not None:
            check_digits(self.full_date_of_birth, 8, "DG11 full date of birth (yyyymmdd)")
        if not self.raw.startswith(b"\x6b"):
            raise EncodingError("DG11 raw bytes must start with tag 6B")

    @classmethod
    def build(
        cls,
        *,
        full_name: str | None = None,
        other_names: Iterable[str] = (),
        personal_number: str | None = None,
        full_date_of_birth: str | None = None,
        place_of_birth: str | None = None,
        address: str | None = None,
        telephone: str | None = None,
        profession: str | None = None,
        title: str | None = None,
        personal_summary: str | None = None,
        proof_of_citizenship: bytes | None = None,
        other_td_numbers: str | None = None,
        custody_information: str | None = None,
    ) -> Dg11:
        """Encode DG11 from content; the tag list is generated from the elements present."""
        names = tuple(other_names)
        if full_date_of_birth is not None:
            check_digits(full_date_of_birth, 8, "DG11 full date of birth (yyyymmdd)")
        check_count(len(names), "DG11 other names")
        # Encoding order: 9303-10 Table 44. Each entry: (tag-list tag, encoded element or None).
        ordered: list[tuple[int, bytes | None]] = [
            (FULL_NAME_TAG, _text_element(FULL_NAME_TAG, full_name)),
            (
                OTHER_NAME_TAG,
                encode_name_group(OTHER_NAME_TAG, names, "DG11 other names") if names else None,
            ),
            (PERSONAL_NUMBER_TAG, _text_element(PERSONAL_NUMBER_TAG, personal_number)),
            (
                FULL_DATE_OF_BIRTH_TAG,
                None
                if full_date_of_birth is None
                else tlv.encode(FULL_DATE_OF_BIRTH_TAG, full_date_of_birth.encode("ascii")),
            ),
            (PLACE_OF_BIRTH_TAG, _text_element(PLACE_OF_BIRTH_TAG, place_of_birth)),
            (ADDRESS_TAG, _text_element(ADDRESS_TAG, address)),
            (TELEPHONE_TAG, _text_element(TELEPHONE_TAG, telephone)),
            (PROFESSION_TAG, _text_element(PROFESSION_TAG, profession)),
            (TITLE_TAG, _text_element(TITLE_TAG, title)),
            (PERSONAL_SUMMARY_TAG, _text_element(PERSONAL_SUMMARY_TAG, personal_summary)),
            (
                PROOF_OF_CITIZENSHIP_TAG,
                None
                if proof_of_citizenship is None
                else tlv.encode(PROOF_OF_CITIZENSHIP_TAG, bytes(proof_of_citizenship)),
            ),
            (OTHER_TD_NUMBERS_TAG, _text_element(OTHER_TD_NUMBERS_TAG, other_td_numbers)),
            (CUSTODY_INFORMATION_TAG, _text_element(CUSTODY_INFORMATION_TAG, custody_information)),
        ]
        elements = [(t, e) for t, e in ordered if e is not None]
        raw = encode_with_tag_list(TAG, elements)
        return cls(
            full_name=full_name,
            other_names=names,
            personal_number=personal_number,
            full_date_of_birth=full_date_of_birth,
            place_of_birth=place_of_birth,
            address=address,
            telephone=telephone,
            profession=profession,
            title=title,
            personal_summary=personal_summary,
            proof_of_citizenship=None
            if proof_of_citizenship is None
            else bytes(proof_of_citizenship),
            other_td_numbers=other_td_numbers,
            custody_information=custody_information,
            raw=raw,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Dg11:
        """Strict decode; the tag list must name exactly the elements present."""
        data = bytes(data)
        elements = decode_with_tag_list(data, TAG, "DG11", OTHER_NAMES_GROUP_TAG, OTHER_NAME_TAG)
        allowed = {*_TEXT_TAGS, FULL_DATE_OF_BIRTH_TAG, PROOF_OF_CITIZENSHIP_TAG, OTHER_NAME_TAG}
        texts: dict[str, str | None] = dict.fromkeys(_TEXT_TAGS.values())
        names: tuple[str, ...] = ()
        dob: str | None = None
        proof: bytes | None = None
        for tag, element in elements.items():
            if tag not in allowed:
                raise EncodingError(f"DG11: unknown element {tag:X} (9303-10 §4.7.11)")
            if tag == OTHER_NAME_TAG:
                names = decode_name_group(element, OTHER_NAME_TAG, "DG11 other names")
            elif tag == FULL_DATE_OF_BIRTH_TAG:
                dob = decode_date(element.value, 8, "DG11 full date of birth")
            elif tag == PROOF_OF_CITIZENSHIP_TAG:
                proof = element.value
            else:
                texts[_TEXT_TAGS[tag]] = from_utf8(element.value, f"DG11 element {tag:X}")
        return cls(
            other_names=names,
            full_date_of_birth=dob,
            proof_of_citizenship=proof,
            raw=data,
            **texts,
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"file": "DG11"}
        for name in (
            "full_name",
            "other_names",
            "personal_number",
            "full_date_of_birth",
            "place_of_birth",
            "address",
            "telephone",
            "profession",
            "title",
            "personal_summary",
            "other_td_numbers",
            "custody_information",
        ):
            value = getattr(self, name)
            if value is None or value == ():
                continue
            out[name] = list(value) if isinstance(value, tuple) else value
        if self.proof_of_citizenship is not None:
            out["proof_of_citizenship"] = {"bytes": len(self.proof_of_citizenship)}
        return out


def _text_element(tag: int, text: str | None) -> bytes | None:
    return None if text is None else tlv.encode(tag, utf8(text, f"DG11 element {tag:X}"))


# --- helpers shared with DG12 ---------------------------------------------------------------


def utf8(text: str, what: str) -> bytes:
    """UTF-8 bytes of ``text``; an EncodingError (not UnicodeEncodeError) for lone surrogates."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodingError(f"{what}: text cannot be encoded as UTF-8") from None


def from_utf8(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(f"{what} is not valid UTF-8", offset=exc.start) from None


def check_digits(value: str, length: int, what: str) -> None:
    if len(value) != length or not value.isascii() or not value.isdigit():
        raise EncodingError(f"{what} must be {length} ASCII digits")


def check_count(count: int, what: str) -> None:
    # The count is a one-byte DER INTEGER: 1..127 names (0x80 would read as negative).
    if count > 0x7F:
        raise EncodingError(f"{what}: at most 127 entries fit the one-byte count")


def decode_date(value: bytes, digits: int, what: str) -> str:
    """A date(-time) written as ASCII digits, or (seen on real documents) as packed BCD."""
    if len(value) == digits:
        text = value.decode("ascii", errors="replace")
    elif len(value) * 2 == digits:
        text = value.hex()
    else:
        raise EncodingError(f"{what}: expected {digits} ASCII digits or {digits // 2} BCD bytes")
    check_digits(text, digits, what)
    return text


def parse_tag_list(value: bytes, what: str) -> tuple[int, ...]:
    """Split a ``5C`` tag list into tags (BER tag rules, ISO/IEC 8825-1 §8.1.2)."""
    tags: list[int] = []
    i = 0
    while i < len(value):
        start = i
        first = value[i]
        i += 1
        if first in (0x00, 0xFF):
            raise EncodingError(f"{what} tag list: invalid tag byte", offset=start)
        if first & 0x1F == 0x1F:
            while True:
                if i >= len(value):
                    raise EncodingError(f"{what} tag list: truncated tag", offset=start)
                b = value[i]
                i += 1
                if i - start > 4:
                    raise EncodingError(f"{what} tag list: tag too long", offset=start)
                if not b & 0x80:
                    break
        tags.append(int.from_bytes(value[start:i], "big"))
    return tuple(tags)


def encode_with_tag_list(outer_tag: int, elements: Sequence[tuple[int, bytes]]) -> bytes:
    """``outer_tag { 5C tag-list, elements... }``."""
    tag_list = b"".join(tlv.tag_bytes(t) for t, _ in elements)
    body = tlv.encode(TAG_LIST_TAG, tag_list) + b"".join(e for _, e in elements)
    return tlv.encode(outer_tag, body)


def decode_with_tag_list(
    data: bytes, outer_tag: int, what: str, group_tag: int, name_tag: int
) -> dict[int, tlv.Tlv]:
    """Decode ``outer_tag { 5C, elements }``; check the tag list against the elements.

    Returns the elements keyed by their tag-list tag: a counted name group (``A0``) and a bare
    name element (``name_tag``, found in some real passports) are both keyed by ``name_tag``.
    """
    outer = tlv.decode_single(data, outer_tag, what=what)
    children = outer.children()
    if not children or children[0].tag != TAG_LIST_TAG:
        raise EncodingError(f"{what}: the tag list (5C) must come first")
    listed = parse_tag_list(children[0].value, what)
    if len(set(listed)) != len(listed):
        raise EncodingError(f"{what}: the tag list names an element twice")
    elements: dict[int, tlv.Tlv] = {}
    for child in children[1:]:
        key = name_tag if child.tag == group_tag else child.tag
        if child.tag == TAG_LIST_TAG:
            raise EncodingError(f"{what}: a second tag list")
        if key in elements:
            raise EncodingError(f"{what}: element {key:X} appears twice")
        elements[key] = child
    # A0 in the tag list stands for the name group, like its inner tag does.
    normalised = {name_tag if t == group_tag else t for t in listed}
    if len(normalised) != len(listed) or normalised != set(elements):
        raise EncodingError(
            f"{what}: the tag list does not match the elements present (9303-10 §4.7)"
        )
    return elements


def encode_name_group(name_tag: int, names: Sequence[str], what: str) -> bytes:
    """``A0 { 02 01 count, name_tag name, ... }`` (9303-10 §4.7.11 / §4.7.12)."""
    check_count(len(names), what)
    body = tlv.encode(COUNT_TAG, bytes([len(names)])) + b"".join(
        tlv.encode(name_tag, utf8(n, what)) for n in names
    )
    return tlv.encode(OTHER_NAMES_GROUP_TAG, body)


def decode_name_group(element: tlv.Tlv, name_tag: int, what: str) -> tuple[str, ...]:
    if element.tag == name_tag:  # a bare name, without the counted group
        return (from_utf8(element.value, what),)
    if element.tag != OTHER_NAMES_GROUP_TAG:
        raise EncodingError(f"{what}: unexpected tag {element.tag:X}")
    children = element.children()
    if not children or children[0].tag != COUNT_TAG:
        raise EncodingError(f"{what}: the count (02) must come first")
    count = children[0].value
    if len(count) != 1 or not 1 <= count[0] <= 0x7F:
        raise EncodingError(f"{what}: the count must be one byte, 1 to 127")
    names = children[1:]
    if any(n.tag != name_tag for n in names):
        raise EncodingError(f"{what}: only {name_tag:X} elements may follow the count")
    if len(names) != count[0]:
        raise EncodingError(f"{what}: the count says {count[0]}, {len(names)} names follow")
    return tuple(from_utf8(n.value, what) for n in names)
