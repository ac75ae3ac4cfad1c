"""An in-memory test PKI shared by the tests: a CSCA, Document Signers and a transport key.

Keys live in memory only (nothing is written, no scrypt), so a module can make one in
milliseconds. The tests import it as ``testpki`` (pyproject's pytest ``pythonpath``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cardkit.pki import certs
from cardkit.pki.keystore.transport import FileTransportKey
from cardkit.pki.signer import LocalSigner, SignatureScheme
from cardkit.pki.trust import TrustStore
from cardkit.services.prepare import Issuer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCHEME = SignatureScheme("sha256")


def make_csca(common_name: str, country: str = "VN") -> tuple[LocalSigner, x509.Certificate]:
    signer = LocalSigner(ec.generate_private_key(ec.SECP384R1()), "csca")
    cert = certs.create_csca(
        signer,
        country=country,
        common_name=common_name,
        serial=certs.new_serial_number(),
        not_before=T0,
        not_after=T0 + timedelta(days=6000),
        private_key_usage_end=T0 + timedelta(days=1000),
        scheme=SCHEME,
    )
    return signer, cert


def make_dsc(
    csca_signer: LocalSigner,
    csca: x509.Certificate,
    common_name: str,
    *,
    not_after: datetime | None = None,
    key_id: str = "file:dsc.key.pem",
) -> tuple[LocalSigner, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = not_after or T0 + timedelta(days=5000)
    cert = certs.issue_dsc(
        csca_signer,
        csca,
        key.public_key(),
        common_name=common_name,
        serial=certs.new_serial_number(),
        not_before=T0,
        not_after=not_after,
        private_key_usage_end=min(not_after, T0 + timedelta(days=365)),
        scheme=SCHEME,
    )
    return LocalSigner(key, key_id), cert


def transport_key(key_id: str = "tk-0123456789abcdef") -> FileTransportKey:
    return FileTransportKey(key_id, AESGCM(os.urandom(32)))


@dataclass
class TestIssuer:
    """What a preparation station holds, and what a verifier trusts."""

    __test__ = False  # not a test class

    csca: x509.Certificate
    issuer: Issuer
    transport: FileTransportKey
    trust: TrustStore


def in_memory_issuer(label: str, transport_id: str = "tk-0123456789abcdef") -> TestIssuer:
    """A CSCA "CSCA VN <label>", a P-256 Document Signer "DS VN <label>", a transport key."""
    csca_signer, csca = make_csca(f"CSCA VN {label}")
    dsc_signer, dsc = make_dsc(csca_signer, csca, f"DS VN {label}")
    transport = transport_key(transport_id)
    return TestIssuer(
        csca, Issuer(dsc_signer, dsc, transport, SCHEME), transport, TrustStore((csca,))
    )
