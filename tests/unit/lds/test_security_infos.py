"""SecurityInfo values: known answers from 9303-11 Appendix G, round trips, malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import oids
from cardkit.errors import EncodingError
from cardkit.lds import security_infos as si

VECTORS = Path(__file__).parents[2] / "vectors"
APPENDIX_G = json.loads((VECTORS / "card_access_icao9303_11_appendix_g.json").read_text())


def test_appendix_g1_pace_info_decodes_and_encodes() -> None:
    # 9303-11 Appendix G.1: PACEInfo = 30 12 06 0A 04007F00070202040202 02 01 02 02 01 0D.
    member = bytes.fromhex(APPENDIX_G["g1_ecdh_gm"])[2:]
    info = si.decode_security_info(member)
    assert isinstance(info, si.PaceInfo)
    assert (info.protocol, info.version, info.parameter_id) == (
        "0.4.0.127.0.7.2.2.4.2.2",
        2,
        13,
    )
    assert info.domain_parameters is not None
    assert info.domain_parameters.name == "brainpoolP256r1"
    assert si.PaceInfo.build(oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, 13).raw == member


def test_appendix_g2_pace_info_decodes_and_encodes() -> None:
    # 9303-11 Appendix G.2: id-PACE-DH-GM-AES-CBC-CMAC-128, version 2, parameterId 0.
    member = bytes.fromhex(APPENDIX_G["g2_dh_gm"])[2:]
    info = si.PaceInfo.from_der(member)
    assert info.algorithm.key_agreement == "DH"
    assert info.parameter_id == 0
    assert si.PaceInfo.build(oids.ID_PACE_DH_GM_AES_CBC_CMAC_128, 0).raw == member


_pace_oids = st.sampled_from([o for o in oids.NAMES if oids.is_pace_protocol(o)])
_ca_oids = st.sampled_from([o for o in oids.NAMES if oids.is_ca_protocol(o)])
_opt_id = st.none() | st.integers(0, 2**40)


@given(_pace_oids, _opt_id)
def test_pace_info_round_trip(protocol: str, parameter_id: int | None) -> None:
    info = si.PaceInfo.build(protocol, parameter_id)
    assert si.decode_security_info(bytes(info)) == info


@given(_ca_oids, st.sampled_from([1, 2, 3]), _opt_id)
def test_ca_info_round_trip(protocol: str, version: int, key_id: int | None) -> None:
    info = si.ChipAuthenticationInfo.build(protocol, version, key_id)
    assert si.decode_security_info(bytes(info)) == info


@given(st.sampled_from([oids.ECDSA_WITH_SHA256, oids.ECDSA_WITH_SHA384, oids.ECDSA_PLAIN_SHA256]))
def test_aa_info_round_trip(algorithm: str) -> None:
    info = si.ActiveAuthenticationInfo.build(algorithm)
    back = si.decode_security_info(bytes(info))
    assert back == info
    assert info.describe()["signature_algorithm"] == oids.name_of(algorithm)


@given(st.sampled_from([1, 2]), st.none() | st.binary(min_size=2, max_size=2), st.booleans())
def test_ta_info_round_trip(version: int, fid: bytes | None, with_sfid: bool) -> None:
    sfid = b"\x1c" if fid is not None and with_sfid else None
    info = si.TerminalAuthenticationInfo.build(version, fid, sfid)
    assert si.decode_security_info(bytes(info)) == info


def test_ca_public_key_info_round_trip() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.derive_private_key(12345, ec.BrainpoolP256R1()).public_key()
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    info = si.ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, spki, key_id=1)
    back = si.decode_security_info(bytes(info))
    assert back == info
    assert isinstance(back, si.ChipAuthenticationPublicKeyInfo)
    assert back.public_key() == key


def test_unknown_security_info_is_kept_raw() -> None:
    # id-CI CardInfoLocator from the nPA EF.CardAccess: cardkit does not interpret it.
    raw = bytes.fromhex(
        "302a060804007f0007020206161e687474703a2f2f6273692e62756e642e64652f6369662f6e70612e786d6c"
    )
    info = si.decode_security_info(raw)
    assert isinstance(info, si.UnknownSecurityInfo)
    assert info.protocol == oids.ID_CI
    assert bytes(info) == raw


def test_build_sorts_the_set_in_der_order() -> None:
    infos: list[si.SecurityInfo] = [
        si.PaceInfo.build(oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, 13),  # 30 12 ...
        si.TerminalAuthenticationInfo.build(1),  # 30 0D ...
    ]
    built = si.SecurityInfos.build(infos)
    assert [type(i) for i in built.infos] == [si.TerminalAuthenticationInfo, si.PaceInfo]
    assert si.SecurityInfos.from_bytes(built.raw) == built


@pytest.mark.parametrize(
    ("hex_member", "reason"),
    [
        ("3012060A04007F0007020204020202010102010D", "version 1"),
        ("300F060A04007F000702020402020201FF", "negative version"),
        ("3012060A04007F0007020204020202010202FF", "negative parameterId"),
        ("300B060904007F00070202040202", "missing version"),
    ],
)
def test_invalid_known_members(hex_member: str, reason: str) -> None:
    with pytest.raises(EncodingError):
        si.decode_security_info(bytes.fromhex(hex_member))


def test_validation_on_construction() -> None:
    with pytest.raises(ValueError):
        si.PaceInfo.build(oids.ID_CA_ECDH_AES_CBC_CMAC_128, 13)
    with pytest.raises(ValueError):
        si.ChipAuthenticationInfo.build(oids.ID_CA_ECDH_AES_CBC_CMAC_128, version=9)
    with pytest.raises(ValueError):
        si.SecurityInfos.build([])


@given(st.binary(max_size=120))
def test_random_bytes_raise_encoding_error_only(data: bytes) -> None:
    try:
        infos = si.SecurityInfos.from_bytes(data)
    except EncodingError:
        return
    assert infos.raw == data


@given(st.integers(0, 21), st.integers(0, 255))
def test_mutations_of_appendix_g1_raise_encoding_error_only(position: int, value: int) -> None:
    data = bytearray(bytes.fromhex(APPENDIX_G["g1_ecdh_gm"]))
    data[position] = value
    try:
        infos = si.SecurityInfos.from_bytes(bytes(data))
    except EncodingError:
        return
    assert infos.raw == bytes(data)


@given(st.integers(0, 21))
def test_truncations_raise_encoding_error(cut: int) -> None:
    data = bytes.fromhex(APPENDIX_G["g1_ecdh_gm"])[:cut]
    with pytest.raises(EncodingError):
        si.SecurityInfos.from_bytes(data)
