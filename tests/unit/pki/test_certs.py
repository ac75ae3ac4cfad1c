"""Tests for cardkit.pki.certs and names: certificates verify with OpenSSL and lint clean."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.encoding import oids
from cardkit.errors import PkiError
from cardkit.pki.algorithms import generate_private_key
from cardkit.pki.certs import (
    MAX_SERIAL,
    create_csca,
    document_type_list,
    is_issued_by,
    issue_dsc,
    issue_link_certificate,
    issue_master_list_signer,
    new_serial_number,
)
from cardkit.pki.lint import lint_certificate
from cardkit.pki.names import make_name
from cardkit.pki.signer import LocalSigner, SignatureScheme

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T_PKU = datetime(2029, 1, 1, tzinfo=UTC)
T_END = datetime(2039, 1, 1, tzinfo=UTC)
KEY_SPECS = [
    "ec:secp256r1",
    "ec:secp384r1",
    "ec:brainpoolP256r1",
    "ec:brainpoolP384r1",
    "rsa:2048",
]


def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        unavailable("openssl not installed")
    return path


def pem(path: Path, *certs: cx509.Certificate) -> str:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return str(path)


def openssl_verify(
    tmp_path: Path, ca: cx509.Certificate, leaf: cx509.Certificate, *untrusted: cx509.Certificate
) -> None:
    args = [openssl(), "verify", "-CAfile", pem(tmp_path / "ca.pem", ca)]
    if untrusted:
        args += ["-untrusted", pem(tmp_path / "untrusted.pem", *untrusted)]
    args.append(pem(tmp_path / "leaf.pem", leaf))
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def signers() -> dict[str, LocalSigner]:
    specs = [*KEY_SPECS, "rsa:4096"]
    return {spec: LocalSigner(generate_private_key(spec), spec) for spec in specs}


def make_csca(signer: LocalSigner, scheme: SignatureScheme, **kw: object) -> cx509.Certificate:
    args: dict[str, object] = {
        "country": "VN",
        "common_name": "CSCA Viet Nam",
        "organization": "Bộ Công an",
        "serial": 1,
        "not_before": T0,
        "not_after": T_END,
        "private_key_usage_end": T_PKU,
        "scheme": scheme,
    }
    args.update(kw)
    return create_csca(signer, **args)  # type: ignore[arg-type]


def make_dsc(
    signer: LocalSigner,
    csca: cx509.Certificate,
    key: LocalSigner,
    scheme: SignatureScheme,
    **kw: object,
) -> cx509.Certificate:
    args: dict[str, object] = {
        "common_name": "Document Signer 1",
        "serial": 0x1234,
        "not_before": T0 + timedelta(days=1),
        "not_after": T0 + timedelta(days=3650),
        "private_key_usage_end": T0 + timedelta(days=90),
        "scheme": scheme,
        "crl_distribution_point": "https://pki.example.vn/csca.crl",
    }
    args.update(kw)
    return issue_dsc(signer, csca, key.public_key(), **args)  # type: ignore[arg-type]


CASES = (
    [(spec, SignatureScheme(h)) for spec in KEY_SPECS[:4] for h in ("sha256", "sha384", "sha512")]
    + [
        ("rsa:2048", SignatureScheme(h, p))
        for h in ("sha256", "sha384", "sha512")
        for p in ("pss", "pkcs1v15")
    ]
    + [("rsa:4096", SignatureScheme("sha512", "pss"))]
)


@pytest.mark.parametrize(("spec", "scheme"), CASES, ids=lambda v: str(v))
def test_chain_verifies_with_openssl_and_lints_clean(
    tmp_path: Path, signers: dict[str, LocalSigner], spec: str, scheme: SignatureScheme
) -> None:
    ca = signers[spec]
    csca = make_csca(ca, scheme)
    dsc = make_dsc(ca, csca, signers["ec:secp256r1"], scheme)
    mls = issue_master_list_signer(
        ca,
        csca,
        signers["rsa:2048"].public_key(),
        common_name="Master List Signer",
        serial=77,
        not_before=T0,
        not_after=T_PKU,
        private_key_usage_end=T_PKU,
        scheme=scheme,
    )
    openssl_verify(tmp_path, csca, csca)
    openssl_verify(tmp_path, csca, dsc)
    openssl_verify(tmp_path, csca, mls)
    for cert, kind in ((csca, "csca"), (dsc, "dsc"), (mls, "mls")):
        errors = [f for f in lint_certificate(cert, kind) if f.severity == "error"]  # type: ignore[arg-type]
        assert errors == [], errors
        assert [f for f in lint_certificate(cert)] == lint_certificate(cert, kind)  # type: ignore[arg-type]
    assert is_issued_by(dsc, csca) and is_issued_by(csca, csca) and not is_issued_by(csca, dsc)


def test_profile_of_csca(signers: dict[str, LocalSigner]) -> None:
    csca = make_csca(signers["ec:brainpoolP256r1"], SignatureScheme())
    ext = csca.extensions
    bc = ext.get_extension_for_class(cx509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext.get_extension_for_class(cx509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    ski = ext.get_extension_for_class(cx509.SubjectKeyIdentifier).value
    assert ski == cx509.SubjectKeyIdentifier.from_public_key(csca.public_key())
    pkup = ext.get_extension_for_class(cx509.PrivateKeyUsagePeriod).value
    assert pkup.not_after is not None and pkup.not_after.replace(tzinfo=UTC) == T_PKU
    assert csca.issuer == csca.subject
    assert csca.subject.get_attributes_for_oid(cx509.NameOID.COUNTRY_NAME)[0].value == "VN"


def test_profile_of_dsc(signers: dict[str, LocalSigner]) -> None:
    ca = signers["ec:secp256r1"]
    csca = make_csca(ca, SignatureScheme())
    dsc = make_dsc(ca, csca, signers["rsa:2048"], SignatureScheme(), document_types=("P", "ID"))
    ext = dsc.extensions
    with pytest.raises(cx509.ExtensionNotFound):
        ext.get_extension_for_class(cx509.BasicConstraints)
    ku = ext.get_extension_for_class(cx509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    aki = ext.get_extension_for_class(cx509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier
        == csca.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier).value.digest
    )
    dtl = ext.get_extension_for_oid(cx509.ObjectIdentifier(oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST))
    assert not dtl.critical
    # Hand-encoded per X.690 from the 9303-12 §7.1.1.3 ASN.1: SEQUENCE { INTEGER 0,
    # SET OF { "P", "ID" } } (PrintableStrings; DER sorts the SET by encoding: 13 01 < 13 02).
    assert dtl.value.value == bytes.fromhex("300c020100310713015013024944")  # type: ignore[attr-defined]
    assert dsc.issuer == csca.subject


def test_validity_time_types(signers: dict[str, LocalSigner], tmp_path: Path) -> None:
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    ca = signers["ec:secp256r1"]
    csca = make_csca(ca, SignatureScheme(), not_after=datetime(2050, 1, 1, tzinfo=UTC))
    validity = x509.Certificate.load(csca.public_bytes(serialization.Encoding.DER))[
        "tbs_certificate"
    ]["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_after"].name == "general_time"
    openssl_verify(tmp_path, csca, csca)
    csca = make_csca(
        ca, SignatureScheme(), not_after=datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)
    )
    validity = x509.Certificate.load(csca.public_bytes(serialization.Encoding.DER))[
        "tbs_certificate"
    ]["validity"]
    assert validity["not_after"].name == "utc_time"


def test_link_certificate(signers: dict[str, LocalSigner], tmp_path: Path) -> None:
    old_signer, new_signer = signers["ec:secp384r1"], signers["ec:brainpoolP384r1"]
    old = make_csca(old_signer, SignatureScheme("sha384"))
    # Same name, new key: the link is self-issued, so RFC 5280 §6.1.4 (l) does not count it
    # against the old CSCA's pathLen 0 and OpenSSL can build old → link → DSC.
    new = make_csca(new_signer, SignatureScheme("sha384"), serial=2)
    link = issue_link_certificate(old_signer, old, new, serial=3, scheme=SignatureScheme("sha384"))
    dsc = make_dsc(new_signer, new, signers["rsa:2048"], SignatureScheme())
    openssl_verify(tmp_path, old, dsc, link)
    assert is_issued_by(link, old)
    assert link.public_key() == new.public_key()
    for cert in (link, new):
        assert [f for f in lint_certificate(cert, "link") if f.severity == "error"] == []
    name_change = cx509.ObjectIdentifier(oids.ICAO_EXTENSIONS_NAME_CHANGE)
    with pytest.raises(cx509.ExtensionNotFound):
        link.extensions.get_extension_for_oid(name_change)


def test_link_certificate_with_name_change(signers: dict[str, LocalSigner]) -> None:
    old_signer, new_signer = signers["ec:secp384r1"], signers["ec:brainpoolP384r1"]
    old = make_csca(old_signer, SignatureScheme("sha384"))
    new = make_csca(new_signer, SignatureScheme("sha384"), common_name="CSCA Viet Nam 2", serial=2)
    link = issue_link_certificate(old_signer, old, new, serial=3, scheme=SignatureScheme("sha384"))
    assert is_issued_by(link, old) and link.subject == new.subject
    assert [f for f in lint_certificate(link) if f.severity == "error"] == []
    assert lint_certificate(link) == lint_certificate(link, "link")
    name_change = cx509.ObjectIdentifier(oids.ICAO_EXTENSIONS_NAME_CHANGE)
    assert link.extensions.get_extension_for_oid(name_change).value.value == b"\x05\x00"  # type: ignore[attr-defined]
    other = make_csca(new_signer, SignatureScheme(), country="DE")
    with pytest.raises(PkiError, match="country"):
        issue_link_certificate(old_signer, old, other, serial=4, scheme=SignatureScheme())


@settings(max_examples=25)
@given(st.integers(min_value=1, max_value=MAX_SERIAL))
def test_serial_round_trip(serial: int) -> None:
    signer = _FAST
    assert make_csca(signer, SignatureScheme(), serial=serial).serial_number == serial


_FAST = LocalSigner(generate_private_key("ec:secp256r1"), "fast")


@pytest.mark.parametrize("serial", [0, -1, MAX_SERIAL + 1, True])
def test_bad_serial(serial: int) -> None:
    with pytest.raises(PkiError):
        make_csca(_FAST, SignatureScheme(), serial=serial)


def test_new_serial_number_fits() -> None:
    serials = {new_serial_number() for _ in range(50)}
    assert len(serials) == 50
    assert all(2**152 <= s <= MAX_SERIAL for s in serials)


@pytest.mark.parametrize(
    "kw",
    [
        {"country": "vn"},
        {"country": "VNM"},
        {"country": "V1"},
        {"common_name": ""},
        {"not_before": datetime(2024, 1, 1)},
        {"not_after": T0},
        {"private_key_usage_end": T_END + timedelta(days=1)},
        {"private_key_usage_end": T0 - timedelta(days=1)},
        {"crl_distribution_point": "not a uri"},
    ],
)
def test_create_csca_rejects(kw: dict[str, object]) -> None:
    with pytest.raises(PkiError):
        make_csca(_FAST, SignatureScheme(), **kw)


def test_issue_dsc_rejects(signers: dict[str, LocalSigner]) -> None:
    ca = signers["ec:secp256r1"]
    csca = make_csca(ca, SignatureScheme())
    key = signers["rsa:2048"]
    with pytest.raises(PkiError, match="not the key"):
        make_dsc(key, csca, key, SignatureScheme())
    with pytest.raises(PkiError, match="within the CSCA"):
        make_dsc(ca, csca, key, SignatureScheme(), not_after=T_END + timedelta(days=1))
    with pytest.raises(PkiError, match="private key usage period"):
        make_dsc(
            ca,
            csca,
            key,
            SignatureScheme(),
            not_before=T_PKU + timedelta(days=1),
            private_key_usage_end=T_PKU + timedelta(days=2),
        )
    dsc = make_dsc(ca, csca, key, SignatureScheme())
    with pytest.raises(PkiError, match="not a CA"):
        make_dsc(key, dsc, ca, SignatureScheme())
    for bad in ((), ("PP", "PP"), ("p",), ("IDX",), ("I<",)):
        with pytest.raises(PkiError):
            make_dsc(ca, csca, key, SignatureScheme(), document_types=bad)


def test_document_type_list_sorted() -> None:
    assert document_type_list(["P", "ID"]) == document_type_list(["ID", "P"])


def test_make_name_encoding() -> None:
    name = make_name("VN", "Bộ Công an", "CSCA", organizational_unit="C06", serial_number="01")
    rdns = [rdn[0] for rdn in name.chosen]
    assert [a["type"].dotted for a in rdns] == [
        "2.5.4.6",
        "2.5.4.10",
        "2.5.4.11",
        "2.5.4.3",
        "2.5.4.5",
    ]
    assert rdns[0]["value"].chosen.tag == 19  # PrintableString (X.520 countryName)
    assert rdns[1]["value"].chosen.tag == 12  # UTF8String
    assert (
        cx509.Name.from_rfc4514_string("CN=CSCA,OU=C06,O=Bộ Công an,C=VN")
        .get_attributes_for_oid(cx509.NameOID.ORGANIZATION_NAME)[0]
        .value
        == rdns[1]["value"].native
    )
