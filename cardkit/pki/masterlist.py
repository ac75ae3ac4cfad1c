"""CSCA master lists (ICAO 9303-12 §9): build, read and verify.

A master list is a CMS SignedData (RFC 5652) wrapped in a ContentInfo whose encapsulated
content has type ``id-icao-mrtd-security-cscaMasterList`` (2.23.136.1.1.2) and holds::

    CscaMasterList ::= SEQUENCE {
        version   CscaMasterListVersion,   -- v0
        certList  SET OF Certificate }

The single SignerInfo carries the signed attributes content-type, message-digest and
signing-time and is made by a master list signer, whose certificate (issued by a CSCA, with the
critical ExtendedKeyUsage 2.23.136.1.1.3) is embedded in SignedData.certificates. The published
lists (the German BSI list, which carries Vietnam's CSCA, or the ICAO PKD list) have this form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import algos, cms, core, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization

from cardkit.encoding import oids
from cardkit.encoding.asn1 import asn1_errors
from cardkit.errors import EncodingError, PkiError
from cardkit.pki import algorithms, roles
from cardkit.pki.certs import check_time, encode_time, is_issued_by, same_public_key
from cardkit.pki.signer import SignatureScheme, Signer, verify_signature
from cardkit.pki.trust import load_der_certificate, public_key_of


class _CertList(core.SetOf):  # type: ignore[misc]
    _child_spec = x509.Certificate


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    """9303-12 §9: ``CscaMasterList ::= SEQUENCE { version (v0), certList SET OF Certificate }``."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("version", core.Integer),
        ("cert_list", _CertList),
    ]


def _der(cert: cx509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _set_of_der(items: Iterable[bytes]) -> list[bytes]:
    """DER SET OF: the elements in ascending order of their encodings (X.690 §11.6)."""
    return sorted(items)


def create_master_list(
    signer: Signer,
    signer_cert: cx509.Certificate,
    csca_certs: Sequence[cx509.Certificate],
    *,
    signing_time: datetime,
    scheme: SignatureScheme,
) -> bytes:
    """The DER ContentInfo of a master list of ``csca_certs`` signed by ``signer`` (9303-12 §9)."""
    if not same_public_key(
        algorithms.check_public_key(signer.public_key()), signer_cert.public_key()
    ):
        raise PkiError(
            f"key {signer.key_id!r} is not the key of the master list signer certificate"
        )
    if not csca_certs:
        raise PkiError("a master list needs at least one CSCA certificate")
    signing_time = check_time(signing_time, "signing_time")
    x509_time = encode_time(signing_time)  # UTCTime to 2049 (RFC 5652 §11.3)
    cms_time = cms.Time(name=x509_time.name, value=x509_time.chosen)
    unique = {_der(c) for c in csca_certs}  # a SET: each certificate once
    content = CscaMasterList(
        {"version": 0, "cert_list": [x509.Certificate.load(d) for d in _set_of_der(unique)]}
    )
    econtent = content.dump()
    digest = hashlib.new(scheme.hash, econtent).digest()

    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": [oids.CSCA_MASTER_LIST]}),
        cms.CMSAttribute(
            {"type": "signing_time", "values": [cms_time]},
        ),
        cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
    ]
    # RFC 5652 §5.4: the signature covers the DER SET OF signed attributes (tag 31).
    signed_attrs = cms.CMSAttributes(
        [cms.CMSAttribute.load(d) for d in _set_of_der(a.dump() for a in attributes)]
    )
    signed_der = signed_attrs.dump()
    signature = signer.sign(signed_der, scheme)
    if not verify_signature(signer.public_key(), signature, signed_der, scheme):
        raise PkiError(f"the signature made by key {signer.key_id!r} does not verify")

    asn1_signer_cert = x509.Certificate.load(_der(signer_cert))
    digest_algorithm = algos.DigestAlgorithm({"algorithm": oids.HASH_OIDS[scheme.hash]})
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {
                        "issuer": asn1_signer_cert.issuer,
                        "serial_number": asn1_signer_cert.serial_number,
                    }
                ),
            ),
            "digest_algorithm": digest_algorithm,
            "signed_attrs": signed_attrs,
            "signature_algorithm": algorithms.signature_algorithm(
                algorithms.check_public_key(signer.public_key()), scheme
            ),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            # RFC 5652 §5.1: version 3 because the eContentType is not id-data.
            "version": "v3",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {
                "content_type": oids.CSCA_MASTER_LIST,
                "content": core.ParsableOctetString(econtent),
            },
            "certificates": [cms.CertificateChoices(name="certificate", value=asn1_signer_cert)],
            "signer_infos": [signer_info],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return bytes(info.dump())


