"""Certificate revocation lists of a CSCA (ICAO 9303-12 §7.1.3, RFC 5280 §5).

The 9303-12 CRL profile: version v2; the issuer is the CSCA's subject; thisUpdate and nextUpdate
are both present; revokedCertificates is absent when nothing is revoked; the CRL extensions are
AuthorityKeyIdentifier (keyIdentifier) and CRLNumber, both mandatory and non-critical, while
DeltaCRLIndicator, IssuingDistributionPoint and FreshestCRL are forbidden (full CRLs only). The
only entry extension cardkit writes is the non-critical reasonCode, omitted for "unspecified"
as RFC 5280 §5.3.1 recommends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from asn1crypto import crl as acrl
from asn1crypto import x509
from cryptography import x509 as cx509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from cardkit.errors import PkiError
from cardkit.pki import algorithms
from cardkit.pki.certs import (
    check_ca_signer,
    check_serial,
    check_time,
    encode_time,
    subject_key_identifier_of,
)
from cardkit.pki.names import to_asn1
from cardkit.pki.signer import SignatureScheme, Signer, verify_signature

#: RFC 5280 §5.3.1 reason codes, spelled as there (value 7 is unused).
Reason = Literal[
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "removeFromCRL",
    "privilegeWithdrawn",
    "aACompromise",
]
REASONS: tuple[Reason, ...] = get_args(Reason)
_ASN1_REASON: dict[str, str] = {
    "unspecified": "unspecified",
    "keyCompromise": "key_compromise",
    "cACompromise": "ca_compromise",
    "affiliationChanged": "affiliation_changed",
    "superseded": "superseded",
    "cessationOfOperation": "cessation_of_operation",
    "certificateHold": "certificate_hold",
    "removeFromCRL": "remove_from_crl",
    "privilegeWithdrawn": "privilege_withdrawn",
    "aACompromise": "aa_compromise",
}
_FROM_CRYPTOGRAPHY: dict[cx509.ReasonFlags, Reason] = {
    cx509.ReasonFlags.unspecified: "unspecified",
    cx509.ReasonFlags.key_compromise: "keyCompromise",
    cx509.ReasonFlags.ca_compromise: "cACompromise",
    cx509.ReasonFlags.affiliation_changed: "affiliationChanged",
    cx509.ReasonFlags.superseded: "superseded",
    cx509.ReasonFlags.cessation_of_operation: "cessationOfOperation",
    cx509.ReasonFlags.certificate_hold: "certificateHold",
    cx509.ReasonFlags.remove_from_crl: "removeFromCRL",
    cx509.ReasonFlags.privilege_withdrawn: "privilegeWithdrawn",
    cx509.ReasonFlags.aa_compromise: "aACompromise",
}


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked certificate: its serial number, when it was revoked, and why (if stated)."""

    serial: int
    revocation_date: datetime
    reason: Reason | None = None

    def __post_init__(self) -> None:
        check_serial(self.serial)
        object.__setattr__(
            self, "revocation_date", check_time(self.revocation_date, "revocation_date")
        )
        if self.reason is not None and self.reason not in REASONS:
            raise PkiError(f"unknown revocation reason {self.reason!r} (RFC 5280 §5.3.1)")


def _revoked(entry: RevokedEntry) -> acrl.RevokedCertificate:
    value: dict[str, object] = {
        "user_certificate": entry.serial,
        "revocation_date": encode_time(entry.revocation_date),
    }
    if entry.reason is not None and entry.reason != "unspecified":
        value["crl_entry_extensions"] = [
            {
                "extn_id": "crl_reason",
                "critical": False,
                "extn_value": acrl.CRLReason(_ASN1_REASON[entry.reason]),
            }
        ]
    return acrl.RevokedCertificate(value)


def issue_crl(
    ca_signer: Signer,
    ca_cert: cx509.Certificate,
    revoked: Sequence[RevokedEntry],
    *,
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    scheme: SignatureScheme,
) -> cx509.CertificateRevocationList:
    """A full v2 CRL of ``ca_cert``'s CSCA, signed by ``ca_signer`` (9303-12 §7.1.3)."""
    check_ca_signer(ca_signer, ca_cert)
    this_update = check_time(this_update, "this_update")
    next_update = check_time(next_update, "next_update")
    if not this_update < next_update:
        raise PkiError("this_update must be earlier than next_update")
    if isinstance(crl_number, bool) or not 0 <= crl_number <= 2**159 - 1:
        raise PkiError("the CRL number must be a non-negative integer of at most 20 octets")
    serials = [e.serial for e in revoked]
    if len(set(serials)) != len(serials):
        raise PkiError("a serial number is listed twice in the CRL")
    algorithm = algorithms.signature_algorithm(
        algorithms.check_public_key(ca_signer.public_key()), scheme
    )
    tbs_value: dict[str, object] = {
        "version": "v2",
        "signature": algorithm,
        "issuer": to_asn1(ca_cert.subject),
        "this_update": encode_time(this_update),
        "next_update": encode_time(next_update),
        "crl_extensions": [
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": x509.AuthorityKeyIdentifier(
                    {"key_identifier": subject_key_identifier_of(ca_cert)}
                ),
            },
            {"extn_id": "crl_number", "critical": False, "extn_value": crl_number},
        ],
    }
    if revoked:  # RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked
        tbs_value["revoked_certificates"] = [_revoked(e) for e in revoked]
    tbs = acrl.TbsCertList(tbs_value)
    tbs_der = tbs.dump()
    signature = ca_signer.sign(tbs_der, scheme)
    if not verify_signature(ca_signer.public_key(), signature, tbs_der, scheme):
        raise PkiError(f"the signature made by key {ca_signer.key_id!r} does not verify")
    certificate_list = acrl.CertificateList(
        {"tbs_cert_list": tbs, "signature_algorithm": algorithm, "signature": signature}
    )
    return cx509.load_der_x509_crl(certificate_list.dump())


def crl_is_signed_by(crl: cx509.CertificateRevocationList, ca_cert: cx509.Certificate) -> bool:
    """Whether ``crl`` names ``ca_cert``'s subject as issuer and ``ca_cert``'s key signed it."""
    if crl.issuer != ca_cert.subject:
        return False
    try:
        parsed = acrl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))
        scheme = algorithms.scheme_from_algorithm(parsed["signature_algorithm"])
        key = algorithms.check_public_key(ca_cert.public_key())
    except (PkiError, ValueError, UnsupportedAlgorithm):
        return False
    return verify_signature(key, crl.signature, crl.tbs_certlist_bytes, scheme)


def revocation_of(
    crl: cx509.CertificateRevocationList, cert: cx509.Certificate
) -> RevokedEntry | None:
    """The CRL entry revoking ``cert``, or None. Only a CRL of ``cert``'s issuer can revoke it."""
    if crl.issuer != cert.issuer:
        return None
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is None:
        return None
    reason: Reason | None = None
    try:
        flag = entry.extensions.get_extension_for_class(cx509.CRLReason).value.reason
        reason = _FROM_CRYPTOGRAPHY.get(flag)
    except cx509.ExtensionNotFound:
        pass
    return RevokedEntry(cert.serial_number, entry.revocation_date_utc, reason)
