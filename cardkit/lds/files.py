"""The one table of LDS files: DG number ↔ tag ↔ file identifier ↔ short file identifier.

Source: ICAO 9303-10 §4.6.1 (Table 32, LDS1 elementary files) and §4.7 (data-group tags).
EF.CardAccess and EF.CardSecurity live in the master file and carry a DER ``SET OF SecurityInfo``
rather than an application tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardkit.errors import EncodingError

#: Application identifier of the ICAO LDS1 eMRTD application (9303-10 §4.1).
LDS1_AID = bytes.fromhex("A0000002471001")


@dataclass(frozen=True)
class FileSpec:
    """Where one LDS file lives and how it is tagged."""

    name: str
    fid: int
    sfi: int
    tag: int | None
    dg: int | None = None
    in_master_file: bool = False

    @property
    def fid_bytes(self) -> bytes:
        return self.fid.to_bytes(2, "big")


_DG_TAGS = {
    1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67, 8: 0x68,
    9: 0x69, 10: 0x6A, 11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E, 15: 0x6F, 16: 0x70,
}  # fmt: skip

COM = FileSpec("EF.COM", fid=0x011E, sfi=0x1E, tag=0x60)
SOD = FileSpec("EF.SOD", fid=0x011D, sfi=0x1D, tag=0x77)
CARD_ACCESS = FileSpec("EF.CardAccess", fid=0x011C, sfi=0x1C, tag=None, in_master_file=True)
CARD_SECURITY = FileSpec("EF.CardSecurity", fid=0x011D, sfi=0x1D, tag=None, in_master_file=True)
DATA_GROUPS: tuple[FileSpec, ...] = tuple(
    FileSpec(f"DG{n}", fid=0x0100 + n, sfi=n, tag=tag, dg=n) for n, tag in _DG_TAGS.items()
)
ALL_FILES: tuple[FileSpec, ...] = (COM, SOD, *DATA_GROUPS, CARD_ACCESS, CARD_SECURITY)


def dg(number: int) -> FileSpec:
    """The spec of data group ``number`` (1–16)."""
    if not 1 <= number <= 16:
        raise ValueError(f"there is no DG{number}: data groups are numbered 1 to 16")
    return DATA_GROUPS[number - 1]


def by_tag(tag: int) -> FileSpec:
    """The LDS1 application file whose template has ``tag`` (EF.COM, EF.SOD, DG1–DG16)."""
    for spec in (COM, SOD, *DATA_GROUPS):
        if spec.tag == tag:
            return spec
    raise EncodingError(f"tag {tag:X} is not an LDS file tag (9303-10 §4.6)")


def by_name(name: str) -> FileSpec:
    """Look a file up by a name such as ``DG13``, ``dg13``, ``COM``, ``EF.SOD``, ``CardAccess``."""
    key = name.strip().upper().removeprefix("EF.").removeprefix("EF_")
    for spec in ALL_FILES:
        if spec.name.upper().removeprefix("EF.") == key:
            return spec
    raise ValueError(f"unknown LDS file name {name!r}")
