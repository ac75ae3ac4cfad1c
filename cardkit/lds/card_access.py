"""EF.CardAccess (FID 011C, SFI 1C, in the master file): 9303-11 §9.2.11, 9303-10 §3.11.

A bare DER ``SET OF SecurityInfo`` (no application tag) announcing PACE (PACEInfo, optionally
PACEDomainParameterInfo) and possibly other protocols, readable without access control so that a
terminal can choose how to start PACE.

Real chips often store the SET in a file larger than it, padded with ``00`` bytes (the German nPA
test data shows this); :meth:`CardAccess.from_bytes` accepts trailing zero padding, keeps it in
``raw``, and rejects any other trailing byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds import files
from cardkit.lds.security_infos import PaceInfo, SecurityInfo, SecurityInfos

FID = files.CARD_ACCESS.fid


@dataclass(frozen=True)
class CardAccess:
    """EF.CardAccess: SecurityInfos, raw bytes kept (trailing zero padding included)."""

    security_infos: SecurityInfos
    raw: bytes = field(repr=False, compare=True)

    @classmethod
    def build(cls, infos: Iterable[SecurityInfo]) -> CardAccess:
        security_infos = SecurityInfos.build(infos)
        return cls(security_infos, security_infos.raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> CardAccess:
        data = bytes(data)
        _, end = tlv.decode_one(data)
        if data[:1] != b"\x31":
            raise EncodingError("EF.CardAccess: expected a SET (tag 31)", offset=0)
        padding = data[end:]
        if padding.strip(b"\x00"):
            raise EncodingError("EF.CardAccess: unexpected bytes after the SET", offset=end)
        return cls(SecurityInfos.from_bytes(data[:end]), data)

    def __bytes__(self) -> bytes:
        return self.raw

    @property
    def infos(self) -> tuple[SecurityInfo, ...]:
        return self.security_infos.infos

    @property
    def pace_infos(self) -> tuple[PaceInfo, ...]:
        return self.security_infos.pace_infos

    def describe(self) -> dict[str, object]:
        return {
            "file": "EF.CardAccess",
            "length": len(self.raw),
            "security_infos": self.security_infos.describe(),
        }
