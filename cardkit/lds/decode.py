"""Decode any LDS file by its leading tag (ICAO 9303-10 §4.6), keeping its raw bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cardkit.errors import EncodingError
from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.com import Com
from cardkit.lds.dg1 import Dg1
from cardkit.lds.dg2 import Dg2
from cardkit.lds.dg3 import Dg3
from cardkit.lds.dg11 import Dg11
from cardkit.lds.dg12 import Dg12
from cardkit.lds.dg13 import Dg13
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.sod import Sod


class LdsFile(Protocol):
    """What every decoded LDS file offers."""

    @property
    def raw(self) -> bytes: ...

    def __bytes__(self) -> bytes: ...

    def describe(self) -> dict[str, object]: ...


_DECODERS: dict[files.FileSpec, Callable[[bytes], LdsFile]] = {
    files.COM: Com.from_bytes,
    files.SOD: Sod.from_bytes,
    files.dg(1): Dg1.from_bytes,
    files.dg(2): Dg2.from_bytes,
    files.dg(3): Dg3.from_bytes,
    files.dg(11): Dg11.from_bytes,
    files.dg(12): Dg12.from_bytes,
    files.dg(13): Dg13.from_bytes,
    files.dg(14): Dg14.from_bytes,
    files.dg(15): Dg15.from_bytes,
    files.CARD_ACCESS: CardAccess.from_bytes,
}
_SET_TAG = 0x31  # EF.CardAccess is a bare DER SET OF SecurityInfo (9303-11 §9.2.1)


def identify(data: bytes) -> files.FileSpec:
    """Which LDS file ``data`` is, from its first byte(s)."""
    if not data:
        raise EncodingError("empty file: an LDS file starts with its tag", offset=0)
    if data[0] == _SET_TAG:
        return files.CARD_ACCESS
    tag = data[0] if data[0] & 0x1F != 0x1F else int.from_bytes(data[:2], "big")
    return files.by_tag(tag)


def decode_file(data: bytes) -> tuple[files.FileSpec, LdsFile]:
    """Decode an LDS file whatever it is; EncodingError for unknown or malformed content."""
    spec = identify(data)
    decoder = _DECODERS.get(spec)
    if decoder is None:
        raise EncodingError(f"{spec.name} is recognised but cardkit does not decode it yet")
    return spec, decoder(data)
