"""CSCA, link, Document Signer and master list signer certificates (ICAO 9303-12 §7.1).

Every certificate is encoded here with asn1crypto and only its signature is asked of a
:class:`~cardkit.pki.signer.Signer`, so a CSCA key in an HSM signs exactly what a key file signs.
The result is returned as a ``cryptography`` :class:`~cryptography.x509.Certificate` loaded
from the DER just built.

Profiles (9303-12 §7.1.1, Table 6 certificate body and the extension table that follows it):

================================  =========  =========  =========  =========
extension                          CSCA       link       DS         ML signer
================================  =========  =========  =========  =========
AuthorityKeyIdentifier (keyId)     yes [1]    yes        yes        yes
SubjectKeyIdentifier               yes        yes        yes        yes
KeyUsage, critical                 kCS, cRLS  kCS, cRLS  dS         dS
PrivateKeyUsagePeriod              yes        yes        yes        yes
BasicConstraints, critical         CA, 0      CA, 0      —          —
ExtendedKeyUsage, critical         —          —          —          cscaMLSK
CRLDistributionPoints              if given   if given   if given   if given
DocumentTypeList (2.23.136.1.1.6.2) —         —          yes        —
NameChange (2.23.136.1.1.6.1)      —          if renamed —          —
================================  =========  =========  =========  =========

[1] optional for a self-signed CSCA; cardkit writes it (equal to the SKI) because PKD upload
checks and many verifiers look for it.

Certificates carry named curves, not explicit EC domain parameters, because ``cryptography``
cannot load the latter; :mod:`cardkit.pki.lint` reports that as a warning.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from asn1crypto import core, keys, x509
from cryptography import x509 as cx509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from cardkit.encoding import oids
from cardkit.errors import PkiError
from cardkit.pki import algorithms
from cardkit.pki.names import check_country, country_of, make_name, to_asn1
from cardkit.pki.signer import PublicKey, SignatureScheme, Signer, verify_signature

MAX_SERIAL = 2**159 - 1  # the largest positive INTEGER that fits in 20 octets (RFC 5280 §4.1.2.2)
_UTC_TIME_LIMIT = 2050  # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050


class DocumentTypeListSyntax(core.Sequence):  # type: ignore[misc]
    """9303-12 §7.1.1.3: ``DocumentTypeListSyntax ::= SEQUENCE { version (v0),
    docTypeList SET OF DocumentType }``, ``DocumentType ::= PrintableString (SIZE (1..2))``."""

    class _DocTypes(core.SetOf):  # type: ignore[misc]
        _child_spec = core.PrintableString

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("version", core.Integer),
        ("doc_type_list", _DocTypes),
    ]


# --- Small building blocks -------------------------------------------------------------------


def check_time(value: datetime, what: str) -> datetime:
    """``value`` in UTC with whole seconds; naive datetimes are refused (no silent local time)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise PkiError(f"{what} must be a timezone-aware datetime")
    # RFC 5280 §4.1.2.5.1/2: certificate times carry no fractional seconds.
    return value.astimezone(UTC).replace(microsecond=0)


def encode_time(value: datetime) -> x509.Time:
    """UTCTime for years up to 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)."""
    value = check_time(value, "time")
    if value.year < _UTC_TIME_LIMIT:
        return x509.Time(name="utc_time", value=core.UTCTime(value))
    return x509.Time(name="general_time", value=core.GeneralizedTime(value))


def check_serial(serial: int) -> int:
    """``serial`` if positive and at most 20 octets long (RFC 5280 §4.1.2.2, 9303-12 Table 6)."""
    if isinstance(serial, bool) or not isinstance(serial, int) or not 1 <= serial <= MAX_SERIAL:
        raise PkiError(
            "a certificate serial number must be a positive integer of at most 20 octets"
        )
    return serial


def new_serial_number() -> int:
    """A fresh random serial number: 159 random bits, positive, unique with overwhelming odds."""
    return secrets.randbits(159) | 1 << 152  # never short, never zero


def public_key_info(public_key: PublicKey) -> keys.PublicKeyInfo:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return keys.PublicKeyInfo.load(der)


def key_identifier(public_key: PublicKey) -> bytes:
    """RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value."""
    bits: bytes = public_key_info(public_key)["public_key"].contents[1:]  # drop unused-bits octet
    return hashlib.sha1(bits, usedforsecurity=False).digest()


def subject_key_identifier_of(cert: cx509.Certificate) -> bytes:
    """The SKI a certificate declares, or the RFC 5280 method-1 value when it declares none."""
    try:
        ext = cert.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier)
        return ext.value.digest
    except cx509.ExtensionNotFound:
        return key_identifier(_checked_key(cert.public_key()))


def _checked_key(key: object) -> PublicKey:
    return algorithms.check_public_key(key)


