"""EF.DG13 on Vietnam's chip citizen ID card (CCCD): the citizen data, tag ``6D``.

DG13 is left to the issuing State by ICAO 9303-10 §4.7.13. Vietnam's layout, as documented in
the project's DOMAIN.md §4 and by public CCCD readers, is a list of numbered fields::

    30 LL  02 01 <n>  <value>                      one field; <value> is a PrintableString (13)
                                                   or a UTF8String (0C)
    30 LL  02 01 0D  {30 LL 0C father}{30 LL 0C mother}     field 13, parents
    30 03  02 01 0E                                          field 14, no spouse
    30 LL  02 01 0E  {30 LL 0C spouse}                       field 14, spouse

Field numbers: 1 ID number (13) · 2 full name (0C) · 3 date of birth dd/mm/yyyy (13) · 4 sex (0C)
· 5 nationality (0C) · 6 ethnicity (0C) · 7 religion (0C) · 8 place of origin (0C) · 9 place of
residence (0C) · 10 identifying marks (0C) · 11 date of issue (13) · 12 date of expiry (0C,
dd/mm/yyyy or "Không thời hạn") · 13 parents · 14 spouse · 15 old ID number (13) · 16 a
16-character PrintableString of uncertain meaning (kept as an unknown field).

**Decoding** finds the fields by their ``02 01 n`` number, never by offset, and tolerates the
outer nesting seen on real cards and assumed by public readers (which scan for ``30 LL 02 01 n``
anywhere in the file): fields directly inside ``6D`` or inside one or more wrapping SEQUENCE/SET
containers. A SEQUENCE whose first element is an INTEGER is a field unless it itself contains
fields (then it is a wrapper with, e.g., a version number). Anything else found between the
fields (an OID, a version INTEGER) is kept, raw, in :attr:`Dg13.extras`. Unknown field numbers
and their values are kept too, and :attr:`Dg13.raw` always holds the bytes exactly as read, so
EF.SOD's hash stays verifiable.

**Encoding** writes ``6D { 30 { field 1, field 2, ... } }``: one wrapping SEQUENCE, the shape
public CCCD profiles describe (a ``6D`` root holding a ``30`` container: the reader profile
"VN-CCCD-2024", and dmrtd-based CCCD readers that decode the ``6D`` content as a single TLV).
The number of wrappers is a parameter (``wrappers=0`` writes the fields straight into ``6D``)
because no public specification pins it down. Fields are written in ascending number; field 14
is always written (empty when there is no spouse), as on real cards; text is NFC-normalised.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cardkit.encoding import tlv
from cardkit.errors import EncodingError

TAG = 0x6D
SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
PRINTABLE_STRING = 0x13
UTF8_STRING = 0x0C

#: Deepest nesting of wrappers / values we follow: real cards use one or two levels.
_MAX_DEPTH = 8

#: X.680 §41.4 PrintableString repertoire.
PRINTABLE_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
)

ID_NUMBER = 1
FULL_NAME = 2
DATE_OF_BIRTH = 3
SEX = 4
NATIONALITY = 5
ETHNICITY = 6
RELIGION = 7
PLACE_OF_ORIGIN = 8
PLACE_OF_RESIDENCE = 9
IDENTIFYING_MARKS = 10
DATE_OF_ISSUE = 11
DATE_OF_EXPIRY = 12
PARENTS = 13
SPOUSE = 14
OLD_ID_NUMBER = 15

#: English names of the known single-text fields, and whether build writes a PrintableString.
_TEXT_FIELDS: dict[int, tuple[str, bool]] = {
    ID_NUMBER: ("id_number", True),
    FULL_NAME: ("full_name", False),
    DATE_OF_BIRTH: ("date_of_birth", True),
    SEX: ("sex", False),
    NATIONALITY: ("nationality", False),
    ETHNICITY: ("ethnicity", False),
    RELIGION: ("religion", False),
    PLACE_OF_ORIGIN: ("place_of_origin", False),
    PLACE_OF_RESIDENCE: ("place_of_residence", False),
    IDENTIFYING_MARKS: ("identifying_marks", False),
    DATE_OF_ISSUE: ("date_of_issue", True),
    DATE_OF_EXPIRY: ("date_of_expiry", False),
    OLD_ID_NUMBER: ("old_id_number", True),
}
_KNOWN = frozenset({*_TEXT_FIELDS, PARENTS, SPOUSE})


def _check_printable(text: str, what: str) -> None:
    bad = next((i for i, ch in enumerate(text) if ch not in PRINTABLE_CHARS), None)
    if bad is not None:
        raise EncodingError(f"{what}: character {bad} is not allowed in a PrintableString")


def _tlv(tag: int, body: bytes) -> bytes:
    """:func:`tlv.encode` for the one-byte tags DG13 writes, short lengths inline: a card's
    DG13 is some fifty TLVs, and the general encoder was 40 % of building it."""
    if len(body) < 0x80:
        return bytes((tag, len(body))) + body
    return tlv.encode(tag, body)


@functools.lru_cache(maxsize=64)
def _encode_integer(n: int) -> bytes:
    # DER: minimal two's complement; field numbers are positive.
    body = n.to_bytes((n.bit_length() + 8) // 8, "big")
    return tlv.encode(INTEGER, body)


def _decode_field_number(item: tlv.Tlv) -> int:
    v = item.value
    if not 1 <= len(v) <= 2:
        raise EncodingError("DG13 field number must be a 1- or 2-byte INTEGER")
    if v[0] & 0x80:
        raise EncodingError("DG13 field number is negative")
    if len(v) == 2 and v[0] == 0 and not v[1] & 0x80:
        raise EncodingError("DG13 field number is not minimally encoded (DER)")
    number = int.from_bytes(v, "big")
    if number == 0:
        raise EncodingError("DG13 field number 0 is not allowed")
    return number


_KIND_TAGS = {"printable": PRINTABLE_STRING, "utf8": UTF8_STRING, "sequence": SEQUENCE}


@dataclass(frozen=True)
class Dg13Value:
    """One value inside a DG13 field.

    ``kind`` is ``"printable"`` (PrintableString, 13), ``"utf8"`` (UTF8String, 0C),
    ``"sequence"`` (SEQUENCE, 30: its values in ``items``) or ``"other"`` (any other tag, kept
    as raw bytes). ``text`` is set for the two string kinds. ``raw`` is the whole TLV.
    """

    kind: str
    tag: int
    text: str | None
    raw: bytes = field(repr=False)
    items: tuple[Dg13Value, ...] = ()

    def __post_init__(self) -> None:
        expected = _KIND_TAGS
        if self.kind in expected:
            if self.tag != expected[self.kind]:
                raise EncodingError(
                    f"DG13 {self.kind} value must have tag {expected[self.kind]:02X}"
                )
        elif self.kind != "other" or self.tag in expected.values():
            raise EncodingError(f"DG13 value kind {self.kind!r} does not fit tag {self.tag:X}")
        if (self.text is not None) != (self.kind in ("printable", "utf8")):
            raise EncodingError("DG13 value: text is set exactly for the string kinds")
        if self.kind == "printable" and self.text is not None:
            _check_printable(self.text, "DG13 value")
        if self.items and self.kind != "sequence":
            raise EncodingError("DG13 value: only a sequence has items")

    @classmethod
    def printable(cls, text: str) -> Dg13Value:
        text = unicodedata.normalize("NFC", text)
        _check_printable(text, "DG13 PrintableString")
        return cls("printable", PRINTABLE_STRING, text, _tlv(PRINTABLE_STRING, text.encode()))

    @classmethod
    def utf8(cls, text: str) -> Dg13Value:
        text = unicodedata.normalize("NFC", text)
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:
            raise EncodingError("DG13 UTF8String: text cannot be encoded as UTF-8") from None
        return cls("utf8", UTF8_STRING, text, _tlv(UTF8_STRING, body))

    @classmethod
    def sequence(cls, items: Iterable[Dg13Value]) -> Dg13Value:
        kept = tuple(items)
        return cls("sequence", SEQUENCE, None, _tlv(SEQUENCE, b"".join(i.raw for i in kept)), kept)

    @classmethod
    def from_tlv(cls, item: tlv.Tlv, depth: int = 0) -> Dg13Value:
        if depth > _MAX_DEPTH:
            raise EncodingError("DG13 value nested too deeply")
        if item.tag == PRINTABLE_STRING:
            try:
                text = item.value.decode("ascii")
            except UnicodeDecodeError:
                raise EncodingError("DG13 PrintableString holds non-ASCII bytes") from None
            _check_printable(text, "DG13 PrintableString")
            return cls("printable", item.tag, text, item.raw)
        if item.tag == UTF8_STRING:
            try:
                text = item.value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise EncodingError(
                    "DG13 UTF8String is not valid UTF-8", offset=exc.start
                ) from None
            return cls("utf8", item.tag, text, item.raw)
        if item.tag == SEQUENCE:
            items = tuple(cls.from_tlv(c, depth + 1) for c in item.children())
            return cls("sequence", item.tag, None, item.raw, items)
        return cls("other", item.tag, None, item.raw)

    @property
    def person_name(self) -> str | None:
        """The name in a parent/spouse slot: a string, or a SEQUENCE holding one string."""
        if self.text is not None:
            return self.text
        if self.kind == "sequence" and self.items:
            return self.items[0].text
        return None

    def describe(self) -> object:
        if self.text is not None:
            return self.text
        if self.kind == "sequence":
            return [i.describe() for i in self.items]
        return {"tag": f"{self.tag:X}", "hex": self.raw.hex()}


@dataclass(frozen=True)
class Dg13Field:
    """One numbered DG13 field: ``30 LL 02 01 <number> <values...>``; ``raw`` is that TLV."""

    number: int
    values: tuple[Dg13Value, ...]
    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 0x7FFF:
            raise EncodingError("DG13 field number must be 1 to 32767")

    @classmethod
    def build(cls, number: int, values: Iterable[Dg13Value] = ()) -> Dg13Field:
        if not 1 <= number <= 0x7FFF:
            raise EncodingError("DG13 field number must be 1 to 32767")
        kept = tuple(values)
        body = _encode_integer(number) + b"".join(v.raw for v in kept)
        return cls(number, kept, _tlv(SEQUENCE, body))

    @classmethod
    def from_tlv(cls, item: tlv.Tlv) -> Dg13Field:
        children = item.children()
        if item.tag != SEQUENCE or not children or children[0].tag != INTEGER:
            raise EncodingError("DG13 field must be a SEQUENCE starting with an INTEGER")
        number = _decode_field_number(children[0])
        values = tuple(Dg13Value.from_tlv(c, 1) for c in children[1:])
        return cls(number, values, item.raw)

    @property
    def text(self) -> str | None:
        """The text of a single-string field (None when the field holds no value)."""
        return self.values[0].text if self.values else None


def _check_known_shape(f: Dg13Field) -> None:
    """Known fields must have the shape DOMAIN.md §4 gives them (either string type accepted)."""
    if f.number in _TEXT_FIELDS:
        if len(f.values) > 1 or any(v.text is None for v in f.values):
            name = _TEXT_FIELDS[f.number][0]
            raise EncodingError(f"DG13 field {f.number} ({name}) must hold at most one string")
    elif f.number in (PARENTS, SPOUSE):
        limit = 2 if f.number == PARENTS else 1
        if len(f.values) > limit:
            raise EncodingError(f"DG13 field {f.number} holds more than {limit} names")
        for v in f.values:
            if v.text is None and not (
                v.kind == "sequence"
                and len(v.items) <= 1
                and all(i.text is not None for i in v.items)
            ):
                raise EncodingError(f"DG13 field {f.number}: a name must be a string")


def _is_field_shaped(item: tlv.Tlv) -> bool:
    if item.tag != SEQUENCE:
        return False
    children = item.children()
    return bool(children) and children[0].tag == INTEGER


def _contains_fields(item: tlv.Tlv, depth: int) -> bool:
    if depth > _MAX_DEPTH:
        raise EncodingError("DG13 nested too deeply")
    if item.tag not in (SEQUENCE, SET):
        return False
    return any(_is_field_shaped(c) or _contains_fields(c, depth + 1) for c in item.children())


@dataclass(frozen=True)
class Dg13:
    """EF.DG13, Vietnamese citizen data (DOMAIN.md §4; 9303-10 §4.7.13 leaves DG13 to States)."""

    fields: tuple[Dg13Field, ...]
    raw: bytes = field(repr=False, compare=True)
    extras: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        numbers = [f.number for f in self.fields]
        if len(set(numbers)) != len(numbers):
            raise EncodingError("DG13: a field number appears twice")
        for f in self.fields:
            _check_known_shape(f)
        if not self.raw.startswith(b"\x6d"):
            raise EncodingError("DG13 raw bytes must start with tag 6D")

    # --- access ------------------------------------------------------------------------------

    def get_field(self, number: int) -> Dg13Field | None:
        """The field numbered ``number``, or None."""
        return next((f for f in self.fields if f.number == number), None)

    def _text(self, number: int) -> str | None:
        f = self.get_field(number)
        return None if f is None else f.text

    def _person(self, number: int, index: int) -> str | None:
        f = self.get_field(number)
        if f is None or len(f.values) <= index:
            return None
        return f.values[index].person_name

    @property
    def id_number(self) -> str | None:
        return self._text(ID_NUMBER)

    @property
    def full_name(self) -> str | None:
        return self._text(FULL_NAME)

    @property
    def date_of_birth(self) -> str | None:
        """As printed: ``dd/mm/yyyy``."""
        return self._text(DATE_OF_BIRTH)

    @property
    def sex(self) -> str | None:
        return self._text(SEX)

    @property
    def nationality(self) -> str | None:
        return self._text(NATIONALITY)

    @property
    def ethnicity(self) -> str | None:
        return self._text(ETHNICITY)

    @property
    def religion(self) -> str | None:
        return self._text(RELIGION)

    @property
    def place_of_origin(self) -> str | None:
        return self._text(PLACE_OF_ORIGIN)

    @property
    def place_of_residence(self) -> str | None:
        return self._text(PLACE_OF_RESIDENCE)

    @property
    def identifying_marks(self) -> str | None:
        return self._text(IDENTIFYING_MARKS)

    @property
    def date_of_issue(self) -> str | None:
        return self._text(DATE_OF_ISSUE)

    @property
    def date_of_expiry(self) -> str | None:
        """``dd/mm/yyyy``, or "Không thời hạn" (no expiry) for cards issued from age 58."""
        return self._text(DATE_OF_EXPIRY)

    @property
    def father_name(self) -> str | None:
        return self._person(PARENTS, 0)

    @property
    def mother_name(self) -> str | None:
        return self._person(PARENTS, 1)

    @property
    def spouse_name(self) -> str | None:
        return self._person(SPOUSE, 0)

    @property
    def old_id_number(self) -> str | None:
        return self._text(OLD_ID_NUMBER)

    @property
    def unknown_fields(self) -> tuple[Dg13Field, ...]:
        return tuple(f for f in self.fields if f.number not in _KNOWN)

    # --- encode / decode ---------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        *,
        id_number: str | None = None,
        full_name: str | None = None,
        date_of_birth: str | None = None,
        sex: str | None = None,
        nationality: str | None = None,
        ethnicity: str | None = None,
        religion: str | None = None,
        place_of_origin: str | None = None,
        place_of_residence: str | None = None,
        identifying_marks: str | None = None,
        date_of_issue: str | None = None,
        date_of_expiry: str | None = None,
        father_name: str | None = None,
        mother_name: str | None = None,
        spouse_name: str | None = None,
        old_id_number: str | None = None,
        extra_fields: Iterable[Dg13Field] = (),
        wrappers: int = 1,
    ) -> Dg13:
        """Encode DG13 (layout in the module docstring). ``None`` leaves a field out.

        ``extra_fields`` are written as given (e.g. field 16 carried over from a read card);
        their numbers must not be those of the known fields 1–15. ``wrappers`` is the number
        of SEQUENCEs around the field list (1 by default, see the module docstring).
        """
        if not 0 <= wrappers <= _MAX_DEPTH:
            raise EncodingError(f"DG13: wrappers must be 0 to {_MAX_DEPTH}")
        texts = {
            ID_NUMBER: id_number,
            FULL_NAME: full_name,
            DATE_OF_BIRTH: date_of_birth,
            SEX: sex,
            NATIONALITY: nationality,
            ETHNICITY: ethnicity,
            RELIGION: religion,
            PLACE_OF_ORIGIN: place_of_origin,
            PLACE_OF_RESIDENCE: place_of_residence,
            IDENTIFYING_MARKS: identifying_marks,
            DATE_OF_ISSUE: date_of_issue,
            DATE_OF_EXPIRY: date_of_expiry,
            OLD_ID_NUMBER: old_id_number,
        }
        built: list[Dg13Field] = []
        for number, text in texts.items():
            if text is None:
                continue
            name, printable = _TEXT_FIELDS[number]
            try:
                value = Dg13Value.printable(text) if printable else Dg13Value.utf8(text)
            except EncodingError as exc:
                raise EncodingError(f"DG13 {name}: {exc}") from None
            built.append(Dg13Field.build(number, [value]))
        if father_name is not None or mother_name is not None:
            # Positional slots: an absent parent is an empty SEQUENCE so the other keeps its place.
            built.append(Dg13Field.build(PARENTS, [_person(father_name), _person(mother_name)]))
        built.append(Dg13Field.build(SPOUSE, [] if spouse_name is None else [_person(spouse_name)]))
        for extra in extra_fields:
            if extra.number in _KNOWN:
                raise EncodingError(
                    f"DG13: extra field {extra.number} collides with a known field number"
                )
            built.append(extra)
        built.sort(key=lambda f: f.number)
        content = b"".join(f.raw for f in built)
        for _ in range(wrappers):
            content = _tlv(SEQUENCE, content)
        return cls(tuple(built), _tlv(TAG, content))

    @classmethod
    def from_bytes(cls, data: bytes) -> Dg13:
        """Decode by field number, tolerating wrapper nesting; see the module docstring."""
        data = bytes(data)
        try:
            outer = tlv.decode_single(data, TAG, what="DG13")
            fields: list[Dg13Field] = []
            extras: list[bytes] = []
            _walk(tlv.decode_all(outer.value), 0, fields, extras)
            return cls(tuple(fields), data, tuple(extras))
        except (ValueError, RecursionError):
            # Defensive: a malformed file must surface as EncodingError and nothing else.
            raise EncodingError("DG13 is malformed") from None

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        known: dict[str, object] = {}
        for number, (name, _) in _TEXT_FIELDS.items():
            text = self._text(number)
            if text is not None:
                known[name] = text
        for name, value in (
            ("father_name", self.father_name),
            ("mother_name", self.mother_name),
            ("spouse_name", self.spouse_name),
        ):
            if value:
                known[name] = value
        out: dict[str, object] = {"file": "DG13", "fields": known}
        unknown = self.unknown_fields
        if unknown:
            out["unknown_fields"] = {
                str(f.number): [v.describe() for v in f.values] for f in unknown
            }
        if self.extras:
            out["envelope_items"] = [e.hex() for e in self.extras]
        return out


def _person(name: str | None) -> Dg13Value:
    return Dg13Value.sequence([] if name is None else [Dg13Value.utf8(name)])


def _walk(
    items: Sequence[tlv.Tlv], depth: int, fields: list[Dg13Field], extras: list[bytes]
) -> None:
    if depth > _MAX_DEPTH:
        raise EncodingError("DG13 nested too deeply")
    for item in items:
        if _contains_fields(item, depth):
            _walk(item.children(), depth + 1, fields, extras)
        elif _is_field_shaped(item):
            # Duplicate numbers are rejected by Dg13 itself.
            fields.append(Dg13Field.from_tlv(item))
        else:
            extras.append(item.raw)
