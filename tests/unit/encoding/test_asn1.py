"""ASN.1 specs, the known-curve table and public-key loading (explicit EC parameters)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.encoding import asn1, oids
from cardkit.errors import EncodingError

VECTORS = Path(__file__).parents[2] / "vectors"
OPENSSL = shutil.which("openssl")


def _bsi_dg14_ca_spki() -> bytes:
    # BSI TR-03105-5 reference DG14: the CA key is id-ecPublicKey with explicit parameters.
    dg14 = bytes.fromhex(
        json.loads((VECTORS / "dg14_bsi_tr03105_5_reference.json").read_text())["dg14"]
    )
    # 6E 82 01 4A | 31 82 01 46 | 30 82 01 22 | 06 09 <id-PK-ECDH> | 30 82 01 13 <SPKI> ...
    start = 4 + 4 + 4 + 11
    length = int.from_bytes(dg14[start + 2 : start + 4], "big")
    return dg14[start : start + 4 + length]


@pytest.mark.parametrize("curve", asn1.CURVES, ids=lambda c: c.name)
def test_curve_parameters_are_consistent(curve: asn1.Curve) -> None:
    # G lies on y² = x³ + ax + b (mod p) and the named OID is in the table.
    assert (curve.gy**2 - (curve.gx**3 + curve.a * curve.gx + curve.b)) % curve.p == 0
    assert oids.NAMES[curve.oid] == curve.name


@pytest.mark.parametrize(
    "name", ["secp192r1", "secp224r1", "secp256r1", "secp384r1", "secp521r1",
             "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1"],
)  # fmt: skip
def test_curve_parameters_agree_with_cryptography(name: str) -> None:
    curve = next(c for c in asn1.CURVES if c.name == name)
    impl = {
        "secp192r1": ec.SECP192R1(), "secp224r1": ec.SECP224R1(), "secp256r1": ec.SECP256R1(),
        "secp384r1": ec.SECP384R1(), "secp521r1": ec.SECP521R1(),
        "brainpoolP256r1": ec.BrainpoolP256R1(), "brainpoolP384r1": ec.BrainpoolP384R1(),
        "brainpoolP512r1": ec.BrainpoolP512R1(),
    }[name]  # fmt: skip
    one = ec.derive_private_key(1, impl).public_key().public_numbers()
    assert (one.x, one.y) == (curve.gx, curve.gy)
    minus_one = ec.derive_private_key(curve.n - 1, impl).public_key().public_numbers()
    assert (minus_one.x, minus_one.y) == (curve.gx, curve.p - curve.gy)


def test_explicit_brainpool_p224_is_recognised_but_not_loadable() -> None:
    spki = _bsi_dg14_ca_spki()
    summary = asn1.describe_public_key(spki)
    assert summary["curve"] == "brainpoolP224r1"
    assert summary["parameters"] == "explicit"
    with pytest.raises(EncodingError, match="brainpoolP224r1"):
        asn1.load_public_key(spki)


def _openssl_explicit_spki(curve: str, conv_form: str) -> bytes:
    if OPENSSL is None:
        unavailable("openssl binary not installed")
    key = subprocess.run(
        [OPENSSL, "ecparam", "-name", curve, "-genkey", "-param_enc", "explicit",
         "-conv_form", conv_form, "-noout"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return subprocess.run(
        [OPENSSL, "ec", "-pubout", "-outform", "DER", "-param_enc", "explicit",
         "-conv_form", conv_form],
        input=key, check=True, capture_output=True,
    ).stdout  # fmt: skip


@pytest.mark.parametrize("conv_form", ["uncompressed", "compressed"])
@pytest.mark.parametrize(
    ("openssl_name", "name", "crypto_curve"),
    [
        ("brainpoolP256r1", "brainpoolP256r1", ec.BrainpoolP256R1),
        ("prime256v1", "secp256r1", ec.SECP256R1),
        ("secp384r1", "secp384r1", ec.SECP384R1),
        ("brainpoolP512r1", "brainpoolP512r1", ec.BrainpoolP512R1),
    ],
)
def test_explicit_parameters_from_openssl_load_on_the_named_curve(
    conv_form: str, openssl_name: str, name: str, crypto_curve: type[ec.EllipticCurve]
) -> None:
    spki = _openssl_explicit_spki(openssl_name, conv_form)
    key = asn1.load_public_key(spki)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, crypto_curve)
    assert asn1.describe_public_key(spki)["curve"] == name


def test_unknown_explicit_curve_is_an_encoding_error() -> None:
    spki = asn1.SubjectPublicKeyInfo.load(_bsi_dg14_ca_spki())
    params = core.Asn1Value.load(spki["algorithm"]["parameters"].dump())
    # Change the order n (last INTEGER before the cofactor): no known curve matches.
    der = params.dump()
    tampered = der.replace(bytes.fromhex("A5A7939F"), bytes.fromhex("A5A7939E"))
    assert tampered != der
    with pytest.raises(EncodingError, match="unsupported elliptic curve"):
        asn1.curve_from_parameters(core.Any.load(tampered))


def test_named_curve_and_rsa_keys_load() -> None:
    ec_key = ec.derive_private_key(7, ec.SECP256R1()).public_key()
    spki = ec_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert asn1.load_public_key(spki) == ec_key
    assert asn1.describe_public_key(spki)["parameters"] == "named"
    rsa_key = rsa.RSAPublicNumbers(65537, (1 << 1023) | 0xABCDEF1).public_key()
    spki = rsa_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert asn1.load_public_key(spki) == rsa_key
    assert asn1.describe_public_key(spki) == {
        "algorithm_oid": oids.RSA_ENCRYPTION,
        "algorithm": "rsaEncryption",
        "type": "RSA",
        "key_size": 1024,
    }


def test_brainpool_named_curve_unsupported_by_cryptography() -> None:
    spki = asn1.SubjectPublicKeyInfo(
        {
            "algorithm": {
                "algorithm": oids.EC_PUBLIC_KEY,
                "parameters": core.ObjectIdentifier(oids.BRAINPOOL_P320R1),
            },
            "subject_public_key": b"\x04" + b"\x01" * 80,
        }
    ).dump()
    with pytest.raises(EncodingError, match="brainpoolP320r1"):
        asn1.load_public_key(spki)


def test_lds_security_object_spec_round_trip() -> None:
    value = {
        "version": 1,
        "hash_algorithm": {"algorithm": oids.SHA256},
        "data_group_hash_values": [
            {"data_group_number": 1, "data_group_hash_value": b"\x11" * 32},
            {"data_group_number": 2, "data_group_hash_value": b"\x22" * 32},
        ],
        "lds_version_info": {"lds_version": "0108", "unicode_version": "040000"},
    }
    der = asn1.LdsSecurityObject(value).dump()
    back = asn1.load_strict(asn1.LdsSecurityObject, der, "LDSSecurityObject")
    assert back["lds_version_info"]["unicode_version"].native == "040000"
    assert back["data_group_hash_values"][1]["data_group_number"].native == 2


@given(st.binary(max_size=200))
def test_load_public_key_malformed_raises_encoding_error_only(data: bytes) -> None:
    with pytest.raises(EncodingError):
        asn1.load_public_key(data)


@given(st.binary(max_size=200))
def test_describe_public_key_malformed_raises_encoding_error_only(data: bytes) -> None:
    try:
        summary = asn1.describe_public_key(data)
    except EncodingError:
        return
    assert "algorithm" in summary


@given(st.integers(0, 400), st.integers(0, 255))
def test_mutated_explicit_key_raises_encoding_error_only(position: int, value: int) -> None:
    spki = bytearray(_bsi_dg14_ca_spki())
    spki[position % len(spki)] = value
    try:
        asn1.describe_public_key(bytes(spki))
    except EncodingError:
        return