@dataclass(frozen=True)
class MasterList:
    """A decoded master list. Reading checks structure only; :func:`verify_master_list` checks
    the signature and the trust chain."""

    certificates: tuple[cx509.Certificate, ...]
    signer_certificate: cx509.Certificate | None
    signing_time: datetime | None
    raw: bytes = field(repr=False, compare=True)
    # What verification needs, kept as read:
    content_type: str = field(repr=False, compare=False, default="")
    econtent: bytes = field(repr=False, compare=False, default=b"")
    signed_attributes: bytes = field(repr=False, compare=False, default=b"")
    attribute_content_type: str | None = field(repr=False, compare=False, default=None)
    message_digest: bytes | None = field(repr=False, compare=False, default=None)
    digest_algorithm: str = field(repr=False, compare=False, default="")
    signature_algorithm: bytes = field(repr=False, compare=False, default=b"")
    signature: bytes = field(repr=False, compare=False, default=b"")

    @classmethod
    def from_bytes(cls, data: bytes) -> MasterList:
        return read_master_list(data)

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        """A JSON-serialisable summary."""
        return {
            "certificates": len(self.certificates),
            "countries": sorted(
                {
                    str(a.value)
                    for c in self.certificates
                    for a in c.subject.get_attributes_for_oid(cx509.NameOID.COUNTRY_NAME)
                }
            ),
            "signer": self.signer_certificate.subject.rfc4514_string()
            if self.signer_certificate
            else None,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
        }


def _load_certificate(der: bytes, what: str) -> cx509.Certificate:
    """One certificate of the master list, every field decoded now (cryptography decodes most
    lazily: :func:`cardkit.pki.trust.check_certificate`); PkiError saying which is malformed."""
    return load_der_certificate(der, f"master list: {what}")


def read_master_list(data: bytes) -> MasterList:
    """Decode a DER ContentInfo master list (9303-12 §9), every certificate in it parsed
    completely. A malformed master list is a :class:`PkiError` (never another exception: the
    asn1crypto and cryptography errors are wrapped); the structure only is checked here."""
    try:
        return _read_master_list(data)
    except EncodingError as exc:  # on one line: asn1crypto's messages span several
        raise PkiError(" ".join(str(exc).split())) from exc


