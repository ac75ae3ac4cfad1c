"""Tests for cardkit.pki.algorithms: AlgorithmIdentifiers, scheme recovery, key generation."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import algos, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.errors import PkiError
from cardkit.pki.algorithms import (
    CURVES,
    generate_private_key,
    scheme_from_algorithm,
    signature_algorithm,
)
from cardkit.pki.signer import PrivateKey, SignatureScheme

SCHEMES = [
    SignatureScheme(h, p) for h in ("sha256", "sha384", "sha512") for p in ("pss", "pkcs1v15")
]


def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        unavailable("openssl not installed")
    return path


@pytest.fixture(scope="module")
def rsa_key() -> PrivateKey:
    return generate_private_key("rsa:2048")


@pytest.fixture(scope="module")
def ec_key() -> PrivateKey:
    return generate_private_key("ec:brainpoolP256r1")


@pytest.mark.parametrize("curve", sorted(CURVES))
def test_generate_ec(curve: str) -> None:
    key = generate_private_key(f"ec:{curve}")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == curve


def test_generate_rsa(rsa_key: PrivateKey) -> None:
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert rsa_key.key_size == 2048


@pytest.mark.parametrize(
    "spec",
    ["", "ec", "ec:secp192r1", "ec:P-256", "rsa", "rsa:1024", "rsa:8192", "rsa:x", "dsa:2048"],
)
def test_generate_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(PkiError):
        generate_private_key(spec)


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_rsa_round_trip(rsa_key: PrivateKey, scheme: SignatureScheme) -> None:
    alg = signature_algorithm(rsa_key.public_key(), scheme)
    reloaded = algos.SignedDigestAlgorithm.load(alg.dump())
    assert scheme_from_algorithm(reloaded) == scheme


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_ec_round_trip(ec_key: PrivateKey, hash_name: str) -> None:
    alg = signature_algorithm(ec_key.public_key(), SignatureScheme(hash_name))  # type: ignore[arg-type]
    # RFC 5758 §3.2: ecdsa-with-SHA2 identifiers carry no parameters at all.
    assert alg["parameters"].native is None
    assert scheme_from_algorithm(algos.SignedDigestAlgorithm.load(alg.dump())).hash == hash_name


def _openssl_algorithm(tmp_path: Path, key: PrivateKey, args: list[str]) -> bytes:
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    out = tmp_path / "cert.der"
    subprocess.run(
        [
            openssl(),
            "req",
            "-x509",
            "-new",
            "-key",
            str(key_path),
            "-subj",
            "/CN=kat",
            "-days",
            "1",
            "-outform",
            "DER",
            "-out",
            str(out),
            *args,
        ],
        check=True,
        capture_output=True,
    )
    return bytes(x509.Certificate.load(out.read_bytes())["signature_algorithm"].dump())


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_rsa_identifiers_match_openssl(
    tmp_path: Path, rsa_key: PrivateKey, scheme: SignatureScheme
) -> None:
    # Known answer from an independent encoder: the AlgorithmIdentifier OpenSSL writes for the
    # same scheme (RFC 4055 §3.1 PSS parameters, RFC 4055 §5 NULL for PKCS#1 v1.5).
    args = [f"-{scheme.hash}"]
    if scheme.rsa_padding == "pss":
        args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    expected = _openssl_algorithm(tmp_path, rsa_key, args)
    assert signature_algorithm(rsa_key.public_key(), scheme).dump() == expected


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_ec_identifiers_match_openssl(tmp_path: Path, ec_key: PrivateKey, hash_name: str) -> None:
    expected = _openssl_algorithm(tmp_path, ec_key, [f"-{hash_name}"])
    ours = signature_algorithm(ec_key.public_key(), SignatureScheme(hash_name))  # type: ignore[arg-type]
    assert ours.dump() == expected


def _pss(hash_name: str, mgf_hash: str, salt: int, trailer: int = 1) -> algos.SignedDigestAlgorithm:
    return algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": hash_name},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": mgf_hash}},
                "salt_length": salt,
                "trailer_field": trailer,
            },
        }
    )


@pytest.mark.parametrize(
    "alg",
    [
        algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa"}),
        algos.SignedDigestAlgorithm({"algorithm": "sha1_ecdsa"}),
        algos.SignedDigestAlgorithm({"algorithm": "sha224_rsa"}),
        algos.SignedDigestAlgorithm({"algorithm": "md5_rsa"}),
        _pss("sha256", "sha384", 32),
        _pss("sha256", "sha256", 20),
        _pss("sha1", "sha1", 20),
        _pss("sha256", "sha256", 32, trailer=2),
        algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss"}),
    ],
    ids=lambda a: a["algorithm"].native,
)
def test_scheme_from_algorithm_rejects(alg: algos.SignedDigestAlgorithm) -> None:
    with pytest.raises(PkiError):
        scheme_from_algorithm(algos.SignedDigestAlgorithm.load(alg.dump()))


def test_unsupported_keys_rejected() -> None:
    small = ec.generate_private_key(ec.SECP224R1()).public_key()
    with pytest.raises(PkiError):
        signature_algorithm(small, SignatureScheme())


@given(st.binary(max_size=64))
def test_malformed_parameters_raise_pki_error(junk: bytes) -> None:
    # An id-RSASSA-PSS identifier followed by arbitrary parameter bytes.
    oid = bytes.fromhex("06092a864886f70d01010a")
    body = oid + junk
    der = bytes([0x30, len(body)]) + body if len(body) < 128 else None
    if der is None:
        return
    try:
        alg = algos.SignedDigestAlgorithm.load(der)
    except ValueError:
        return  # not even an AlgorithmIdentifier: asn1crypto's own problem, not ours
    with pytest.raises(PkiError):
        scheme_from_algorithm(alg)
