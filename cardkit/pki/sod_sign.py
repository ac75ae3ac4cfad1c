"""Signing EF.SOD: the LDSSecurityObject in CMS SignedData (ICAO 9303-10 §4.6.2, RFC 5652).

The CMS is encoded here directly as DER, field by field: it is a fixed shape, and this runs once
per card for batches of thousands, so it avoids building and re-serialising an asn1crypto tree.
Only the signature is asked of the :class:`~cardkit.pki.signer.Signer` (an HSM key signs exactly
what an in-process key signs). The :class:`Sod` value is assembled from the parts just encoded
(the value :meth:`Sod.from_bytes` returns for the same bytes, as the tests check) rather than by
re-parsing the CMS with asn1crypto, which took a fifth of the time of preparing a card. A
:class:`PreparedDsc` not made by :meth:`PreparedDsc.of` (one edited with ``dataclasses.replace``)
still goes through :meth:`Sod.wrap`, so whatever it holds is read back as a verifier would.

Choices (9303-10 §4.6.2.3, 9303-12 §4.6):

- ``SignedData.version`` is 3 because the eContentType is not ``id-data`` (RFC 5652 §5.1).
- One SignerInfo, version 1 with ``issuerAndSerialNumber``: 9303-10 recommends that States use
  issuerAndSerialNumber over subjectKeyIdentifier, and RFC 5652 §5.3 ties that form to v1.
- The DSC is included in ``certificates`` (9303-10: States are required to include it).
- Signed attributes: contentType, messageDigest and signingTime, as a DER ``SET OF`` (sorted by
  encoding, X.690 §11.6); the signature covers that SET with tag ``31`` (RFC 5652 §5.4).
- SHA-2 AlgorithmIdentifiers carry no parameters (RFC 5754 §2), ``sha*WithRSAEncryption`` a NULL
  (RFC 4055 §5), ECDSA none (RFC 5758 §3.2); RSASSA-PSS carries RSASSA-PSS-params with the
  hash identifiers in their NULL form as RFC 4055 §2.1 lists them, MGF1 with the same hash and a
  salt as long as the hash (9303-12 §4.1 / RFC 4055 §3.1), the default trailer field omitted.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding import oids, tlv
from cardkit.errors import PkiError
from cardkit.lds.sod import LdsSecurityObject, SignerInfo, Sod
from cardkit.pki.signer import HashName, PublicKey, SignatureScheme, Signer

__all__ = ["PreparedDsc", "prepare_dsc", "sign_sod"]

_NULL = b"\x05\x00"
_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


def _tlv(tag: int, body: bytes) -> bytes:
    """:func:`tlv.encode` for the one-byte tags written here, short lengths inline (an SOD is
    some forty TLVs per card; the general encoder showed in the profile)."""
    if len(body) < 0x80:
        return bytes((tag, len(body))) + body
    return tlv.encode(tag, body)


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _set_of(*parts: bytes) -> bytes:
    # X.690 §11.6: the components of a DER SET OF are in ascending order of their encodings.
    return _tlv(0x31, b"".join(sorted(parts)))


@functools.lru_cache(maxsize=64)
def _oid(dotted: str) -> bytes:
    return oids.der(dotted)


def _integer(value: int) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit (X.690 §8.3)
    return _tlv(0x02, value.to_bytes(length, "big", signed=True))


def _hash_identifier(name: str, *, null: bool = False) -> bytes:
    return _seq(_oid(oids.HASH_OIDS[name]), _NULL if null else b"")


_ECDSA = {"sha256": oids.ECDSA_WITH_SHA256, "sha384": oids.ECDSA_WITH_SHA384,
          "sha512": oids.ECDSA_WITH_SHA512}  # fmt: skip
_RSA_PKCS1 = {"sha256": oids.SHA256_WITH_RSA, "sha384": oids.SHA384_WITH_RSA,
              "sha512": oids.SHA512_WITH_RSA}  # fmt: skip


@functools.lru_cache(maxsize=32)
def _signature_algorithm(kind: str, scheme: SignatureScheme) -> bytes:
    """DER AlgorithmIdentifier of the SignerInfo signature for a key ``kind`` ("EC"/"RSA")."""
    if scheme.hash not in _DIGEST_SIZES:
        raise ValueError(f"unsupported signature hash {scheme.hash!r}")
    if kind == "EC":
        return _seq(_oid(_ECDSA[scheme.hash]))  # RFC 5758 §3.2: parameters absent
    if scheme.rsa_padding == "pkcs1v15":
        return _seq(_oid(_RSA_PKCS1[scheme.hash]), _NULL)  # RFC 4055 §5: NULL parameters
    hash_id = _hash_identifier(scheme.hash, null=True)
    params = _seq(
        _tlv(0xA0, hash_id),  # [0] hashAlgorithm
        _tlv(0xA1, _seq(_oid(oids.MGF1), hash_id)),  # [1] maskGenAlgorithm: MGF1, same hash
        _tlv(0xA2, _integer(_DIGEST_SIZES[scheme.hash])),  # [2] saltLength = hash length
    )
    return _seq(_oid(oids.RSASSA_PSS), params)


@functools.lru_cache(maxsize=32)
def _signature_algorithm_parts(kind: str, scheme: SignatureScheme) -> tuple[str, bytes | None]:
    """The OID and the parameters DER (None when absent) of :func:`_signature_algorithm`."""
    oid, *params = tlv.decode_single(_signature_algorithm(kind, scheme), 0x30).children()
    return oids.from_der(oid.raw), (params[0].raw if params else None)


def _key_kind(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    raise PkiError(f"unsupported Document Signer key type {type(key).__name__}")


def _spki(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class PreparedDsc:
    """A Document Signer certificate pre-encoded for signing many SODs.

    Holds the certificate DER (for ``certificates``), the DER ``IssuerAndSerialNumber`` taken
    verbatim from the certificate (so the sid matches byte for byte, whatever string types the
    issuer name uses), the key type and the SubjectPublicKeyInfo (to refuse a mismatched key).
    """

    der: bytes = field(repr=False)
    issuer_and_serial: bytes = field(repr=False)
    key_kind: str
    spki: bytes = field(repr=False)
    # Set only by ``of`` (init=False, so ``dataclasses.replace`` resets it): the issuer Name DER
    # and serial of a certificate cryptography parsed, which lets sign_sod build the Sod directly.
    _sid: tuple[bytes, int] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    @classmethod
    def of(cls, dsc: x509.Certificate) -> PreparedDsc:
        der = dsc.public_bytes(serialization.Encoding.DER)
        try:
            tbs = asn1_x509.Certificate.load(der)["tbs_certificate"]
            issuer = tbs["issuer"].dump()
            serial = tbs["serial_number"].dump()
            spki = tbs["subject_public_key_info"].dump()
        except Exception as exc:  # asn1crypto raises many kinds on a bad certificate
            raise PkiError(f"the Document Signer certificate cannot be read: {exc}") from exc
        try:
            kind = _key_kind(dsc.public_key())
        except PkiError:
            raise
        except Exception as exc:
            raise PkiError(f"the Document Signer public key cannot be loaded: {exc}") from exc
        prepared = cls(der=der, issuer_and_serial=_seq(issuer, serial), key_kind=kind, spki=spki)
        object.__setattr__(prepared, "_sid", (issuer, dsc.serial_number))
        return prepared


@functools.lru_cache(maxsize=16)
def prepare_dsc(dsc: x509.Certificate) -> PreparedDsc:
    """:meth:`PreparedDsc.of`, cached: a batch signs with the same few DSCs over and over."""
    return PreparedDsc.of(dsc)


def _time(value: datetime.datetime) -> bytes:
    """RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds, Z."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("signing_time must be timezone-aware")
    utc = value.astimezone(datetime.UTC)
    if 1950 <= utc.year <= 2049:
        return _tlv(0x17, utc.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return _tlv(0x18, f"{utc.year:04d}{utc.strftime('%m%d%H%M%S')}Z".encode("ascii"))


def _lds_security_object(
    hash_name: str,
    hashes: dict[int, bytes],
    lds_version: str | None,
    unicode_version: str | None,
) -> LdsSecurityObject:
    """The LDSSecurityObject (9303-10 §4.6.2.2) DER-encoded field by field: the bytes
    :meth:`LdsSecurityObject.build` makes with asn1crypto, without building its tree."""
    version = 0 if lds_version is None and unicode_version is None else 1
    fields = [
        _integer(version),
        _hash_identifier(hash_name),  # RFC 5754 §2: SHA-2 parameters absent
        _seq(*(_seq(_integer(n), _tlv(0x04, h)) for n, h in sorted(hashes.items()))),
    ]
    if version == 1:
        # LDSVersionInfo: two PrintableStrings. The constructor below refuses anything but
        # digits (and a missing half), so "replace" never reaches a signed encoding.
        fields.append(
            _seq(
                _tlv(0x13, (lds_version or "").encode("ascii", "replace")),
                _tlv(0x13, (unicode_version or "").encode("ascii", "replace")),
            )
        )
    # Validates exactly as build() does (version, 2..16 hashes, DG numbers, digest sizes).
    return LdsSecurityObject(
        version, hash_name, hashes, lds_version, unicode_version, _seq(*fields)
    )


def sign_sod(
    data_groups: Mapping[int, bytes],
    signer: Signer,
    dsc: x509.Certificate | PreparedDsc,
    *,
    signing_time: datetime.datetime,
    scheme: SignatureScheme = SignatureScheme(),  # noqa: B008 - frozen, safe as a default
    hash_name: HashName = "sha256",
    lds_version: str | None = None,
    unicode_version: str | None = None,
) -> Sod:
    """Sign EF.SOD over ``data_groups`` (DG number → the whole DG file as stored on the chip).

    ``hash_name`` hashes the data groups (the LDSSecurityObject); ``scheme`` is the signature
    (its hash also makes the messageDigest). An LDSSecurityObject v1 is written when
    ``lds_version``/``unicode_version`` are given (9303-10 §4.6.2.2), v0 otherwise.
    Raises :class:`PkiError` when the signer's key is not the DSC's key, ValueError on bad
    arguments.
    """
    prepared = dsc if isinstance(dsc, PreparedDsc) else prepare_dsc(dsc)
    public_key = signer.public_key()
    if _spki(public_key) != prepared.spki:
        raise PkiError(
            f"signer {signer.key_id!r} does not hold the private key of the Document Signer "
            "certificate given"
        )
    if scheme.hash not in _DIGEST_SIZES:
        raise ValueError(f"unsupported signature hash {scheme.hash!r}")
    lso = _lds_security_object(
        hash_name,
        {n: hashlib.new(hash_name, bytes(d)).digest() for n, d in data_groups.items()},
        lds_version,
        unicode_version,
    )
    econtent = lso.raw
    digest_algorithm = _hash_identifier(scheme.hash)
    message_digest = hashlib.new(scheme.hash, econtent).digest()
    attributes = (
        _seq(_oid(oids.CMS_CONTENT_TYPE), _set_of(_oid(oids.LDS_SECURITY_OBJECT))),
        _seq(_oid(oids.CMS_MESSAGE_DIGEST), _set_of(_tlv(0x04, message_digest))),
        _seq(_oid(oids.CMS_SIGNING_TIME), _set_of(_time(signing_time))),
    )
    signed_attrs = _set_of(*attributes)  # tag 31: exactly what is signed (RFC 5652 §5.4)
    signature = signer.sign(signed_attrs, scheme)
    signer_info = _seq(
        _integer(1),
        prepared.issuer_and_serial,
        digest_algorithm,
        b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT: same length and content, context tag
        _signature_algorithm(prepared.key_kind, scheme),
        _tlv(0x04, signature),
    )
    signed_data = _seq(
        _integer(3),
        _set_of(digest_algorithm),
        _seq(_oid(oids.LDS_SECURITY_OBJECT), _tlv(0xA0, _tlv(0x04, econtent))),
        _tlv(0xA0, prepared.der),  # [0] IMPLICIT CertificateSet: the DSC
        _set_of(signer_info),
    )
    content_info = _seq(_oid(oids.CMS_SIGNED_DATA), _tlv(0xA0, signed_data))
    if prepared._sid is None:
        return Sod.wrap(content_info)
    issuer, serial = prepared._sid
    algorithm_oid, algorithm_params = _signature_algorithm_parts(prepared.key_kind, scheme)
    info = SignerInfo(
        issuer=issuer,
        serial_number=serial,
        subject_key_identifier=None,
        digest_algorithm=oids.HASH_OIDS[scheme.hash],
        signature_algorithm=algorithm_oid,
        signature_algorithm_parameters=algorithm_params,
        signed_attrs=signed_attrs,
        content_type=oids.LDS_SECURITY_OBJECT,
        message_digest=message_digest,
        signature=signature,
        raw=signer_info,
    )
    return Sod(
        lds_security_object=lso,
        econtent=econtent,
        econtent_type=oids.LDS_SECURITY_OBJECT,
        digest_algorithms=(oids.HASH_OIDS[scheme.hash],),
        signer_infos=(info,),
        certificates=(prepared.der,),
        content_info=content_info,
        raw=_tlv(0x77, content_info),
    )