def _extension(oid: str, value: core.Asn1Value | bytes, *, critical: bool) -> x509.Extension:
    return x509.Extension({"extn_id": oid, "critical": critical, "extn_value": value})


def _key_usage(*bits: str) -> x509.Extension:
    return _extension(oids.ID_CE_KEY_USAGE, x509.KeyUsage(set(bits)), critical=True)


def _pkup(not_before: datetime, not_after: datetime) -> x509.Extension:
    value = x509.PrivateKeyUsagePeriod(
        {
            "not_before": core.GeneralizedTime(not_before),
            "not_after": core.GeneralizedTime(not_after),
        }
    )
    return _extension(oids.ID_CE_PRIVATE_KEY_USAGE_PERIOD, value, critical=False)


def _crl_distribution_point(url: str) -> x509.Extension:
    if not url or not url.isascii() or any(c.isspace() for c in url) or ":" not in url:
        raise PkiError("the CRL distribution point must be an ASCII URI (RFC 5280 §4.2.1.13)")
    value = x509.CRLDistributionPoints(
        [
            {
                "distribution_point": {
                    "full_name": [x509.GeneralName(name="uniform_resource_identifier", value=url)]
                }
            }
        ]
    )
    return _extension(oids.ID_CE_CRL_DISTRIBUTION_POINTS, value, critical=False)


def document_type_list(document_types: Sequence[str]) -> bytes:
    """DER of the DocumentTypeList extension value (9303-12 §7.1.1.3)."""
    if isinstance(document_types, str) or not document_types:
        raise PkiError("a Document Signer needs at least one document type (9303-12 §7.1.1.3)")
    for doc_type in document_types:
        if not 1 <= len(doc_type) <= 2 or not all("A" <= c <= "Z" for c in doc_type):
            raise PkiError(
                "document types are the first one or two upper-case letters of the MRZ "
                "document code, e.g. 'P' or 'ID' (9303-12 §7.1.1.3)"
            )
    if len(set(document_types)) != len(document_types):
        raise PkiError("document types must not repeat")
    # DER: SET OF elements in ascending order of their encodings (X.690 §11.6).
    encoded = sorted(core.PrintableString(t).dump() for t in document_types)
    value = DocumentTypeListSyntax(
        {
            "version": 0,
            "doc_type_list": [core.PrintableString.load(e) for e in encoded],
        }
    )
    return bytes(value.dump())


def _check_period(
    not_before: datetime, not_after: datetime, pku_end: datetime
) -> tuple[datetime, datetime, datetime]:
    not_before = check_time(not_before, "not_before")
    not_after = check_time(not_after, "not_after")
    pku_end = check_time(pku_end, "private_key_usage_end")
    if not not_before < not_after:
        raise PkiError("not_before must be earlier than not_after")
    if not not_before <= pku_end <= not_after:
        # 9303-12 §7.1.1: the private key is used only within the certificate's validity.
        raise PkiError("private_key_usage_end must lie within the certificate's validity")
    return not_before, not_after, pku_end


def same_public_key(a: PublicKey, b: object) -> bool:
    """Whether ``b`` is the same public key as ``a`` (compared by SubjectPublicKeyInfo)."""
    if not isinstance(b, type(a)) and not isinstance(a, type(b)):
        return False
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(serialization.Encoding.DER, fmt) == _checked_key(b).public_bytes(
        serialization.Encoding.DER, fmt
    )


def sign_certificate(
    signer: Signer,
    scheme: SignatureScheme,
    *,
    issuer: x509.Name,
    subject: x509.Name,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    subject_public_key: PublicKey,
    extensions: Sequence[x509.Extension],
) -> cx509.Certificate:
    """Encode a v3 TBSCertificate, have ``signer`` sign it, and load the result."""
    algorithm = algorithms.signature_algorithm(_checked_key(signer.public_key()), scheme)
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": check_serial(serial),
            "signature": algorithm,
            "issuer": issuer,
            "validity": {
                "not_before": encode_time(not_before),
                "not_after": encode_time(not_after),
            },
            "subject": subject,
            "subject_public_key_info": public_key_info(_checked_key(subject_public_key)),
            "extensions": list(extensions),
        }
    )
    tbs_der = tbs.dump()
    signature = signer.sign(tbs_der, scheme)
    if not verify_signature(signer.public_key(), signature, tbs_der, scheme):
        raise PkiError(f"the signature made by key {signer.key_id!r} does not verify")
    certificate = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return cx509.load_der_x509_certificate(certificate.dump())


