"""The emulated chip's answer to reset and its EF.ATR/INFO: both advertise extended length.

ATR (ISO/IEC 7816-3 §8): ``TS T0 TD1 TD2 TA3 TB3 historical-bytes TCK``

- TS = ``3B`` (direct convention); T0 = ``8K``: TD1 follows, K historical bytes;
- TD1 = ``81``: TD2 follows, protocol T=1; TD2 = ``31``: TA3 and TB3 follow, T=1;
- TA3 = ``FE`` (IFSC 254), TB3 = ``45`` (BWI 4, CWI 5), the usual T=1 values of contact chips;
- TCK: the XOR of T0 … the last historical byte, so that T0 ⊕ … ⊕ TCK = 0 (§8.2.5); it is
  mandatory here because a protocol other than T=0 is indicated.

Historical bytes (ISO/IEC 7816-4 §8.1.1): category indicator ``80`` (COMPACT-TLV objects follow),
then the card capabilities ``73 xx yy zz`` (§8.1.1.2.7):

- first software function table ``94``: DF selection by full DF name (AID), selection by file
  identifier, short EF identifiers supported;
- data coding byte ``01``: data unit of one byte;
- third table ``60``: extended Lc and Le fields (b7) and extended length information in
  EF.ATR/INFO (b6).

EF.ATR/INFO (FID 2F01 in the master file, ISO/IEC 7816-4 §8.2.1.1) repeats the capabilities as
the interindustry DO ``47`` and adds DO ``7F66`` extended length information (§12.7.1): two
DO'02', the largest command APDU and the largest response APDU the chip accepts, in bytes.
"""

from __future__ import annotations

from cardkit.encoding import tlv
from cardkit.iso7816.atr import TAG_EXTENDED_LENGTH_INFO

#: Largest command APDU (header, Lc, data, Le): 4096 data bytes of UPDATE BINARY under secure
#: messaging (padding, DO'87', DO'97', DO'8E') fit with room to spare.
MAX_COMMAND_APDU = 0x1100
#: Largest response APDU (data and SW). Kept below 0x8000 so that the DO'02' value reads the
#: same as an unsigned number and as a two's-complement INTEGER.
MAX_RESPONSE_APDU = 0x7FFF
#: Largest data field of an UPDATE BINARY (the agreed personalization protocol).
MAX_UPDATE_DATA = 4096

TS_DIRECT = 0x3B
CATEGORY_COMPACT_TLV = 0x80
TAG_CARD_CAPABILITIES = 0x47  # as an interindustry DO (EF.ATR/INFO); 0x7 in COMPACT-TLV

SELECTION_METHODS = 0x94  # full DF name | file identifier | short EF identifier
DATA_CODING = 0x01  # data unit size: one byte
CAPABILITIES = 0x60  # extended Lc/Le | extended length information in EF.ATR/INFO

CARD_CAPABILITIES = bytes((SELECTION_METHODS, DATA_CODING, CAPABILITIES))

# TD1 = 81 (TD2 present, T=1), TD2 = 31 (TA3, TB3 present, T=1), TA3 = FE, TB3 = 45.
_INTERFACE_BYTES = bytes((0x81, 0x31, 0xFE, 0x45))


def historical_bytes() -> bytes:
    """Category indicator 80, then the COMPACT-TLV card capabilities ``73 94 01 60``."""
    return bytes((CATEGORY_COMPACT_TLV, 0x70 | len(CARD_CAPABILITIES))) + CARD_CAPABILITIES


def checksum(atr_without_tck: bytes) -> int:
    """TCK: the XOR of every byte from T0 to the last historical byte (7816-3 §8.2.5)."""
    tck = 0
    for b in atr_without_tck[1:]:
        tck ^= b
    return tck


def build_atr(historical: bytes | None = None) -> bytes:
    """The ATR of the emulated chip (T=1, extended length advertised in the historical bytes)."""
    hist = historical_bytes() if historical is None else historical
    if len(hist) > 15:
        raise ValueError("at most 15 historical bytes")
    body = bytes((TS_DIRECT, 0x80 | len(hist))) + _INTERFACE_BYTES + hist
    return body + bytes((checksum(body),))


def _unsigned(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def ef_atr_info() -> bytes:
    """The content of EF.ATR/INFO: card capabilities and extended length information."""
    limits = tlv.encode(0x02, _unsigned(MAX_COMMAND_APDU)) + tlv.encode(
        0x02, _unsigned(MAX_RESPONSE_APDU)
    )
    return tlv.encode(TAG_CARD_CAPABILITIES, CARD_CAPABILITIES) + tlv.encode(
        TAG_EXTENDED_LENGTH_INFO, limits
    )


ATR = build_atr()
EF_ATR_INFO = ef_atr_info()
