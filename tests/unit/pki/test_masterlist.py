"""Tests for cardkit.pki.masterlist: build → OpenSSL cms -verify, read/verify, malformed input."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.encoding import oids
from cardkit.errors import EncodingError, PkiError
from cardkit.pki.algorithms import generate_private_key
from cardkit.pki.certs import create_csca, issue_dsc, issue_master_list_signer
from cardkit.pki.masterlist import (
    MasterList,
    create_master_list,
    read_master_list,
    verify_master_list,
)
from cardkit.pki.signer import LocalSigner, SignatureScheme


def T(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _der(cert: cx509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        unavailable("openssl not installed")
    return path


_DE = LocalSigner(generate_private_key("ec:brainpoolP256r1"), "de")
_VN = LocalSigner(generate_private_key("ec:secp256r1"), "vn")
_MLS = LocalSigner(generate_private_key("ec:secp384r1"), "mls")


def _csca(signer: LocalSigner, country: str) -> cx509.Certificate:
    return create_csca(
        signer,
        country=country,
        common_name=f"CSCA {country}",
        serial=1,
        not_before=T(2024),
        not_after=T(2040),
        private_key_usage_end=T(2030),
        scheme=SignatureScheme(),
    )


CSCA_DE = _csca(_DE, "DE")
CSCA_VN = _csca(_VN, "VN")
MLS_CERT = issue_master_list_signer(
    _DE,
    CSCA_DE,
    _MLS.public_key(),
    common_name="Master List Signer",
    serial=9,
    not_before=T(2024),
    not_after=T(2030),
    private_key_usage_end=T(2027),
    scheme=SignatureScheme(),
)


@pytest.fixture(scope="module")
def rsa_mls() -> tuple[LocalSigner, cx509.Certificate]:
    signer = LocalSigner(generate_private_key("rsa:2048"), "rsa-mls")
    cert = issue_master_list_signer(
        _DE,
        CSCA_DE,
        signer.public_key(),
        common_name="MLS RSA",
        serial=10,
        not_before=T(2024),
        not_after=T(2030),
        private_key_usage_end=T(2027),
        scheme=SignatureScheme("sha384"),
    )
    return signer, cert


def _ml(
    certs: list[cx509.Certificate] | None = None,
    scheme: SignatureScheme | None = None,
    signer: LocalSigner = _MLS,
    signer_cert: cx509.Certificate = MLS_CERT,
) -> bytes:
    return create_master_list(
        signer,
        signer_cert,
        certs or [CSCA_DE, CSCA_VN],
        signing_time=T(2025, 3),
        scheme=scheme or SignatureScheme(),
    )


@pytest.mark.parametrize("scheme", [SignatureScheme("sha256"), SignatureScheme("sha512")], ids=str)
def test_ec_master_list_verifies_with_openssl(tmp_path: Path, scheme: SignatureScheme) -> None:
    _openssl_cms_verify(tmp_path, _ml(scheme=scheme))


@pytest.mark.parametrize(
    "scheme", [SignatureScheme("sha256", "pss"), SignatureScheme("sha384", "pkcs1v15")], ids=str
)
def test_rsa_master_list_verifies_with_openssl(
    tmp_path: Path, rsa_mls: tuple[LocalSigner, cx509.Certificate], scheme: SignatureScheme
) -> None:
    data = _ml(scheme=scheme, signer=rsa_mls[0], signer_cert=rsa_mls[1])
    _openssl_cms_verify(tmp_path, data)
    verify_master_list(read_master_list(data), [CSCA_DE])


def _openssl_cms_verify(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "ml.der").write_bytes(data)
    (tmp_path / "ca.pem").write_bytes(CSCA_DE.public_bytes(serialization.Encoding.PEM))
    # -binary: no MIME canonicalisation of the eContent; -purpose any: the signer carries the
    # ICAO EKU, not the S/MIME one OpenSSL would otherwise demand.
    result = subprocess.run(
        [
            openssl(),
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "ml.der"),
            "-CAfile",
            str(tmp_path / "ca.pem"),
            "-binary",
            "-purpose",
            "any",
            "-out",
            str(tmp_path / "content.der"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # The content OpenSSL extracts is the CscaMasterList itself.
    assert read_master_list(data).econtent == (tmp_path / "content.der").read_bytes()


def test_read_and_verify() -> None:
    data = _ml()
    ml = read_master_list(data)
    assert set(ml.certificates) == {CSCA_DE, CSCA_VN}
    assert ml.signer_certificate == MLS_CERT
    assert ml.signing_time == T(2025, 3)
    assert bytes(ml) == data and MasterList.from_bytes(data) == ml
    assert ml.describe()["countries"] == ["DE", "VN"]
    verify_master_list(ml, [CSCA_VN, CSCA_DE])
    info = cms.ContentInfo.load(data)
    assert info["content"]["encap_content_info"]["content_type"].dotted == oids.CSCA_MASTER_LIST
    assert info["content"]["version"].native == "v3"


@settings(max_examples=10)
@given(st.lists(st.sampled_from([0, 1]), min_size=1, max_size=2, unique=True))
def test_round_trip(which: list[int]) -> None:
    certs = [[CSCA_DE, CSCA_VN][i] for i in which]
    ml = read_master_list(_ml(certs))
    assert sorted(c.serial_number for c in ml.certificates) == sorted(
        c.serial_number for c in certs
    )
    assert {c.subject for c in ml.certificates} == {c.subject for c in certs}


def test_untrusted_signer() -> None:
    with pytest.raises(PkiError, match="trusted CSCA"):
        verify_master_list(read_master_list(_ml()), [CSCA_VN])


def _dsc_of_de() -> cx509.Certificate:
    return issue_dsc(
        _DE,
        CSCA_DE,
        _MLS.public_key(),
        common_name="DS",
        serial=11,
        not_before=T(2024),
        not_after=T(2030),
        private_key_usage_end=T(2027),
        scheme=SignatureScheme(),
    )


def test_signer_without_eku() -> None:
    ml = read_master_list(_ml(signer_cert=_dsc_of_de()))
    with pytest.raises(PkiError, match="ExtendedKeyUsage"):
        verify_master_list(ml, [CSCA_DE])


def _tamper(data: bytes, edit: object) -> bytes:
    info = cms.ContentInfo.load(data)
    edit(info)  # type: ignore[operator]
    return bytes(info.dump(force=True))


def test_wrong_content_type() -> None:
    def edit(info: cms.ContentInfo) -> None:
        info["content"]["encap_content_info"]["content_type"] = "data"

    with pytest.raises(PkiError, match="content type"):
        verify_master_list(read_master_list(_tamper(_ml(), edit)), [CSCA_DE])


def test_bad_digest_and_signature() -> None:
    data = _ml()
    ml = read_master_list(data)
    with pytest.raises(PkiError, match="digest"):
        verify_master_list(
            MasterList(**{**ml.__dict__, "econtent": ml.econtent + b"\x00"}), [CSCA_DE]
        )
    sig = bytearray(ml.signature)
    sig[-3] ^= 1
    with pytest.raises(PkiError, match="signature"):
        verify_master_list(MasterList(**{**ml.__dict__, "signature": bytes(sig)}), [CSCA_DE])


def test_missing_signer_certificate() -> None:
    def edit(info: cms.ContentInfo) -> None:
        info["content"]["certificates"] = []

    with pytest.raises(PkiError, match="not embedded"):
        verify_master_list(read_master_list(_tamper(_ml(), edit)), [CSCA_DE])


def test_create_rejects() -> None:
    with pytest.raises(PkiError):
        _ml(signer=_DE)
    with pytest.raises(PkiError):
        create_master_list(_MLS, MLS_CERT, [], signing_time=T(2025), scheme=SignatureScheme())


_VALID = _ml()


def _read_or_verify(data: bytes) -> None:
    # Anything but PkiError escaping fails the test (EncodingError is not a PkiError).
    assert not issubclass(EncodingError, PkiError)
    with contextlib.suppress(PkiError):
        verify_master_list(read_master_list(data), [CSCA_DE])


@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    _read_or_verify(data)


@given(st.integers(0, len(_VALID) - 1))
def test_truncations(n: int) -> None:
    with pytest.raises(PkiError):
        read_master_list(_VALID[:n])


@given(st.integers(0, len(_VALID) - 1), st.integers(1, 255))
def test_byte_flips(pos: int, xor: int) -> None:
    data = bytearray(_VALID)
    data[pos] ^= xor
    _read_or_verify(bytes(data))


def test_not_signed_data() -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"abc"}).dump()
    with pytest.raises(PkiError, match="not a CMS SignedData"):
        read_master_list(data)


# --- The signer's role (ICAO 9303-12 §9, §7.1.1 Table 7) ----------------------------------------


def test_a_csca_signing_its_own_master_list_is_refused() -> None:
    ml = read_master_list(_ml(signer=_DE, signer_cert=CSCA_DE))
    with pytest.raises(PkiError) as e:
        verify_master_list(ml, [CSCA_DE])
    message = str(e.value)
    assert "a CSCA certificate" in message and "keyCertSign is set" in message
    assert "BasicConstraints cA TRUE" in message and "§7.1.1 Table 7" in message


def test_a_document_signer_signing_a_master_list_is_refused() -> None:
    ml = read_master_list(_ml(signer_cert=_dsc_of_de()))  # a DSC of CSCA_DE, on _MLS's key
    with pytest.raises(PkiError) as e:
        verify_master_list(ml, [CSCA_DE])
    message = str(e.value)
    assert "profile of a Document Signer" in message
    assert "cscaMasterListSigningKey (2.23.136.1.1.3)" in message and "9303-12 §9" in message


def _mls_with(eku_critical: bool, ca: bool = False) -> cx509.Certificate:
    """A master-list signer certificate made with cryptography (cardkit's issuer always makes
    the EKU critical and the signer no CA): issued by CSCA_DE, signed with its key."""
    builder = (
        cx509.CertificateBuilder()
        .subject_name(cx509.Name.from_rfc4514_string("CN=MLS odd,C=DE"))
        .issuer_name(CSCA_DE.subject)
        .public_key(_MLS.public_key())
        .serial_number(31)
        .not_valid_before(T(2024))
        .not_valid_after(T(2030))
        .add_extension(
            cx509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(
            cx509.ExtendedKeyUsage([cx509.ObjectIdentifier(oids.CSCA_MASTER_LIST_SIGNING_KEY)]),
            eku_critical,
        )
    )
    if ca:
        builder = builder.add_extension(cx509.BasicConstraints(ca=True, path_length=0), True)
    return builder.sign(_DE.private_key, hashes.SHA256())


def test_master_list_signer_roles() -> None:
    with pytest.raises(PkiError, match="must be critical"):
        verify_master_list(read_master_list(_ml(signer_cert=_mls_with(False))), [CSCA_DE])
    with pytest.raises(PkiError, match="cannot act as master-list signer"):
        verify_master_list(read_master_list(_ml(signer_cert=_mls_with(True, ca=True))), [CSCA_DE])
    verify_master_list(read_master_list(_ml(signer_cert=_mls_with(True))), [CSCA_DE])


def test_signer_issued_by_a_certificate_that_is_not_a_csca() -> None:
    # A trusted certificate without keyCertSign cannot issue the signer (9303-12 §7.1.1).
    fake_ca = (
        cx509.CertificateBuilder()
        .subject_name(CSCA_DE.subject)
        .issuer_name(CSCA_DE.subject)
        .public_key(_DE.public_key())
        .serial_number(2)
        .not_valid_before(T(2024))
        .not_valid_after(T(2040))
        .sign(_DE.private_key, hashes.SHA256())
    )
    with pytest.raises(PkiError, match="its issuer is not a CSCA"):
        verify_master_list(read_master_list(_ml()), [fake_ca])


def test_signer_not_valid_at_the_signing_time() -> None:
    data = create_master_list(
        _MLS, MLS_CERT, [CSCA_DE], signing_time=T(2031), scheme=SignatureScheme()
    )
    with pytest.raises(PkiError, match="not valid at the signing time"):
        verify_master_list(read_master_list(data), [CSCA_DE])


def test_a_malformed_certificate_in_the_list_is_named() -> None:
    data = _ml([CSCA_DE, CSCA_VN])
    order = sorted([_der(CSCA_DE), _der(CSCA_VN)])
    target = order[1]
    version = bytes.fromhex("a003020102")
    patched = target.replace(version, bytes.fromhex("a003020105"), 1)
    with pytest.raises(PkiError, match=r"certificate 2 of 2: .*invalid X\.509 version"):
        read_master_list(data.replace(target, patched))