def _ca_extensions(
    subject_key: PublicKey, authority_key_id: bytes, not_before: datetime, pku_end: datetime
) -> list[x509.Extension]:
    return [
        _extension(
            oids.ID_CE_AUTHORITY_KEY_IDENTIFIER,
            x509.AuthorityKeyIdentifier({"key_identifier": authority_key_id}),
            critical=False,
        ),
        _extension(
            oids.ID_CE_SUBJECT_KEY_IDENTIFIER,
            core.OctetString(key_identifier(subject_key)),
            critical=False,
        ),
        _key_usage("key_cert_sign", "crl_sign"),
        _pkup(not_before, pku_end),
        _extension(
            oids.ID_CE_BASIC_CONSTRAINTS,
            x509.BasicConstraints({"ca": True, "path_len_constraint": 0}),
            critical=True,
        ),
    ]


# --- The certificate types -------------------------------------------------------------------


def create_csca(
    signer: Signer,
    *,
    country: str,
    common_name: str,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    private_key_usage_end: datetime,
    scheme: SignatureScheme,
    organization: str | None = None,
    crl_distribution_point: str | None = None,
) -> cx509.Certificate:
    """A self-signed CSCA certificate (9303-12 §7.1.1; CA, pathLen 0, keyCertSign + cRLSign)."""
    not_before, not_after, pku_end = _check_period(not_before, not_after, private_key_usage_end)
    public_key = _checked_key(signer.public_key())
    name = make_name(country, organization, common_name)
    extensions = _ca_extensions(public_key, key_identifier(public_key), not_before, pku_end)
    if crl_distribution_point is not None:
        extensions.append(_crl_distribution_point(crl_distribution_point))
    return sign_certificate(
        signer,
        scheme,
        issuer=name,
        subject=name,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        subject_public_key=public_key,
        extensions=extensions,
    )


def check_ca_signer(ca_signer: Signer, ca_cert: cx509.Certificate) -> None:
    """PkiError unless ``ca_signer`` holds the key of ``ca_cert`` and ``ca_cert`` is a CA."""
    if not same_public_key(_checked_key(ca_signer.public_key()), ca_cert.public_key()):
        raise PkiError(f"key {ca_signer.key_id!r} is not the key of the CA certificate given")
    try:
        bc = ca_cert.extensions.get_extension_for_class(cx509.BasicConstraints).value
    except cx509.ExtensionNotFound:
        bc = None
    if bc is None or not bc.ca:
        raise PkiError("the issuing certificate is not a CA certificate (BasicConstraints)")


def _check_within_ca(ca_cert: cx509.Certificate, not_before: datetime, not_after: datetime) -> None:
    """The issued validity must sit inside the CA's, and issuance inside the CA's PKUP."""
    if not_before < ca_cert.not_valid_before_utc or not_after > ca_cert.not_valid_after_utc:
        raise PkiError("the certificate's validity must lie within the CSCA certificate's")
    try:
        pkup = ca_cert.extensions.get_extension_for_oid(
            cx509.ObjectIdentifier(oids.ID_CE_PRIVATE_KEY_USAGE_PERIOD)
        )
    except cx509.ExtensionNotFound:
        return
    end = _pkup_end(pkup.value)
    if end is not None and not_before > end:
        raise PkiError("the CSCA private key usage period ends before the certificate starts")


def _pkup_end(value: object) -> datetime | None:
    """The notAfter of a PrivateKeyUsagePeriod as ``cryptography`` parsed it (naive = UTC)."""
    if isinstance(value, cx509.PrivateKeyUsagePeriod) and value.not_after is not None:
        end = value.not_after
        return end if end.tzinfo else end.replace(tzinfo=UTC)
    return None


def _issued_extensions(
    ca_cert: cx509.Certificate,
    subject_key: PublicKey,
    key_usage: str,
    not_before: datetime,
    pku_end: datetime,
) -> list[x509.Extension]:
    return [
        _extension(
            oids.ID_CE_AUTHORITY_KEY_IDENTIFIER,
            x509.AuthorityKeyIdentifier({"key_identifier": subject_key_identifier_of(ca_cert)}),
            critical=False,
        ),
        _extension(
            oids.ID_CE_SUBJECT_KEY_IDENTIFIER,
            core.OctetString(key_identifier(subject_key)),
            critical=False,
        ),
        _key_usage(key_usage),
        _pkup(not_before, pku_end),
    ]


def _issuer_country(ca_cert: cx509.Certificate) -> str:
    country = country_of(ca_cert.subject)
    if country is None:
        raise PkiError("the CSCA certificate's subject has no single country (9303-12 Table 6)")
    return check_country(country)


