"""DG15: reference RSA keys (BSI TR-03105-5, ETSI TR 103 200), EC keys named and explicit."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds.dg15 import Dg15
from cardkit.lds.sod import Sod

VECTORS = Path(__file__).parents[2] / "vectors"
BSI = json.loads((VECTORS / "dg15_bsi_tr03105_5_reference.json").read_text())
ETSI = json.loads((VECTORS / "dg15_etsi_tr103200_eacaa.json").read_text())
ETSI_SOD = json.loads((VECTORS / "sod_etsi_tr103200_eacaa.json").read_text())
OPENSSL = shutil.which("openssl")


@pytest.mark.parametrize(
    ("vector", "modulus_prefix"),
    [(BSI, "8130E120BB785A45"), (ETSI, "95BDA81436356784")],  # as printed in the files
)
def test_reference_rsa_dg15(vector: dict[str, str], modulus_prefix: str) -> None:
    data = bytes.fromhex(vector["dg15"])
    dg15 = Dg15.from_bytes(data)
    assert bytes(dg15) == data
    key = dg15.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 1024
    assert key.public_numbers().e == 65537
    assert f"{key.public_numbers().n:X}".startswith(modulus_prefix)
    assert dg15.describe()["public_key"] == {
        "algorithm_oid": "1.2.840.113549.1.1.1",
        "algorithm": "rsaEncryption",
        "type": "RSA",
        "key_size": 1024,
    }


def test_etsi_dg15_hash_is_in_its_sod() -> None:
    sod = Sod.from_bytes(bytes.fromhex(ETSI_SOD["sod"]))
    raw = Dg15.from_bytes(bytes.fromhex(ETSI["dg15"])).raw
    assert hashlib.sha256(raw).digest() == sod.lds_security_object.hashes[15]


@given(st.integers(1, 2**250), st.sampled_from([ec.SECP256R1, ec.BrainpoolP256R1, ec.SECP384R1]))
def test_ec_round_trip(secret: int, curve: type[ec.EllipticCurve]) -> None:
    key = ec.derive_private_key(secret, curve()).public_key()
    dg15 = Dg15.build(key)
    back = Dg15.from_bytes(dg15.raw)
    assert back == dg15
    assert back.public_key() == key


def test_rsa_round_trip() -> None:
    key = rsa.RSAPublicNumbers(65537, (1 << 2047) | 0x1234567).public_key()
    dg15 = Dg15.build(key)
    assert Dg15.from_bytes(dg15.raw).public_key() == key


def test_explicit_parameter_brainpool_key() -> None:
    if OPENSSL is None:
        unavailable("openssl binary not installed")
    assert OPENSSL is not None
    key_pem = subprocess.run(
        [OPENSSL, "ecparam", "-name", "brainpoolP384r1", "-genkey", "-param_enc", "explicit",
         "-noout"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    spki = subprocess.run(
        [OPENSSL, "ec", "-pubout", "-outform", "DER", "-param_enc", "explicit"],
        input=key_pem, check=True, capture_output=True,
    ).stdout  # fmt: skip
    dg15 = Dg15.from_bytes(tlv.encode(0x6F, spki))
    key = dg15.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, ec.BrainpoolP384R1)
    assert dg15.describe()["public_key"] == {
        "algorithm_oid": "1.2.840.10045.2.1",
        "algorithm": "id-ecPublicKey",
        "type": "EC",
        "curve": "brainpoolP384r1",
        "key_size": 384,
        "parameters": "explicit",
    }


def test_wrong_tag_is_rejected() -> None:
    # ETSI TR 103 200 negative sample LDS/I01: the ETSI DG15 content under tag 70.
    data = bytearray(bytes.fromhex(ETSI["dg15"]))
    data[0] = 0x70
    with pytest.raises(EncodingError, match="6F"):
        Dg15.from_bytes(bytes(data))


def test_non_rsa_non_ec_key_is_rejected() -> None:
    spki = bytes.fromhex("3012300806062A8648CE38040103060003020101")  # DSA OID
    with pytest.raises(EncodingError):
        Dg15.from_bytes(tlv.encode(0x6F, spki))


@given(st.binary(max_size=200))
def test_random_bytes_raise_encoding_error_only(data: bytes) -> None:
    with pytest.raises(EncodingError):
        Dg15.from_bytes(tlv.encode(0x6F, b"\x30" + data[:1] + data[1:]))


@given(st.integers(0, 164), st.integers(0, 255))
def test_mutations_raise_encoding_error_only(position: int, value: int) -> None:
    data = bytearray(bytes.fromhex(BSI["dg15"]))
    data[position] = value
    try:
        dg15 = Dg15.from_bytes(bytes(data))
    except EncodingError:
        return
    with contextlib.suppress(EncodingError):
        dg15.public_key()
    assert dg15.describe()["file"] == "DG15"
