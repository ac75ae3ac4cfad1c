"""EF.DG12: additional document details (ICAO 9303-10 §4.7.12).

::

    6C L
       5C   tag list of the elements present
       5F19 issuing authority                 5F26 date of issue yyyymmdd
       A0 { 02 count, 5F1A name of other person, ... }
       5F1B endorsements and observations     5F1C tax / exit requirements
       5F1D image of the front of the document
       5F1E image of the rear of the document
       5F55 date and time of personalization yyyymmddhhmmss
       5F56 serial number of the personalization system

All optional. As in the 9303 Supplement's DG12 sample, the other-persons group is listed in the
tag list by its inner tag 5F1A (A0 is accepted too). Dates are ASCII digits; some real documents
write them as packed BCD, which decoding accepts (the raw bytes are kept as read).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds.dg11 import (
    OTHER_NAMES_GROUP_TAG,
    check_count,
    check_digits,
    decode_date,
    decode_name_group,
    decode_with_tag_list,
    encode_name_group,
    encode_with_tag_list,
    from_utf8,
    utf8,
)

TAG = 0x6C
ISSUING_AUTHORITY_TAG = 0x5F19
DATE_OF_ISSUE_TAG = 0x5F26
OTHER_PERSON_TAG = 0x5F1A
ENDORSEMENTS_TAG = 0x5F1B
TAX_EXIT_TAG = 0x5F1C
IMAGE_FRONT_TAG = 0x5F1D
IMAGE_REAR_TAG = 0x5F1E
PERSONALIZATION_TIME_TAG = 0x5F55
PERSONALIZATION_SERIAL_TAG = 0x5F56

_TEXT_TAGS: dict[int, str] = {
    ISSUING_AUTHORITY_TAG: "issuing_authority",
    ENDORSEMENTS_TAG: "endorsements",
    TAX_EXIT_TAG: "tax_exit_requirements",
    PERSONALIZATION_SERIAL_TAG: "personalization_serial",
}


@dataclass(frozen=True)
class Dg12:
    """EF.DG12, additional document details (ICAO 9303-10 §4.7.12). ``None`` = absent."""

    issuing_authority: str | None = None
    date_of_issue: str | None = None
    other_persons: tuple[str, ...] = ()
    endorsements: str | None = None
    tax_exit_requirements: str | None = None
    image_front: bytes | None = field(default=None, repr=False)
    image_rear: bytes | None = field(default=None, repr=False)
    personalization_time: str | None = None
    personalization_serial: str | None = None
    raw: bytes = field(default=b"", repr=False, compare=True)

    def __post_init__(self) -> None:
        for name in (*_TEXT_TAGS.values(), "date_of_issue", "personalization_time"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise EncodingError(f"DG12 {name} must be text")
        if not isinstance(self.other_persons, tuple) or not all(
            isinstance(n, str) for n in self.other_persons
        ):
            raise EncodingError("DG12 other_persons must be a tuple of text")
        check_count(len(self.other_persons), "DG12 other persons")
        for name in ("image_front", "image_rear"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bytes):
                raise EncodingError(f"DG12 {name} must be bytes")
        if self.date_of_issue is not None:
            check_digits(self.date_of_issue, 8, "DG12 date of issue (yyyymmdd)")
        if self.personalization_time is not None:
            check_digits(
                self.personalization_time, 14, "DG12 personalization time (yyyymmddhhmmss)"
            )
        if not self.raw.startswith(b"\x6c"):
            raise EncodingError("DG12 raw bytes must start with tag 6C")

    @classmethod
    def build(
        cls,
        *,
        issuing_authority: str | None = None,
        date_of_issue: str | None = None,
        other_persons: Iterable[str] = (),
        endorsements: str | None = None,
        tax_exit_requirements: str | None = None,
        image_front: bytes | None = None,
        image_rear: bytes | None = None,
        personalization_time: str | None = None,
        personalization_serial: str | None = None,
    ) -> Dg12:
        """Encode DG12 in 9303-10 Table 45 order; the tag list is generated."""
        persons = tuple(other_persons)
        if date_of_issue is not None:
            check_digits(date_of_issue, 8, "DG12 date of issue (yyyymmdd)")
        if personalization_time is not None:
            check_digits(personalization_time, 14, "DG12 personalization time (yyyymmddhhmmss)")
        ordered: list[tuple[int, bytes | None]] = [
            (ISSUING_AUTHORITY_TAG, _text(ISSUING_AUTHORITY_TAG, issuing_authority)),
            (DATE_OF_ISSUE_TAG, _ascii(DATE_OF_ISSUE_TAG, date_of_issue)),
            (
                OTHER_PERSON_TAG,
                encode_name_group(OTHER_PERSON_TAG, persons, "DG12 other persons")
                if persons
                else None,
            ),
            (ENDORSEMENTS_TAG, _text(ENDORSEMENTS_TAG, endorsements)),
            (TAX_EXIT_TAG, _text(TAX_EXIT_TAG, tax_exit_requirements)),
            (
                IMAGE_FRONT_TAG,
                None if image_front is None else tlv.encode(IMAGE_FRONT_TAG, image_front),
            ),
            (
                IMAGE_REAR_TAG,
                None if image_rear is None else tlv.encode(IMAGE_REAR_TAG, image_rear),
            ),
            (PERSONALIZATION_TIME_TAG, _ascii(PERSONALIZATION_TIME_TAG, personalization_time)),
            (PERSONALIZATION_SERIAL_TAG, _text(PERSONALIZATION_SERIAL_TAG, personalization_serial)),
        ]
        raw = encode_with_tag_list(TAG, [(t, e) for t, e in ordered if e is not None])
        return cls(
            issuing_authority=issuing_authority,
            date_of_issue=date_of_issue,
            other_persons=persons,
            endorsements=endorsements,
            tax_exit_requirements=tax_exit_requirements,
            image_front=None if image_front is None else bytes(image_front),
            image_rear=None if image_rear is None else bytes(image_rear),
            personalization_time=personalization_time,
            personalization_serial=personalization_serial,
            raw=raw,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Dg12:
        """Strict decode; the tag list must name exactly the elements present."""
        data = bytes(data)
        elements = decode_with_tag_list(data, TAG, "DG12", OTHER_NAMES_GROUP_TAG, OTHER_PERSON_TAG)
        texts: dict[str, str | None] = dict.fromkeys(_TEXT_TAGS.values())
        persons: tuple[str, ...] = ()
        issued: str | None = None
        perso_time: str | None = None
        front: bytes | None = None
        rear: bytes | None = None
        for tag, element in elements.items():
            if tag in _TEXT_TAGS:
                texts[_TEXT_TAGS[tag]] = from_utf8(element.value, f"DG12 element {tag:X}")
            elif tag == OTHER_PERSON_TAG:
                persons = decode_name_group(element, OTHER_PERSON_TAG, "DG12 other persons")
            elif tag == DATE_OF_ISSUE_TAG:
                issued = decode_date(element.value, 8, "DG12 date of issue")
            elif tag == PERSONALIZATION_TIME_TAG:
                perso_time = decode_date(element.value, 14, "DG12 personalization time")
            elif tag == IMAGE_FRONT_TAG:
                front = element.value
            elif tag == IMAGE_REAR_TAG:
                rear = element.value
            else:
                raise EncodingError(f"DG12: unknown element {tag:X} (9303-10 §4.7.12)")
        return cls(
            date_of_issue=issued,
            other_persons=persons,
            personalization_time=perso_time,
            image_front=front,
            image_rear=rear,
            raw=data,
            **texts,
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"file": "DG12"}
        for name in (
            "issuing_authority",
            "date_of_issue",
            "other_persons",
            "endorsements",
            "tax_exit_requirements",
            "personalization_time",
            "personalization_serial",
        ):
            value = getattr(self, name)
            if value is None or value == ():
                continue
            out[name] = list(value) if isinstance(value, tuple) else value
        for name in ("image_front", "image_rear"):
            image = getattr(self, name)
            if image is not None:
                out[name] = {"bytes": len(image)}
        return out


def _text(tag: int, text: str | None) -> bytes | None:
    return None if text is None else tlv.encode(tag, utf8(text, f"DG12 element {tag:X}"))


def _ascii(tag: int, digits: str | None) -> bytes | None:
    return None if digits is None else tlv.encode(tag, digits.encode("ascii"))
