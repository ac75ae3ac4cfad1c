"""`cardkit.pki.roles`: which State-PKI role a certificate may play (ICAO 9303-12 §7.1.1
Table 7), on certificates cardkit issues and on hand-made ones that break one rule each."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from testpki import make_csca, make_dsc

from cardkit.encoding import oids
from cardkit.pki import roles

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
KEY = ec.generate_private_key(ec.SECP256R1())
DS = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
CA = x509.KeyUsage(False, False, False, False, False, True, True, False, False)


def _cert(
    *,
    key_usage: x509.KeyUsage | None = None,
    ca: bool | None = None,
    purposes: tuple[str, ...] = (),
    eku_critical: bool = True,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "subject")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(KEY.public_key())
        .serial_number(1)
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=10))
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca, None), critical=True)
    if purposes:
        eku = x509.ExtendedKeyUsage([x509.ObjectIdentifier(p) for p in purposes])
        builder = builder.add_extension(eku, critical=eku_critical)
    return builder.sign(KEY, hashes.SHA256())


def test_cardkit_issued_certificates_fit_their_roles() -> None:
    csca_signer, csca = make_csca("CSCA roles test")
    _, dsc = make_dsc(csca_signer, csca, "DS roles test")
    assert roles.ca_problem(csca, crl_issuer=True) is None
    assert roles.is_self_issued(csca) and not roles.is_self_issued(dsc)
    for rule in (
        roles.key_usage_problem,
        roles.basic_constraints_problem,
        roles.extended_key_usage_problem,
    ):
        assert rule(dsc, "dsc") is None
    assert roles.ca_problem(dsc) is not None  # a DSC is no trust anchor
    assert roles.key_usage_problem(csca, "dsc") is not None  # nor a CSCA a signer


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (None, "no KeyUsage"),
        (x509.KeyUsage(False, True, False, False, False, False, False, False, False),
         "digitalSignature is not set"),
        (x509.KeyUsage(True, False, False, False, False, True, False, False, False),
         "keyCertSign"),
        (x509.KeyUsage(True, False, False, False, False, False, True, False, False), "cRLSign"),
    ],
)  # fmt: skip
def test_key_usage_of_a_signer(usage: x509.KeyUsage | None, expected: str) -> None:
    problem = roles.key_usage_problem(_cert(key_usage=usage), "dsc")
    assert problem is not None and expected in problem


def test_basic_constraints_of_a_signer() -> None:
    assert roles.basic_constraints_problem(_cert(key_usage=DS), "dsc") is None
    assert roles.basic_constraints_problem(_cert(key_usage=DS, ca=False), "dsc") is None
    assert roles.basic_constraints_problem(_cert(key_usage=DS, ca=True), "dsc") is not None


@pytest.mark.parametrize(
    "purpose",
    [oids.CSCA_MASTER_LIST_SIGNING_KEY, oids.DEVIATION_LIST_SIGNING_KEY, "2.5.29.37.0"],
)
def test_a_document_signer_carries_no_other_role(purpose: str) -> None:
    problem = roles.extended_key_usage_problem(_cert(key_usage=DS, purposes=(purpose,)), "dsc")
    assert problem is not None and purpose in problem


def test_a_master_list_signer_needs_its_critical_eku() -> None:
    assert roles.extended_key_usage_problem(_cert(key_usage=DS), "mls") is not None
    mls = _cert(key_usage=DS, purposes=(oids.CSCA_MASTER_LIST_SIGNING_KEY,))
    assert roles.extended_key_usage_problem(mls, "mls") is None
    lax = _cert(key_usage=DS, purposes=(oids.CSCA_MASTER_LIST_SIGNING_KEY,), eku_critical=False)
    assert "critical" in (roles.extended_key_usage_problem(lax, "mls") or "")


def test_a_csca_needs_ca_and_cert_sign() -> None:
    assert "not a CA" in (roles.ca_problem(_cert(key_usage=CA)) or "")
    assert "keyCertSign" in (roles.ca_problem(_cert(key_usage=DS, ca=True)) or "")
    no_crl = x509.KeyUsage(False, False, False, False, False, True, False, False, False)
    assert roles.ca_problem(_cert(key_usage=no_crl, ca=True)) is None
    assert "cRLSign" in (roles.ca_problem(_cert(key_usage=no_crl, ca=True), crl_issuer=True) or "")


def test_an_unrecognised_critical_extension_is_refused() -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd")])
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")

    def cert(critical: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(KEY.public_key())
            .serial_number(2)
            .not_valid_before(T0)
            .not_valid_after(T0 + datetime.timedelta(days=1))
            .add_extension(DS, critical=True)
            .add_extension(odd, critical=critical)
            .sign(KEY, hashes.SHA256())
        )

    problem = roles.critical_extensions_problem(cert(True), "dsc")
    assert problem is not None and "1.3.6.1.4.1.99999.1" in problem
    assert roles.critical_extensions_problem(cert(False), "dsc") is None  # non-critical: ignored
