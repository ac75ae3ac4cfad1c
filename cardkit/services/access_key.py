"""The access key of a chip: the MRZ key or the CAN (ICAO 9303-11 §4.3.1, §4.4, §9.7.3).

An :class:`AccessKey` is what opens the chip — the three BAC fields of the MRZ (document number,
date of birth, date of expiry; 9303-11 §4.3.1, check digits of ICAO 9303-3 §4.9) or the Card
Access Number printed on the card (PACE only, 9303-11 §4.4) — and gives PACE its password
(9303-11 §9.7.3). It is a secret: its ``repr`` is redacted and its errors name the field, never
the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cardkit.encoding.mrz import MrzError, parse_mrz
from cardkit.errors import EncodingError
from cardkit.protocol.bac import MrzKey
from cardkit.protocol.pace import PacePassword

__all__ = ["AccessKey"]


@dataclass(frozen=True, repr=False)
class AccessKey:
    """What opens the chip: the MRZ key (document number, date of birth, date of expiry) or the
    CAN printed on the card (9303-11 §4.3.1, §9.7.3). A secret: ``repr`` is redacted and errors
    name the field, never its value. Build it with :meth:`from_mrz`, :meth:`from_mrz_fields` or
    :meth:`from_can`."""

    mrz_key: MrzKey | None = None
    can: str | None = None

    def __post_init__(self) -> None:
        if (self.mrz_key is None) == (self.can is None):
            raise ValueError("an access key is either an MRZ key or a CAN")
        if self.can is not None and not _valid_can(self.can):
            raise EncodingError("CAN: 6 to 12 decimal digits expected")

    def __repr__(self) -> str:
        return f"AccessKey({self.kind}, <redacted>)"

    @property
    def kind(self) -> Literal["MRZ", "CAN"]:
        return "MRZ" if self.mrz_key is not None else "CAN"

    @classmethod
    def from_mrz(cls, text: str) -> AccessKey:
        """The key of a whole TD1 (3 × 30) or TD3 (2 × 44) MRZ, lines separated or joined.

        Check digits are verified (ICAO 9303-3 §4.9): a misread MRZ fails here, not at the chip.
        Raises :class:`~cardkit.encoding.mrz.MrzError` naming the field.
        """
        return cls(mrz_key=MrzKey.from_mrz(parse_mrz(text)))

    @classmethod
    def from_mrz_fields(
        cls, document_number: str, date_of_birth: str, date_of_expiry: str
    ) -> AccessKey:
        """The key from the three BAC fields (dates ``YYMMDD``, 9303-11 §4.3.1)."""
        try:
            return cls(mrz_key=MrzKey(document_number.strip(), date_of_birth, date_of_expiry))
        except ValueError as exc:  # MrzKey names the field, never the value
            field_name = str(exc).split(":", 1)[0]
            raise MrzError(f"MRZ key: {exc}", field=field_name) from None

    @classmethod
    def from_can(cls, can: str) -> AccessKey:
        """The key from the Card Access Number (PACE only, 9303-11 §4.4)."""
        return cls(can=can.strip())

    def pace_password(self) -> PacePassword:
        if self.mrz_key is not None:
            return PacePassword.from_mrz_key(self.mrz_key)
        assert self.can is not None
        return PacePassword.from_can(self.can)


def _valid_can(can: str) -> bool:
    return can.isascii() and can.isdigit() and 6 <= len(can) <= 12
