"""Which role in the State PKI a certificate may play (ICAO 9303-12 §5, §7.1.1 Table 7).

A verifier must not accept a signature from a certificate that the issuing State issued for
another purpose: a CSCA signing an SOD, a master-list signer signing an SOD, a Document Signer
signing a master list or a CRL. 9303-12 tells the roles apart by three extensions:

=============  =================================  ==================  ==========================
role           KeyUsage (critical, mandatory)     BasicConstraints    ExtendedKeyUsage
=============  =================================  ==================  ==========================
CSCA           keyCertSign, cRLSign               cA TRUE, pathLen 0  absent
Document       digitalSignature                   absent (cA FALSE    absent
Signer                                            tolerated)
master-list    digitalSignature                   as DS               cscaMasterListSigningKey
signer                                                                (2.23.136.1.1.3), critical
=============  =================================  ==================  ==========================

Each function returns ``None`` when the certificate fits the role, else a sentence saying what
does not fit (what a verification check puts in its detail). None of them raises: a certificate
whose extensions cannot be read does not fit any role.
"""

from __future__ import annotations

from typing import Literal

from cryptography import x509

from cardkit.encoding import oids

__all__ = [
    "CLAUSE_ROLES",
    "ICAO_ROLE_PURPOSES",
    "KNOWN_EXTENSIONS",
    "Role",
    "basic_constraints_problem",
    "ca_problem",
    "critical_extensions_problem",
    "extended_key_usage_problem",
    "is_self_issued",
    "key_usage_problem",
]

Role = Literal["dsc", "mls"]

CLAUSE_ROLES = "ICAO 9303-12 §7.1.1 Table 7"

#: Key purposes that mark a certificate for an ICAO role other than Document Signer.
ICAO_ROLE_PURPOSES: dict[str, str] = {
    oids.CSCA_MASTER_LIST_SIGNING_KEY: "master-list signer",
    oids.DEVIATION_LIST_SIGNING_KEY: "deviation-list signer",
}
#: The extensions 9303-12 §7.1.1 Table 7 (and RFC 5280 §4.2) define for State PKI certificates.
KNOWN_EXTENSIONS = frozenset(
    {
        oids.ID_CE_AUTHORITY_KEY_IDENTIFIER,
        oids.ID_CE_SUBJECT_KEY_IDENTIFIER,
        oids.ID_CE_KEY_USAGE,
        oids.ID_CE_PRIVATE_KEY_USAGE_PERIOD,
        oids.ID_CE_SUBJECT_ALT_NAME,
        oids.ID_CE_ISSUER_ALT_NAME,
        oids.ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES,
        oids.ID_CE_BASIC_CONSTRAINTS,
        oids.ID_CE_NAME_CONSTRAINTS,
        oids.ID_CE_CRL_DISTRIBUTION_POINTS,
        oids.ID_CE_CERTIFICATE_POLICIES,
        oids.ID_CE_POLICY_MAPPINGS,
        oids.ID_CE_POLICY_CONSTRAINTS,
        oids.ID_CE_EXT_KEY_USAGE,
        oids.ID_CE_FRESHEST_CRL,
        oids.ID_CE_INHIBIT_ANY_POLICY,
        oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST,
        oids.ICAO_EXTENSIONS_NAME_CHANGE,
    }
)
_ANY_PURPOSE = oids.ANY_EXTENDED_KEY_USAGE  # RFC 5280 §4.2.1.12
_ROLE_NAMES = {"dsc": "Document Signer", "mls": "master-list signer"}


def _extension(
    cert: x509.Certificate, kind: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType] | None:
    """The extension, None when absent; ValueError (from cryptography) when unreadable."""
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def is_self_issued(cert: x509.Certificate) -> bool:
    """Whether subject and issuer are the same name (a CSCA root, RFC 5280 §3.2)."""
    try:
        return cert.subject.public_bytes() == cert.issuer.public_bytes()
    except ValueError:
        return False


