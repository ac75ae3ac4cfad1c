"""EF.SOD: BSI TR-03105-5 and ETSI TR 103 200 reference files, a fresh signed CMS, bad input."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.encoding import oids
from cardkit.errors import EncodingError
from cardkit.lds.sod import LdsSecurityObject, Sod

VECTORS = Path(__file__).parents[2] / "vectors"
BSI = json.loads((VECTORS / "sod_bsi_tr03105_5_reference.json").read_text())
ETSI = json.loads((VECTORS / "sod_etsi_tr103200_eacaa.json").read_text())
OPENSSL = shutil.which("openssl")


@pytest.mark.parametrize(
    ("vector", "groups", "serial"),
    [(BSI, [1, 2, 3, 4, 14], 1387230198055), (ETSI, [1, 2, 3, 4, 14, 15], 0x0130846F2B3E)],
)
def test_reference_sod(vector: dict[str, str], groups: list[int], serial: int) -> None:
    data = bytes.fromhex(vector["sod"])
    sod = Sod.from_bytes(data)
    assert bytes(sod) == data
    assert sod.econtent_type == "2.23.136.1.1.1"
    lso = sod.lds_security_object
    assert (lso.version, lso.hash_algorithm, sorted(lso.hashes)) == (0, "sha256", groups)
    assert lso.raw == sod.econtent
    # The data groups published with the same reference set hash to the signed values.
    for name in ("dg1", "dg14", "dg15"):
        if name in vector:
            number = int(name[2:])
            assert hashlib.sha256(bytes.fromhex(vector[name])).digest() == lso.hashes[number]
    (signer,) = sod.signer_infos
    assert signer.serial_number == serial
    assert signer.signature_algorithm == oids.RSASSA_PSS
    assert signer.digest_algorithm == oids.SHA256
    assert signer.content_type == oids.LDS_SECURITY_OBJECT
    assert signer.message_digest == hashlib.sha256(sod.econtent).digest()
    # The signature verifies over the signed attributes as exposed (RFC 5652 §5.4).
    (cert_der,) = sod.certificates
    cert = x509.load_der_x509_certificate(cert_der)
    assert cert.serial_number == serial
    assert signer.signed_attrs is not None
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        signer.signature,
        signer.signed_attrs,
        padding.PSS(padding.MGF1(hashes.SHA256()), 32),
        hashes.SHA256(),
    )
    described = sod.describe()
    assert described["econtent_type"] == "id-icao-mrtd-security-ldsSecurityObject"
    assert Sod.wrap(sod.content_info) == sod


# --- A CMS built with asn1crypto and signed with cryptography (test key and certificate) -------

_KEY = ec.derive_private_key(0xC0FFEE, ec.SECP256R1())
_WHEN = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


def _certificate() -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "cardkit test DS")])  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(4242)
        .not_valid_before(_WHEN)
        .not_valid_after(_WHEN + datetime.timedelta(days=3650))
        .sign(_KEY, hashes.SHA256())
    )


def _signed_content_info(econtent: bytes, econtent_type: str = oids.LDS_SECURITY_OBJECT) -> bytes:
    cert = _certificate()
    asn1_cert = cms.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [econtent_type]},
            {"type": "message_digest", "values": [hashlib.sha256(econtent).digest()]},
        ]
    )
    signature = _KEY.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": asn1_cert.issuer,
                        "serial_number": asn1_cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": econtent_type, "content": econtent},
            "certificates": [asn1_cert],
            "signer_infos": [signer],
        }
    )
    content_info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return bytes(content_info.dump())


def _lso() -> LdsSecurityObject:
    return LdsSecurityObject.build(
        "sha256",
        {1: hashlib.sha256(b"dg1").digest(), 2: hashlib.sha256(b"dg2").digest()},
        lds_version="0108",
        unicode_version="040000",
    )


def test_signed_cms_parses_and_verifies() -> None:
    lso = _lso()
    sod = Sod.wrap(_signed_content_info(lso.raw))
    assert sod.raw[0] == 0x77
    assert sod.lds_security_object == lso
    (signer,) = sod.signer_infos
    assert signer.serial_number == 4242
    assert signer.signature_algorithm == oids.ECDSA_WITH_SHA256
    assert signer.signed_attrs is not None
    _KEY.public_key().verify(signer.signature, signer.signed_attrs, ec.ECDSA(hashes.SHA256()))
    assert Sod.from_bytes(sod.raw) == sod


def test_openssl_verifies_the_signed_cms(tmp_path: Path) -> None:
    if OPENSSL is None:
        unavailable("openssl binary not installed")
    assert OPENSSL is not None
    sod = Sod.wrap(_signed_content_info(_lso().raw))
    cms_file = tmp_path / "sod.cms"
    cms_file.write_bytes(sod.content_info)
    out = tmp_path / "content.bin"
    result = subprocess.run(
        [OPENSSL, "cms", "-verify", "-noverify", "-inform", "DER", "-in", str(cms_file),
         "-binary", "-out", str(out)],
        capture_output=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert out.read_bytes() == sod.econtent


def test_wrong_econtent_type_is_rejected() -> None:
    content_info = _signed_content_info(_lso().raw, econtent_type=oids.CMS_DATA)
    with pytest.raises(EncodingError, match="eContentType"):
        Sod.wrap(content_info)


_hashes = st.sampled_from(["sha1", "sha224", "sha256", "sha384", "sha512"])


@given(
    _hashes,
    st.sets(st.integers(1, 16), min_size=2, max_size=16),
    st.none() | st.tuples(st.from_regex(r"[0-9]{4}", fullmatch=True),
                          st.from_regex(r"[0-9]{6}", fullmatch=True)),
)  # fmt: skip
def test_lds_security_object_round_trip(
    algorithm: str, groups: set[int], info: tuple[str, str] | None
) -> None:
    size = hashlib.new(algorithm).digest_size
    hashes_ = {n: hashlib.new(algorithm, bytes([n])).digest() for n in groups}
    assert all(len(h) == size for h in hashes_.values())
    lso = LdsSecurityObject.build(algorithm, hashes_, *(info or (None, None)))
    assert lso.version == (1 if info else 0)
    assert LdsSecurityObject.from_bytes(lso.raw) == lso


def test_lds_security_object_validation() -> None:
    with pytest.raises(ValueError):
        LdsSecurityObject.build("sha256", {1: b"\x00" * 32})  # fewer than 2 hashes
    with pytest.raises(ValueError):
        LdsSecurityObject.build("sha256", {1: b"\x00" * 32, 2: b"\x00" * 20})
    with pytest.raises(ValueError):
        LdsSecurityObject.build("md5", {1: b"\x00" * 16, 2: b"\x00" * 16})
    with pytest.raises(ValueError):
        LdsSecurityObject.build("sha1", {1: b"\x00" * 20, 17: b"\x00" * 20})


@given(st.binary(max_size=300))
def test_random_bytes_raise_encoding_error_only(data: bytes) -> None:
    with pytest.raises(EncodingError):
        Sod.from_bytes(b"\x77" + bytes([min(len(data), 127)]) + data[:127])


@given(st.integers(0, 1933), st.integers(0, 255))
def test_mutations_raise_encoding_error_only(position: int, value: int) -> None:
    data = bytearray(bytes.fromhex(BSI["sod"]))
    data[position] = value
    try:
        sod = Sod.from_bytes(bytes(data))
    except EncodingError:
        return
    assert sod.describe()["file"] == "EF.SOD"


@given(st.integers(0, 1933))
def test_truncations_raise_encoding_error(cut: int) -> None:
    with pytest.raises(EncodingError):
        Sod.from_bytes(bytes.fromhex(BSI["sod"])[:cut])


@given(st.binary(max_size=200))
def test_lds_security_object_random_bytes(data: bytes) -> None:
    try:
        lso = LdsSecurityObject.from_bytes(data)
    except EncodingError:
        return
    assert lso.raw == data
