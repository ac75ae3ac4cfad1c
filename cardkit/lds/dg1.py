"""EF.DG1: the MRZ as the chip holds it (ICAO 9303-10 §4.7.1).

::

    61 L
       5F1F L  MRZ characters, ASCII, no line breaks: 90 for a TD1, 88 for a TD3 (72 for a TD2)

DG1 is what BAC/PACE readers compare with the printed MRZ and what passive authentication hashes.
The operator dumps it deliberately, so :meth:`Dg1.describe` shows its fields; the value's
``repr`` still hides them (the MRZ derives the BAC keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cardkit.encoding import tlv
from cardkit.encoding.mrz import Td1, Td3, parse_mrz
from cardkit.errors import EncodingError
from cardkit.lds import files

TAG = 0x61
MRZ_TAG = 0x5F1F
_LENGTHS = {90: "TD1", 88: "TD3"}


@dataclass(frozen=True)
class Dg1:
    """EF.DG1 (ICAO 9303-10 §4.7.1): the MRZ data element inside template 61."""

    mrz: Td1 | Td3
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        if not isinstance(self.mrz, Td1 | Td3):
            raise EncodingError("DG1 holds a TD1 or TD3 MRZ")
        if not self.raw or self.raw[0] != TAG:
            raise EncodingError("DG1 raw bytes must start with tag 61")

    @classmethod
    def build(cls, mrz: Td1 | Td3) -> Dg1:
        """Encode DG1 from an MRZ value; ``raw`` is the encoding."""
        chars = "".join(mrz.lines).encode("ascii")
        return cls(mrz, tlv.encode(TAG, tlv.encode(MRZ_TAG, chars)))

    @classmethod
    def from_bytes(cls, data: bytes) -> Dg1:
        """Strict decode: one 5F1F of 90 or 88 MRZ characters, every check digit verified."""
        data = bytes(data)
        outer = tlv.decode_single(data, TAG, what="DG1")
        children = outer.children()
        if len(children) != 1 or children[0].tag != MRZ_TAG:
            raise EncodingError(
                f"DG1: template 61 must hold exactly one MRZ element {MRZ_TAG:X} (9303-10 §4.7.1)"
            )
        value = children[0].value
        if len(value) not in _LENGTHS:
            raise EncodingError(
                f"DG1: the MRZ element holds {len(value)} characters; a TD1 has 90 and a TD3 88 "
                "(TD2 is not supported)"
            )
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            raise EncodingError("DG1: the MRZ element is not ASCII text") from None
        if any(ch.isspace() for ch in text):
            # The chip's MRZ has no line breaks; whitespace would be misread as a separator.
            raise EncodingError("DG1: the MRZ element contains whitespace")
        return cls(parse_mrz(text), data)

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        mrz = self.mrz
        out: dict[str, object] = {
            "file": files.dg(1).name,
            "document_type": "TD1" if isinstance(mrz, Td1) else "TD3",
            "document_code": mrz.document_code,
            "issuing_state": mrz.issuing_state,
            "document_number": mrz.document_number,
            "optional_data": mrz.optional_data,
            "date_of_birth": mrz.date_of_birth,
            "sex": mrz.sex,
            "date_of_expiry": mrz.date_of_expiry,
            "nationality": mrz.nationality,
            "primary_identifier": mrz.primary_identifier,
            "secondary_identifier": mrz.secondary_identifier,
        }
        if isinstance(mrz, Td1):
            out["optional_data_2"] = mrz.optional_data_2
            out["vn_id_number"] = mrz.vn_id_number
        out["mrz"] = list(mrz.lines)
        return out
