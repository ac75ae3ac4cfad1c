"""Tests for cardkit.pki.crl: CRLs verify with OpenSSL, lookups, reasons, validation."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import crl as acrl
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.errors import PkiError
from cardkit.pki.algorithms import generate_private_key
from cardkit.pki.certs import create_csca, issue_dsc
from cardkit.pki.crl import REASONS, RevokedEntry, crl_is_signed_by, issue_crl, revocation_of
from cardkit.pki.signer import LocalSigner, SignatureScheme

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        unavailable("openssl not installed")
    return path


@pytest.fixture(scope="module")
def keys() -> dict[str, LocalSigner]:
    return {
        s: LocalSigner(generate_private_key(s), s)
        for s in ("ec:secp256r1", "ec:brainpoolP384r1", "rsa:2048")
    }


def csca_of(signer: LocalSigner, scheme: SignatureScheme, cn: str = "CSCA VN") -> cx509.Certificate:
    return create_csca(
        signer,
        country="VN",
        common_name=cn,
        serial=1,
        not_before=T0,
        not_after=datetime(2040, 1, 1, tzinfo=UTC),
        private_key_usage_end=datetime(2030, 1, 1, tzinfo=UTC),
        scheme=scheme,
    )


def crl_of(
    signer: LocalSigner,
    csca: cx509.Certificate,
    revoked: list[RevokedEntry],
    scheme: SignatureScheme,
    number: int = 1,
) -> cx509.CertificateRevocationList:
    return issue_crl(
        signer,
        csca,
        revoked,
        crl_number=number,
        this_update=T0 + timedelta(days=30),
        next_update=datetime(2039, 1, 1, tzinfo=UTC),
        scheme=scheme,
    )


SCHEMES = [
    ("ec:secp256r1", SignatureScheme("sha256")),
    ("ec:brainpoolP384r1", SignatureScheme("sha384")),
    ("rsa:2048", SignatureScheme("sha256", "pss")),
    ("rsa:2048", SignatureScheme("sha512", "pkcs1v15")),
]


@pytest.mark.parametrize(("spec", "scheme"), SCHEMES, ids=str)
def test_crl_verifies_with_openssl(
    tmp_path: Path, keys: dict[str, LocalSigner], spec: str, scheme: SignatureScheme
) -> None:
    csca = csca_of(keys[spec], scheme)
    revoked = [RevokedEntry(5, T0 + timedelta(days=3), "keyCompromise"), RevokedEntry(6, T0)]
    crl = crl_of(keys[spec], csca, revoked, scheme, number=42)
    (tmp_path / "ca.pem").write_bytes(csca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        [
            openssl(),
            "crl",
            "-in",
            str(tmp_path / "crl.pem"),
            "-CAfile",
            str(tmp_path / "ca.pem"),
            "-noout",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "verify OK" in result.stdout + result.stderr
    assert crl_is_signed_by(crl, csca)
    # The 9303-12 CRL profile: v2, AKI = CSCA SKI, CRL number.
    parsed = acrl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))
    assert parsed["tbs_cert_list"]["version"].native == "v2"
    assert crl.extensions.get_extension_for_class(cx509.CRLNumber).value.crl_number == 42
    aki = crl.extensions.get_extension_for_class(cx509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == csca.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier).value.digest


def test_signed_by_other_ca_is_false(keys: dict[str, LocalSigner]) -> None:
    a = csca_of(keys["ec:secp256r1"], SignatureScheme())
    b = csca_of(keys["rsa:2048"], SignatureScheme())
    crl = crl_of(keys["ec:secp256r1"], a, [], SignatureScheme())
    assert crl_is_signed_by(crl, a)
    assert not crl_is_signed_by(crl, b)  # same name, other key
    c = csca_of(keys["ec:brainpoolP384r1"], SignatureScheme(), cn="Other")
    assert not crl_is_signed_by(crl, c)


def test_empty_crl_has_no_revoked_list(keys: dict[str, LocalSigner]) -> None:
    csca = csca_of(keys["ec:secp256r1"], SignatureScheme())
    crl = crl_of(keys["ec:secp256r1"], csca, [], SignatureScheme())
    parsed = acrl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))
    # RFC 5280 §5.1.2.6 / 9303-12: absent, not an empty SEQUENCE.
    assert parsed["tbs_cert_list"]["revoked_certificates"].native is None
    assert len(crl) == 0


def test_revocation_of(keys: dict[str, LocalSigner]) -> None:
    ca = keys["ec:secp256r1"]
    csca = csca_of(ca, SignatureScheme())
    dscs = [
        issue_dsc(
            ca,
            csca,
            keys["rsa:2048"].public_key(),
            common_name=f"DS {i}",
            serial=100 + i,
            not_before=T0,
            not_after=datetime(2035, 1, 1, tzinfo=UTC),
            private_key_usage_end=datetime(2025, 1, 1, tzinfo=UTC),
            scheme=SignatureScheme(),
        )
        for i in range(2)
    ]
    entry = RevokedEntry(100, T0 + timedelta(days=2), "superseded")
    crl = crl_of(ca, csca, [entry], SignatureScheme())
    assert revocation_of(crl, dscs[0]) == entry
    assert revocation_of(crl, dscs[1]) is None
    other = csca_of(keys["rsa:2048"], SignatureScheme(), cn="Elsewhere")
    crl_other = crl_of(keys["rsa:2048"], other, [entry], SignatureScheme())
    assert revocation_of(crl_other, dscs[0]) is None  # another issuer's CRL cannot revoke it


@settings(max_examples=30)
@given(
    st.lists(
        st.tuples(st.integers(1, 2**64), st.sampled_from([None, *REASONS]), st.integers(0, 10**8)),
        max_size=5,
        unique_by=lambda t: t[0],
    )
)
def test_entries_round_trip(entries: list[tuple[int, str | None, int]]) -> None:
    revoked = [RevokedEntry(s, T0 + timedelta(seconds=d), r) for s, r, d in entries]  # type: ignore[arg-type]
    crl = crl_of(_SIGNER, _CSCA, revoked, SignatureScheme())
    assert len(crl) == len(revoked)
    for e in revoked:
        got = crl.get_revoked_certificate_by_serial_number(e.serial)
        assert got is not None and got.revocation_date_utc == e.revocation_date
        reasons = [
            x.value.reason.name for x in got.extensions if isinstance(x.value, cx509.CRLReason)
        ]
        # "unspecified" is written as no reasonCode at all (RFC 5280 §5.3.1).
        assert len(reasons) == (0 if e.reason in (None, "unspecified") else 1)


_SIGNER = LocalSigner(generate_private_key("ec:secp256r1"), "crl")
_CSCA = csca_of(_SIGNER, SignatureScheme())


def test_rejects() -> None:
    with pytest.raises(PkiError):
        RevokedEntry(0, T0)
    with pytest.raises(PkiError):
        RevokedEntry(1, datetime(2024, 1, 1))
    with pytest.raises(PkiError):
        RevokedEntry(1, T0, "bogus")  # type: ignore[arg-type]
    with pytest.raises(PkiError, match="twice"):
        crl_of(_SIGNER, _CSCA, [RevokedEntry(1, T0), RevokedEntry(1, T0)], SignatureScheme())
    with pytest.raises(PkiError, match="CRL number"):
        crl_of(_SIGNER, _CSCA, [], SignatureScheme(), number=-1)
    with pytest.raises(PkiError, match="earlier"):
        issue_crl(
            _SIGNER,
            _CSCA,
            [],
            crl_number=1,
            this_update=T0,
            next_update=T0,
            scheme=SignatureScheme(),
        )
    other = LocalSigner(generate_private_key("ec:secp256r1"), "other")
    with pytest.raises(PkiError, match="not the key"):
        crl_of(other, _CSCA, [], SignatureScheme())
