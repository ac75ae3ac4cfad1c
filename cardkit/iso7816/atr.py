"""What a chip advertises about extended length: its ATR and EF.ATR/INFO.

- The ATR's historical bytes (ISO/IEC 7816-3 §8.2) carry the card capabilities, whose third
  software function byte announces extended Lc/Le fields (ISO/IEC 7816-4 §8.1.1.2.7, Table 118).
- EF.ATR/INFO (2F01 in the master file, ISO/IEC 7816-4 §8.2.1.1) may carry DO'7F66', the
  extended length information: the largest command and response APDUs (§12.7.1).

Pure functions over bytes, shared by the side that reads (:func:`cardkit.services.read.read_card`
sizes its READ BINARY from them) and the side that writes (:class:`cardkit.applet.writer.
AppletWriter` sizes its UPDATE BINARY), and by the emulator that announces them.
"""

from __future__ import annotations

from cardkit.encoding import tlv
from cardkit.errors import EncodingError

__all__ = [
    "ATR_INFO_FID",
    "CAPABILITY_EXTENDED_LENGTH",
    "CAPABILITY_SHORT_EF_IDENTIFIER",
    "TAG_EXTENDED_LENGTH_INFO",
    "card_capabilities",
    "extended_length_from_atr",
    "historical_bytes",
    "max_command_from_atr_info",
    "parse_atr_info",
    "short_ef_identifiers_from_atr",
]

#: EF.ATR/INFO (ISO/IEC 7816-4 §8.2.1.1), in the master file, and its extended length DO.
ATR_INFO_FID = 0x2F01
TAG_EXTENDED_LENGTH_INFO = 0x7F66
#: Card capabilities, third software function byte, b7: "extended Lc and Le fields"
#: (ISO/IEC 7816-4 §8.1.1.2.7, Table 118).
CAPABILITY_EXTENDED_LENGTH = 0x40
#: Card capabilities, first software function byte, b3: "short EF identifier supported".
CAPABILITY_SHORT_EF_IDENTIFIER = 0x04


def historical_bytes(atr: bytes) -> bytes | None:
    """The historical bytes of an ATR (ISO/IEC 7816-3 §8.2): T0's low nibble K bytes after the
    interface bytes. None when the ATR is too short for what it announces."""
    if len(atr) < 2:
        return None
    k = atr[1] & 0x0F
    indicator = atr[1] >> 4
    position = 2
    while True:
        count = bin(indicator & 0x0F).count("1")  # TA, TB, TC, TD present
        has_td = bool(indicator & 0x08)
        position += count
        if position > len(atr):
            return None
        if not has_td:
            break
        indicator = atr[position - 1] >> 4
    if position + k > len(atr):
        return None
    return bytes(atr[position : position + k])


def card_capabilities(atr: bytes | None) -> bytes | None:
    """The card capabilities (ISO/IEC 7816-4 §8.1.1.2.7: COMPACT-TLV ``7x`` in historical bytes
    of category 00 or 80), or None when the ATR has none (no ATR, a proprietary category)."""
    history = historical_bytes(atr) if atr else None
    if not history:
        return None
    category = history[0]
    if category == 0x80:
        body = history[1:]
    elif category == 0x00 and len(history) >= 4:
        body = history[1:-3]  # the last three bytes are the status indicator
    else:
        return None
    position = 0
    while position < len(body):
        tag, length = body[position] >> 4, body[position] & 0x0F
        value = body[position + 1 : position + 1 + length]
        if len(value) != length:
            return None
        if tag == 0x7:
            return value
        position += 1 + length
    return None


def extended_length_from_atr(atr: bytes | None) -> bool | None:
    """Whether the ATR's card capabilities announce extended Lc/Le (third byte, b7). None when
    the ATR does not say."""
    capabilities = card_capabilities(atr)
    if capabilities is None:
        return None
    return len(capabilities) >= 3 and bool(capabilities[2] & CAPABILITY_EXTENDED_LENGTH)


def short_ef_identifiers_from_atr(atr: bytes | None) -> bool | None:
    """Whether the ATR's card capabilities announce short EF identifiers (first byte, b3).
    None when the ATR does not say."""
    capabilities = card_capabilities(atr)
    if capabilities is None:
        return None
    return bool(capabilities) and bool(capabilities[0] & CAPABILITY_SHORT_EF_IDENTIFIER)


def parse_atr_info(data: bytes) -> int | None:
    """The maximum response APDU length in EF.ATR/INFO's DO'7F66' (ISO/IEC 7816-4 §12.7.1:
    ``7F66 { 02 max command bytes, 02 max response bytes }``), or None when it has none.
    EncodingError when the file is not BER-TLV or the DO is malformed."""
    found = _find_tag(tlv.decode_all(data.rstrip(b"\x00")), TAG_EXTENDED_LENGTH_INFO, depth=0)
    if found is None:
        return None
    integers = [c for c in found.children() if c.tag == 0x02]
    if len(integers) < 2 or not all(1 <= len(i.value) <= 4 for i in integers[:2]):
        raise EncodingError("EF.ATR/INFO: DO'7F66' needs two INTEGERs (command and response)")
    return int.from_bytes(integers[1].value, "big")


def max_command_from_atr_info(data: bytes) -> int | None:
    """The largest command APDU that EF.ATR/INFO's DO'7F66' allows (its first INTEGER, ISO/IEC
    7816-4 §12.7.1), or None when the file has none or cannot be read: a writer then falls back
    to what the ATR says."""
    try:
        found = _find_tag(tlv.decode_all(data.rstrip(b"\x00")), TAG_EXTENDED_LENGTH_INFO, depth=0)
        integers = [] if found is None else [c for c in found.children() if c.tag == 0x02]
    except EncodingError:
        return None
    if integers and 1 <= len(integers[0].value) <= 4:
        return int.from_bytes(integers[0].value, "big")
    return None


def _find_tag(items: list[tlv.Tlv], tag: int, depth: int) -> tlv.Tlv | None:
    for item in items:
        if item.tag == tag:
            return item
        if depth < 2 and item.constructed:
            found = _find_tag(item.children(), tag, depth + 1)
            if found is not None:
                return found
    return None