def key_usage_problem(cert: x509.Certificate, role: Role) -> str | None:
    """A signer's KeyUsage: present, digitalSignature, neither keyCertSign nor cRLSign."""
    name = _ROLE_NAMES[role]
    try:
        ext = _extension(cert, x509.KeyUsage)
    except ValueError:
        return "the KeyUsage extension cannot be read"
    if ext is None:
        return f"no KeyUsage extension: a {name} certificate must carry digitalSignature"
    usage = ext.value
    assert isinstance(usage, x509.KeyUsage)
    problems = []
    if not usage.digital_signature:
        problems.append("digitalSignature is not set")
    if usage.key_cert_sign:
        problems.append("keyCertSign is set (a CA key)")
    if usage.crl_sign:
        problems.append("cRLSign is set (a CRL issuer key)")
    if problems:
        return f"KeyUsage unfit for a {name}: " + ", ".join(problems)
    return None


def basic_constraints_problem(cert: x509.Certificate, role: Role) -> str | None:
    """A signer's BasicConstraints: absent or cA FALSE."""
    try:
        ext = _extension(cert, x509.BasicConstraints)
    except ValueError:
        return "the BasicConstraints extension cannot be read"
    if ext is not None:
        value = ext.value
        assert isinstance(value, x509.BasicConstraints)
        if value.ca:
            return f"BasicConstraints cA TRUE: a CA certificate cannot act as {_ROLE_NAMES[role]}"
    return None


def extended_key_usage_problem(cert: x509.Certificate, role: Role) -> str | None:
    """A Document Signer carries no key purpose of another ICAO role; a master-list signer
    carries cscaMasterListSigningKey (9303-12 §9: critical)."""
    try:
        ext = _extension(cert, x509.ExtendedKeyUsage)
    except ValueError:
        return "the ExtendedKeyUsage extension cannot be read"
    value = ext.value if ext is not None else None
    purposes = [p.dotted_string for p in value] if isinstance(value, x509.ExtendedKeyUsage) else []
    if role == "mls":
        if ext is None or oids.CSCA_MASTER_LIST_SIGNING_KEY not in purposes:
            return (
                "no ExtendedKeyUsage cscaMasterListSigningKey (2.23.136.1.1.3): "
                "not a master-list signer"
            )
        if not ext.critical:
            return "ExtendedKeyUsage cscaMasterListSigningKey must be critical (9303-12 §9)"
        return None
    others = [f"{ICAO_ROLE_PURPOSES[p]} ({p})" for p in purposes if p in ICAO_ROLE_PURPOSES]
    if _ANY_PURPOSE in purposes:
        others.append(f"any purpose ({_ANY_PURPOSE})")
    if others:
        return "ExtendedKeyUsage marks another role: " + ", ".join(others)
    return None


def critical_extensions_problem(cert: x509.Certificate, role: Role) -> str | None:
    """RFC 5280 §4.2: a certificate with a critical extension the verifier does not recognise
    must be rejected (what it restricts cannot be honoured)."""
    try:
        unknown = sorted(
            ext.oid.dotted_string
            for ext in cert.extensions
            if ext.critical and ext.oid.dotted_string not in KNOWN_EXTENSIONS
        )
    except ValueError:
        return "the extensions cannot be read"
    if unknown:
        return f"unrecognised critical extension(s) {', '.join(unknown)} (RFC 5280 §4.2)"
    return None


def ca_problem(cert: x509.Certificate, *, crl_issuer: bool = False) -> str | None:
    """A CSCA certificate (a trust anchor, or the issuer of a CRL): BasicConstraints cA TRUE and
    KeyUsage keyCertSign (and cRLSign when ``crl_issuer``)."""
    try:
        bc = _extension(cert, x509.BasicConstraints)
        ku = _extension(cert, x509.KeyUsage)
    except ValueError:
        return "its extensions cannot be read"
    bc_value = bc.value if bc is not None else None
    if not isinstance(bc_value, x509.BasicConstraints) or not bc_value.ca:
        return "not a CA certificate (BasicConstraints cA TRUE missing)"
    usage = ku.value if ku is not None else None
    if not isinstance(usage, x509.KeyUsage) or not usage.key_cert_sign:
        return "KeyUsage lacks keyCertSign"
    if crl_issuer and not usage.crl_sign:
        return "KeyUsage lacks cRLSign: this CSCA key may not sign CRLs"
    return None