def _read_master_list(data: bytes) -> MasterList:
    if not isinstance(data, bytes | bytearray) or not data:
        raise EncodingError("master list: no data")
    data = bytes(data)
    with asn1_errors("master list"):
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].dotted != oids.CMS_SIGNED_DATA:
            raise EncodingError("master list: the ContentInfo is not a CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        content_type = encap["content_type"].dotted
        econtent_value = encap["content"]
        if not isinstance(econtent_value, core.OctetString | core.ParsableOctetString):
            raise EncodingError("master list: the SignedData has no encapsulated content")
        econtent = bytes(econtent_value.contents)
        parsed = CscaMasterList.load(econtent, strict=True)
        if parsed["version"].native != 0:
            raise EncodingError("master list: CscaMasterList version must be v0 (9303-12 §9)")
        cert_ders = [bytes(c.dump()) for c in parsed["cert_list"]]
        embedded = [
            bytes(c.chosen.dump())
            for c in (signed["certificates"] or [])
            if c.name == "certificate"
        ]
        infos = list(signed["signer_infos"])
        if len(infos) != 1:
            raise EncodingError("master list: expected exactly one SignerInfo")
        signer_info = infos[0]
        sid = signer_info["sid"]
        signed_attrs = signer_info["signed_attrs"]
        if not isinstance(signed_attrs, cms.CMSAttributes) or not len(signed_attrs):
            raise EncodingError("master list: the SignerInfo has no signed attributes")
        attrs_der = cms.CMSAttributes.load(signed_attrs.untag().dump()).dump()
        attribute_content_type = None
        message_digest = None
        signing_time = None
        for attribute in signed_attrs:
            kind = attribute["type"].dotted
            values = list(attribute["values"])
            if len(values) != 1:
                raise EncodingError("master list: a signed attribute must have one value")
            if kind == oids.CMS_CONTENT_TYPE:
                attribute_content_type = values[0].dotted
            elif kind == oids.CMS_MESSAGE_DIGEST:
                message_digest = bytes(values[0].native)
            elif kind == oids.CMS_SIGNING_TIME:
                signing_time = values[0].native
        digest_algorithm = signer_info["digest_algorithm"]["algorithm"].dotted
        signature_algorithm = bytes(signer_info["signature_algorithm"].dump())
        signature = bytes(signer_info["signature"].native)
        if sid.name == "issuer_and_serial_number":
            wanted_issuer = sid.chosen["issuer"].dump()
            wanted_serial = sid.chosen["serial_number"].native
            match = [
                d
                for d in embedded
                if x509.Certificate.load(d)["tbs_certificate"]["issuer"].dump() == wanted_issuer
                and x509.Certificate.load(d).serial_number == wanted_serial
            ]
        else:
            wanted_ski = sid.chosen.native
            match = [d for d in embedded if x509.Certificate.load(d).key_identifier == wanted_ski]
    count = len(cert_ders)
    certificates = tuple(
        _load_certificate(d, f"certificate {i} of {count}") for i, d in enumerate(cert_ders, 1)
    )
    signer_cert = _load_certificate(match[0], "the signer certificate") if match else None
    return MasterList(
        certificates=certificates,
        signer_certificate=signer_cert,
        signing_time=signing_time if isinstance(signing_time, datetime) else None,
        raw=data,
        content_type=content_type,
        econtent=econtent,
        signed_attributes=attrs_der,
        attribute_content_type=attribute_content_type,
        message_digest=message_digest,
        digest_algorithm=digest_algorithm,
        signature_algorithm=signature_algorithm,
        signature=signature,
    )


def _signer_role_problem(cert: cx509.Certificate) -> str | None:
    """Why ``cert`` may not sign a master list (9303-12 §9, §7.1.1 Table 7), or None: KeyUsage
    digitalSignature only, not a CA, the critical ExtendedKeyUsage cscaMasterListSigningKey."""
    problems = [
        p
        for p in (
            roles.key_usage_problem(cert, "mls"),
            roles.basic_constraints_problem(cert, "mls"),
            roles.extended_key_usage_problem(cert, "mls"),
        )
        if p is not None
    ]
    if not problems:
        return None
    if roles.ca_problem(cert) is None:
        who = "a CSCA certificate: a CSCA signs master lists only through a master-list signer"
    elif roles.extended_key_usage_problem(cert, "mls") is not None and not problems[1:]:
        who = "the profile of a Document Signer, not of a master-list signer"
    else:
        who = "not a master-list signer"
    return f"{who}: {'; '.join(problems)}"


def verify_master_list(ml: MasterList, trusted_cscas: Iterable[cx509.Certificate]) -> None:
    """Check a master list (ICAO 9303-12 §9): content type, digest, signature, and its signer:
    issued directly by one of ``trusted_cscas`` (a CA with keyCertSign), made for the role
    (KeyUsage digitalSignature without keyCertSign/cRLSign, not a CA, the critical EKU
    cscaMasterListSigningKey: 9303-12 §7.1.1 Table 7) and valid at the signing time.
    :class:`PkiError` naming the first check that fails; nothing else is raised."""
    if ml.content_type != oids.CSCA_MASTER_LIST:
        raise PkiError(
            f"master list content type: {oids.name_of(ml.content_type)} is not "
            "id-icao-mrtd-security-cscaMasterList (9303-12 §9)"
        )
    if ml.attribute_content_type != oids.CSCA_MASTER_LIST:
        raise PkiError("master list content type: the signed content-type attribute differs")
    hash_name = oids.HASH_NAMES.get(ml.digest_algorithm)
    if hash_name not in ("sha256", "sha384", "sha512"):
        raise PkiError(f"master list digest: unsupported algorithm {ml.digest_algorithm}")
    if ml.message_digest != hashlib.new(hash_name, ml.econtent).digest():
        raise PkiError("master list digest: the message-digest attribute does not match")
    signer_cert = ml.signer_certificate
    if signer_cert is None:
        raise PkiError("master list signer certificate: not embedded in the SignedData")
    try:
        scheme = algorithms.scheme_from_algorithm(
            algos.SignedDigestAlgorithm.load(ml.signature_algorithm)
        )
        key = algorithms.check_public_key(public_key_of(signer_cert))
    except Exception as exc:  # asn1crypto, cryptography, EncodingError, PkiError
        raise PkiError("master list signature: unreadable algorithm or key") from exc
    if not verify_signature(key, ml.signature, ml.signed_attributes, scheme):
        raise PkiError("master list signature: does not verify with the signer certificate")
    subject = signer_cert.subject.rfc4514_string()
    issuers = [csca for csca in trusted_cscas if is_issued_by(signer_cert, csca)]
    if not issuers:
        raise PkiError(
            f"master list signer certificate {subject}: not issued by a trusted CSCA "
            f"(9303-12 §9: the signer is issued by the CSCA)"
        )
    if all(roles.ca_problem(csca) is not None for csca in issuers):
        problem = roles.ca_problem(issuers[0])
        raise PkiError(
            f"master list signer certificate {subject}: its issuer is not a CSCA: {problem} "
            f"({roles.CLAUSE_ROLES})"
        )
    role_problem = _signer_role_problem(signer_cert)
    if role_problem is not None:
        raise PkiError(
            f"master list signer certificate {subject}: {role_problem} "
            "(ICAO 9303-12 §9, §7.1.1 Table 7)"
        )
    if ml.signing_time is not None and not (
        signer_cert.not_valid_before_utc <= ml.signing_time <= signer_cert.not_valid_after_utc
    ):
        raise PkiError(
            f"master list signer certificate {subject}: not valid at the signing time "
            f"{ml.signing_time.isoformat()}"
        )
