"""The LDS file table against ICAO 9303-10 §4.6.1 Table 32 and §4.7."""

from __future__ import annotations

import pytest

from cardkit.errors import EncodingError
from cardkit.lds import files


def test_table_values_from_9303_10() -> None:
    # 9303-10 Table 32: EF.COM 011E / SFI 1E, tag 60; EF.SOD 011D / 1D, tag 77;
    # EF.CardAccess 011C / 1C.
    assert (files.COM.fid, files.COM.sfi, files.COM.tag) == (0x011E, 0x1E, 0x60)
    assert (files.SOD.fid, files.SOD.sfi, files.SOD.tag) == (0x011D, 0x1D, 0x77)
    assert (files.CARD_ACCESS.fid, files.CARD_ACCESS.sfi) == (0x011C, 0x1C)
    assert files.CARD_ACCESS.in_master_file
    # DG1 61, DG2 75, DG3 63, DG11 6B, DG13 6D, DG14 6E, DG15 6F, DG16 70; FID 0100+n, SFI n.
    expected = {
        1: 0x61,
        2: 0x75,
        3: 0x63,
        11: 0x6B,
        12: 0x6C,
        13: 0x6D,
        14: 0x6E,
        15: 0x6F,
        16: 0x70,
    }
    for n, tag in expected.items():
        spec = files.dg(n)
        assert (spec.tag, spec.fid, spec.sfi, spec.dg) == (tag, 0x0100 + n, n, n)
        assert files.by_tag(tag) is spec
        assert files.by_name(f"dg{n}") is spec


def test_lookups() -> None:
    assert files.by_name("EF.COM") is files.COM
    assert files.by_name("sod") is files.SOD
    assert files.by_name("CardAccess") is files.CARD_ACCESS
    assert files.dg(2).fid_bytes == b"\x01\x02"
    assert files.LDS1_AID.hex().upper() == "A0000002471001"
    with pytest.raises(ValueError):
        files.dg(17)
    with pytest.raises(EncodingError):
        files.by_tag(0x99)
    with pytest.raises(ValueError):
        files.by_name("DG99")
