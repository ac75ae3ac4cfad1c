"""DG14: security options of the chip (ICAO 9303-10 §4.7.14, 9303-11 §9.2).

``6E L SecurityInfos``: the chip-authentication public key(s) and algorithms, terminal
authentication, the ActiveAuthenticationInfo for an ECDSA DG15 key, and — on chips that offer
PACE — the PACEInfos repeated from EF.CardAccess. The raw bytes are kept as read: DG14 is hashed
into EF.SOD as written, and re-encoding its SET could reorder it (DOMAIN.md §9).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cardkit.encoding import tlv
from cardkit.lds.security_infos import SecurityInfo, SecurityInfos


@dataclass(frozen=True)
class Dg14:
    """DG14 = tag ``6E`` around a DER ``SET OF SecurityInfo``."""

    security_infos: SecurityInfos
    raw: bytes = field(repr=False, compare=True)

    @classmethod
    def build(cls, infos: Iterable[SecurityInfo]) -> Dg14:
        """Encode ``infos`` (DER: the SET sorted, X.690 §11.6) inside tag 6E."""
        security_infos = SecurityInfos.build(infos)
        return cls(security_infos, tlv.encode(0x6E, security_infos.raw))

    @classmethod
    def from_bytes(cls, data: bytes) -> Dg14:
        """Strict decode of a whole DG14 file; ``raw`` is ``data`` as read."""
        data = bytes(data)
        outer = tlv.decode_single(data, 0x6E, what="DG14")
        return cls(SecurityInfos.from_bytes(outer.value), data)

    def __bytes__(self) -> bytes:
        return self.raw

    @property
    def infos(self) -> tuple[SecurityInfo, ...]:
        return self.security_infos.infos

    def describe(self) -> dict[str, object]:
        return {
            "file": "DG14",
            "length": len(self.raw),
            "security_infos": self.security_infos.describe(),
        }
