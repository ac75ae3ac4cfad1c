"""DG14: BSI TR-03105-5 and ETSI TR 103 200 reference files as known answers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import oids
from cardkit.errors import EncodingError
from cardkit.lds import security_infos as si
from cardkit.lds.dg14 import Dg14
from cardkit.lds.sod import Sod

VECTORS = Path(__file__).parents[2] / "vectors"
BSI = json.loads((VECTORS / "dg14_bsi_tr03105_5_reference.json").read_text())
BSI_SOD = json.loads((VECTORS / "sod_bsi_tr03105_5_reference.json").read_text())
ETSI = json.loads((VECTORS / "dg14_etsi_tr103200_eacaa.json").read_text())
ETSI_SOD = json.loads((VECTORS / "sod_etsi_tr103200_eacaa.json").read_text())


@pytest.mark.parametrize(("dg14_vec", "sod_vec"), [(BSI, BSI_SOD), (ETSI, ETSI_SOD)])
def test_reference_dg14(dg14_vec: dict[str, str], sod_vec: dict[str, str]) -> None:
    data = bytes.fromhex(dg14_vec["dg14"])
    dg14 = Dg14.from_bytes(data)
    assert bytes(dg14) == data
    # The kept raw bytes hash to the value signed in the same reference set's EF.SOD.
    sod = Sod.from_bytes(bytes.fromhex(sod_vec["sod"]))
    assert hashlib.sha256(dg14.raw).digest() == sod.lds_security_object.hashes[14]
    pk, ca, ta = dg14.infos
    assert isinstance(pk, si.ChipAuthenticationPublicKeyInfo)
    assert pk.protocol == oids.ID_PK_ECDH and pk.key_id is None
    assert isinstance(ca, si.ChipAuthenticationInfo)
    assert (ca.protocol, ca.version) == (oids.ID_CA_ECDH_3DES_CBC_CBC, 1)
    assert isinstance(ta, si.TerminalAuthenticationInfo) and ta.version == 1
    described = pk.describe()["public_key"]
    assert isinstance(described, dict)
    assert (described["curve"], described["parameters"]) == ("brainpoolP224r1", "explicit")
    with pytest.raises(EncodingError, match="brainpoolP224r1"):
        pk.public_key()  # recognised, but cryptography has no brainpoolP224r1


def test_reencoding_would_reorder_the_set() -> None:
    # The reference DG14 is not in DER SET order; raw must be kept (DOMAIN.md §9).
    data = bytes.fromhex(BSI["dg14"])
    dg14 = Dg14.from_bytes(data)
    rebuilt = Dg14.build(dg14.infos)
    assert rebuilt.raw != data
    assert sorted(map(bytes, rebuilt.infos)) == sorted(map(bytes, dg14.infos))
    assert len(rebuilt.raw) == len(data)


def _key_spki(secret: int) -> bytes:
    key = ec.derive_private_key(secret, ec.SECP256R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@given(st.integers(1, 2**200), st.none() | st.integers(0, 255))
def test_build_round_trip(secret: int, key_id: int | None) -> None:
    infos: list[si.SecurityInfo] = [
        si.ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, _key_spki(secret), key_id),
        si.ChipAuthenticationInfo.build(oids.ID_CA_ECDH_AES_CBC_CMAC_128, 1, key_id),
        si.ActiveAuthenticationInfo.build(oids.ECDSA_WITH_SHA256),
        si.PaceInfo.build(oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, 12),
    ]
    dg14 = Dg14.build(infos)
    assert dg14.raw[0] == 0x6E
    back = Dg14.from_bytes(dg14.raw)
    assert back == dg14
    assert back.security_infos.active_authentication_info == infos[2]
    assert back.describe()["file"] == "DG14"


def test_wrong_tag() -> None:
    data = bytearray(bytes.fromhex(BSI["dg14"]))
    data[0] = 0x6F
    with pytest.raises(EncodingError, match="6E"):
        Dg14.from_bytes(bytes(data))


@given(st.binary(max_size=100))
def test_random_bytes_raise_encoding_error_only(data: bytes) -> None:
    try:
        Dg14.from_bytes(b"\x6e" + bytes([len(data) & 0x7F]) + data[:127])
    except EncodingError:
        return


@given(st.integers(0, 333), st.integers(0, 255))
def test_mutations_raise_encoding_error_only(position: int, value: int) -> None:
    data = bytearray(bytes.fromhex(BSI["dg14"]))
    data[position] = value
    try:
        dg14 = Dg14.from_bytes(bytes(data))
    except EncodingError:
        return
    dg14.describe()  # whatever decodes can be described without raising


@given(st.integers(0, 333))
def test_truncations_raise_encoding_error(cut: int) -> None:
    with pytest.raises(EncodingError):
        Dg14.from_bytes(bytes.fromhex(BSI["dg14"])[:cut])
