"""EF.CardAccess: 9303-11 Appendix G and a German nPA file as known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import oids
from cardkit.errors import EncodingError
from cardkit.lds import security_infos as si
from cardkit.lds.card_access import FID, CardAccess

VECTORS = Path(__file__).parents[2] / "vectors"
APPENDIX_G = json.loads((VECTORS / "card_access_icao9303_11_appendix_g.json").read_text())
NPA = bytes.fromhex(json.loads((VECTORS / "card_access_bsi_npa.json").read_text())["card_access"])


def test_fid() -> None:
    assert FID == 0x011C


def test_appendix_g1() -> None:
    data = bytes.fromhex(APPENDIX_G["g1_ecdh_gm"])
    ca = CardAccess.from_bytes(data)
    assert bytes(ca) == data
    (pace,) = ca.pace_infos
    assert pace.protocol == oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
    assert pace.parameter_id == 13
    described = ca.describe()["security_infos"]
    assert isinstance(described, list)
    assert described[0]["mapping"] == "GM"
    # Re-encoding the decoded content gives the printed bytes back.
    assert CardAccess.build(ca.infos).raw == data


def test_appendix_g2() -> None:
    data = bytes.fromhex(APPENDIX_G["g2_dh_gm"])
    ca = CardAccess.from_bytes(data)
    (pace,) = ca.pace_infos
    assert (pace.algorithm.key_agreement, pace.parameter_id) == ("DH", 0)
    assert CardAccess.build([si.PaceInfo.build(pace.protocol, 0)]).raw == data


def test_npa_card_access_with_padding() -> None:
    ca = CardAccess.from_bytes(NPA)
    assert ca.raw == NPA
    kinds = [type(i) for i in ca.infos]
    assert kinds == [
        si.TerminalAuthenticationInfo,
        si.ChipAuthenticationInfo,
        si.PaceInfo,
        si.ChipAuthenticationDomainParameterInfo,
        si.UnknownSecurityInfo,  # id-CI CardInfoLocator
        si.UnknownSecurityInfo,  # id-PT PrivilegedTerminalInfo
    ]
    ta, ca_info, pace, ca_params = ca.infos[:4]
    assert isinstance(ta, si.TerminalAuthenticationInfo) and ta.version == 2
    assert isinstance(ca_info, si.ChipAuthenticationInfo)
    assert (ca_info.protocol, ca_info.version, ca_info.key_id) == (
        oids.ID_CA_ECDH_AES_CBC_CMAC_128,
        2,
        0x48,
    )
    assert isinstance(pace, si.PaceInfo) and pace.parameter_id == 13
    assert isinstance(ca_params, si.ChipAuthenticationDomainParameterInfo)
    assert ca_params.key_id == 0x48
    assert [i.protocol for i in ca.infos[4:]] == [oids.ID_CI, oids.ID_PT]


def test_trailing_garbage_is_rejected() -> None:
    data = bytes.fromhex(APPENDIX_G["g1_ecdh_gm"])
    with pytest.raises(EncodingError):
        CardAccess.from_bytes(data + b"\x00\x01")
    with pytest.raises(EncodingError):
        CardAccess.from_bytes(b"\x30" + data[1:])  # a SEQUENCE, not a SET


@given(st.lists(st.tuples(st.sampled_from([o for o in oids.NAMES if oids.is_pace_protocol(o)]),
                          st.integers(0, 31)), min_size=1, max_size=4))  # fmt: skip
def test_round_trip(entries: list[tuple[str, int]]) -> None:
    built = CardAccess.build(si.PaceInfo.build(p, n) for p, n in entries)
    assert CardAccess.from_bytes(built.raw) == built


@given(st.binary(max_size=100))
def test_random_bytes_raise_encoding_error_only(data: bytes) -> None:
    try:
        ca = CardAccess.from_bytes(data)
    except EncodingError:
        return
    assert ca.raw == data


@given(st.integers(0, len(NPA) - 1), st.integers(0, 255))
def test_npa_mutations_raise_encoding_error_only(position: int, value: int) -> None:
    data = bytearray(NPA)
    data[position] = value
    try:
        CardAccess.from_bytes(bytes(data))
    except EncodingError:
        return
