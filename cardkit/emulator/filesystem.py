"""The emulated chip's file system (ISO/IEC 7816-4 §7.1, ICAO 9303-10 §3–4): selection, reading
and writing of transparent EFs.

Two dedicated files:

- the master file (MF): EF.CardAccess (011C, SFI 1C) and EF.ATR/INFO (2F01, SFI 01, generated
  by the chip, see :mod:`cardkit.emulator.atr`);
- the LDS1 application (AID ``A0 00 00 02 47 10 01``): EF.COM, EF.SOD, DG1–DG16 as created.

EF.CardAccess is selectable whatever DF is current, as on real chips (DOMAIN.md §1). The files
live in one dictionary (FID → bytes), shared with :class:`~cardkit.emulator.state.CardState`,
so writing (or deleting) a file here is writing the state. Access control is not decided here (see
:mod:`cardkit.emulator.access`); this module answers "which file" and "which bytes".
"""

from __future__ import annotations

from typing import Literal

from cardkit.emulator.atr import EF_ATR_INFO
from cardkit.lds import files

Df = Literal["MF", "LDS"]

FID_CARD_ACCESS = files.CARD_ACCESS.fid
FID_ATR_INFO = 0x2F01
FID_MF = 0x3F00
SFI_ATR_INFO = 0x01

#: FIDs a card cannot create: the MF itself, EF.ATR/INFO (generated), and the reserved values
#: of ISO/IEC 7816-4 §7.1.1 (0000, 3FFF for the current DF, FFFF).
RESERVED_FIDS = frozenset({0x0000, FID_MF, 0x3FFF, 0xFFFF, FID_ATR_INFO})

_LDS_SFIS: dict[int, int] = {
    spec.sfi: spec.fid for spec in (files.COM, files.SOD, *files.DATA_GROUPS)
}
_LDS_SFIS[files.CARD_ACCESS.sfi] = FID_CARD_ACCESS
_MF_SFIS: dict[int, int] = {files.CARD_ACCESS.sfi: FID_CARD_ACCESS, SFI_ATR_INFO: FID_ATR_INFO}
_MF_FIDS = frozenset({FID_CARD_ACCESS, FID_ATR_INFO})


class FileSystem:
    """Selection state (current DF and EF) over the chip's files; mutable, one per card."""

    def __init__(self, contents: dict[int, bytearray]) -> None:
        self.contents = contents
        self.current_df: Df = "MF"
        self.current_ef: int | None = None

    def reset(self) -> None:
        """Power-on state: the MF is current, no EF selected."""
        self.current_df = "MF"
        self.current_ef = None

    # ------------------------------------------------------------------ selection

    def select_application(self, aid: bytes) -> bool:
        """SELECT by DF name (P1=04): only the LDS1 application is known."""
        if aid != files.LDS1_AID:
            return False
        self.current_df = "LDS"
        self.current_ef = None
        return True

    def select_master_file(self) -> None:
        self.current_df = "MF"
        self.current_ef = None

    def exists(self, fid: int) -> bool:
        """Whether ``fid`` can be selected from the current DF."""
        if fid == FID_ATR_INFO:
            return True
        if fid not in self.contents:
            return False
        if self.current_df == "LDS" or fid == FID_CARD_ACCESS:
            return True
        return fid in _MF_FIDS

    def select_ef(self, fid: int) -> bool:
        """SELECT EF by file identifier; False (file not found) leaves the selection as it was."""
        if not self.exists(fid):
            return False
        self.current_ef = fid
        return True

    def fid_of_sfi(self, sfi: int) -> int | None:
        """The file a short EF identifier names in the current DF, when it exists."""
        table = _LDS_SFIS if self.current_df == "LDS" else _MF_SFIS
        fid = table.get(sfi)
        return fid if fid is not None and self.exists(fid) else None

    # ------------------------------------------------------------------ content

    def content(self, fid: int) -> bytes | bytearray:
        """The bytes of an existing file (EF.ATR/INFO is generated unless one was created)."""
        if fid == FID_ATR_INFO and fid not in self.contents:
            return EF_ATR_INFO
        return self.contents[fid]

    def size(self, fid: int) -> int:
        return len(self.content(fid))

    def read(self, fid: int, offset: int, length: int) -> bytes:
        return bytes(self.content(fid)[offset : offset + length])

    def create(self, fid: int, size: int) -> bool:
        """CREATE FILE: a transparent EF of ``size`` zero bytes; False when it exists."""
        if fid in self.contents:
            return False
        self.contents[fid] = bytearray(size)
        return True

    def delete(self, fid: int) -> bool:
        """DELETE FILE (ISO/IEC 7816-9 §8): an EF that exists from the current DF; False when
        there is none. The deleted EF, when current, is no longer (the DF stays current)."""
        if fid not in self.contents or not self.exists(fid):
            return False
        del self.contents[fid]
        if self.current_ef == fid:
            self.current_ef = None
        return True

    def write(self, fid: int, offset: int, data: bytes) -> None:
        """UPDATE BINARY: the caller has checked that ``offset + len(data)`` fits the file."""
        self.contents[fid][offset : offset + len(data)] = data

    def fcp(self, fid: int) -> bytes:
        """A minimal FCP template (ISO/IEC 7816-4 §7.4.3): size 80, descriptor 82, FID 83."""
        size = self.size(fid).to_bytes(2, "big")
        body = b"\x80\x02" + size + b"\x82\x01\x01" + b"\x83\x02" + fid.to_bytes(2, "big")
        return bytes((0x62, len(body))) + body