def issue_dsc(
    ca_signer: Signer,
    ca_cert: cx509.Certificate,
    subject_public_key: PublicKey,
    *,
    common_name: str,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    private_key_usage_end: datetime,
    document_types: Sequence[str] = ("ID",),
    scheme: SignatureScheme,
    crl_distribution_point: str | None = None,
    organization: str | None = None,
) -> cx509.Certificate:
    """A Document Signer certificate (9303-12 §7.1.1): digitalSignature, DocumentTypeList.

    The subject's country is the CSCA's (Table 6: the DS country equals the issuer's).
    """
    check_ca_signer(ca_signer, ca_cert)
    not_before, not_after, pku_end = _check_period(not_before, not_after, private_key_usage_end)
    _check_within_ca(ca_cert, not_before, not_after)
    key = _checked_key(subject_public_key)
    extensions = _issued_extensions(ca_cert, key, "digital_signature", not_before, pku_end)
    if crl_distribution_point is not None:
        extensions.append(_crl_distribution_point(crl_distribution_point))
    extensions.append(
        _extension(
            oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST,
            document_type_list(document_types),
            critical=False,
        )
    )
    return sign_certificate(
        ca_signer,
        scheme,
        issuer=to_asn1(ca_cert.subject),
        subject=make_name(_issuer_country(ca_cert), organization, common_name),
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        subject_public_key=key,
        extensions=extensions,
    )


def issue_master_list_signer(
    ca_signer: Signer,
    ca_cert: cx509.Certificate,
    subject_public_key: PublicKey,
    *,
    common_name: str,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    private_key_usage_end: datetime,
    scheme: SignatureScheme,
    organization: str | None = None,
) -> cx509.Certificate:
    """A master list signer certificate (9303-12 §7.1.1, §9): digitalSignature and the critical
    ExtendedKeyUsage id-icao-mrtd-security-cscaMasterListSigningKey (2.23.136.1.1.3)."""
    check_ca_signer(ca_signer, ca_cert)
    not_before, not_after, pku_end = _check_period(not_before, not_after, private_key_usage_end)
    _check_within_ca(ca_cert, not_before, not_after)
    key = _checked_key(subject_public_key)
    extensions = _issued_extensions(ca_cert, key, "digital_signature", not_before, pku_end)
    extensions.append(
        _extension(
            oids.ID_CE_EXT_KEY_USAGE,
            x509.ExtKeyUsageSyntax([oids.CSCA_MASTER_LIST_SIGNING_KEY]),
            critical=True,
        )
    )
    return sign_certificate(
        ca_signer,
        scheme,
        issuer=to_asn1(ca_cert.subject),
        subject=make_name(_issuer_country(ca_cert), organization, common_name),
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        subject_public_key=key,
        extensions=extensions,
    )


def issue_link_certificate(
    old_signer: Signer,
    old_cert: cx509.Certificate,
    new_cert: cx509.Certificate,
    *,
    serial: int,
    scheme: SignatureScheme,
) -> cx509.Certificate:
    """A CSCA link certificate (9303-12 §5.5.1, §7.1.1): the new CSCA's name and key, signed by
    the old CSCA key, so verifiers that trust the old CSCA can reach the new one.

    Validity and private key usage period are the new CSCA certificate's. When the new CSCA's
    name differs from the old one, the NameChange extension (2.23.136.1.1.6.1) is added.
    """
    check_ca_signer(old_signer, old_cert)
    if country_of(new_cert.subject) != country_of(old_cert.subject):
        raise PkiError("a link certificate cannot change the CSCA's country")
    new_key = _checked_key(new_cert.public_key())
    not_before = new_cert.not_valid_before_utc
    not_after = new_cert.not_valid_after_utc
    pku_end = not_after
    try:
        ext = new_cert.extensions.get_extension_for_oid(
            cx509.ObjectIdentifier(oids.ID_CE_PRIVATE_KEY_USAGE_PERIOD)
        )
        pku_end = _pkup_end(ext.value) or not_after
    except cx509.ExtensionNotFound:
        pass
    not_before, not_after, pku_end = _check_period(not_before, not_after, pku_end)
    extensions = _ca_extensions(new_key, subject_key_identifier_of(old_cert), not_before, pku_end)
    if new_cert.subject != old_cert.subject:
        extensions.append(
            _extension(oids.ICAO_EXTENSIONS_NAME_CHANGE, core.Null().dump(), critical=False)
        )
    return sign_certificate(
        old_signer,
        scheme,
        issuer=to_asn1(old_cert.subject),
        subject=to_asn1(new_cert.subject),
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        subject_public_key=new_key,
        extensions=extensions,
    )


# --- Checking issuance -----------------------------------------------------------------------


def is_issued_by(cert: cx509.Certificate, issuer: cx509.Certificate) -> bool:
    """Whether ``issuer``'s subject is ``cert``'s issuer and ``issuer``'s key signed ``cert``."""
    try:
        if cert.issuer != issuer.subject:
            return False
        tbs_alg = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))[
            "signature_algorithm"
        ]
        scheme = algorithms.scheme_from_algorithm(tbs_alg)
        key = _checked_key(issuer.public_key())
    except (PkiError, ValueError, UnsupportedAlgorithm):
        return False
    return verify_signature(key, cert.signature, cert.tbs_certificate_bytes, scheme)
