"""The trust anchors of an inspection system: CSCA certificates and their CRLs (ICAO 9303-12 §5).

A :class:`TrustStore` holds what the verifier trusts: CSCA certificates (loaded from a folder,
or taken from a master list whose signature the caller has verified) and the CRLs those CSCAs
issued. It answers two questions for passive authentication (9303-11 §5.1): which CSCAs may have
issued this certificate (:meth:`TrustStore.issuers_of`: by name *and* key identifier, because
several CSCAs of one State share a name across key rollovers, 9303-12), and which CRLs
were issued by this CSCA, their signatures verified (:meth:`TrustStore.crls_for`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from cardkit.encoding import asn1, tlv
from cardkit.errors import EncodingError, PkiError
from cardkit.pki.signer import PublicKey

__all__ = [
    "CERTIFICATE_SUFFIXES",
    "CRL_SUFFIXES",
    "TrustStore",
    "authority_key_identifier",
    "names_match",
    "public_key_of",
    "subject_key_identifier",
    "verify_certificate_signature",
    "verify_crl_signature",
]

CERTIFICATE_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})
CRL_SUFFIXES = frozenset({".crl"})


# --- Certificate helpers -----------------------------------------------------------------------


def _normalise(value: object) -> object:
    # RFC 5280 §7.1 compares names after string preparation (RFC 4518): case folding and
    # insignificant-space handling. This is the usual approximation of it.
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFKC", value).casefold().split())
    return value


def _name_key(name: x509.Name) -> tuple[frozenset[tuple[str, object]], ...]:
    return tuple(
        frozenset((attr.oid.dotted_string, _normalise(attr.value)) for attr in rdn)
        for rdn in name.rdns
    )


def names_match(a: x509.Name, b: x509.Name) -> bool:
    """Whether two distinguished names are the same (RFC 5280 §7.1, case/space-insensitive)."""
    return a == b or _name_key(a) == _name_key(b)


def _extension_value(
    extensions: x509.Extensions, kind: type[x509.ExtensionType]
) -> x509.ExtensionType | None:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def subject_key_identifier(cert: x509.Certificate) -> bytes | None:
    """The SubjectKeyIdentifier extension value, or None (PkiError when unreadable)."""
    try:
        value = _extension_value(cert.extensions, x509.SubjectKeyIdentifier)
    except ValueError as exc:
        raise PkiError(f"certificate extensions cannot be read: {exc}") from exc
    return value.digest if isinstance(value, x509.SubjectKeyIdentifier) else None


def authority_key_identifier(
    item: x509.Certificate | x509.CertificateRevocationList,
) -> bytes | None:
    """The keyIdentifier of the AuthorityKeyIdentifier extension, or None."""
    try:
        value = _extension_value(item.extensions, x509.AuthorityKeyIdentifier)
    except ValueError as exc:
        raise PkiError(f"extensions cannot be read: {exc}") from exc
    return value.key_identifier if isinstance(value, x509.AuthorityKeyIdentifier) else None


def public_key_of(cert: x509.Certificate) -> PublicKey:
    """The certificate's public key, also when its EC parameters are explicit.

    Many CSCA and DS certificates carry explicit EC domain parameters (9303-12 allows them),
    which ``cryptography`` refuses; :func:`cardkit.encoding.asn1.load_public_key` matches them to
    the named curve. PkiError when the key is of no supported kind.
    """
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        try:
            der = cert.public_bytes(serialization.Encoding.DER)
            spki = asn1_x509.Certificate.load(der)["tbs_certificate"]["subject_public_key_info"]
            return asn1.load_public_key(spki.dump())
        except EncodingError as exc:
            raise PkiError(f"certificate public key cannot be loaded: {exc}") from exc
        except Exception as exc:  # asn1crypto on a malformed certificate
            raise PkiError(f"certificate public key cannot be loaded: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise PkiError(f"unsupported certificate key type {type(key).__name__}")
    return key


def _verify(
    key: PublicKey,
    signature: bytes,
    data: bytes,
    params: object,
    hash_algorithm: hashes.HashAlgorithm | None,
) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(params, ec.ECDSA):
                return False
            key.verify(signature, data, params)
            return True
        if not isinstance(params, padding.PSS | padding.PKCS1v15) or hash_algorithm is None:
            return False
        key.verify(signature, data, params, hash_algorithm)
        return True
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False


def _whole_signature_bytes(der: bytes) -> bool:
    """Whether the signatureValue BIT STRING (the last field of a certificate or CRL) has no
    unused bits, as every ECDSA and RSA signature must (RFC 5280 §4.1.1.3, X.690 §8.6.2).
    ``cryptography`` ignores that count, so a changed count would pass unnoticed: a byte of
    the signed object altered without failing verification (OpenSSL refuses it too)."""
    try:
        signature_value = tlv.decode_single(der, 0x30).children()[-1]
    except (EncodingError, IndexError):
        return False
    return signature_value.tag == 0x03 and signature_value.value[:1] == b"\x00"


def verify_certificate_signature(cert: x509.Certificate, issuer_key: PublicKey) -> bool:
    """Whether ``cert``'s signature verifies with ``issuer_key`` (ECDSA, RSA v1.5, RSA-PSS)."""
    try:
        params = cert.signature_algorithm_parameters
        hash_algorithm = cert.signature_hash_algorithm
    except (ValueError, UnsupportedAlgorithm):
        return False
    if not _whole_signature_bytes(cert.public_bytes(serialization.Encoding.DER)):
        return False
    return _verify(issuer_key, cert.signature, cert.tbs_certificate_bytes, params, hash_algorithm)


def verify_crl_signature(crl: x509.CertificateRevocationList, issuer_key: PublicKey) -> bool:
    """Whether ``crl``'s signature verifies with ``issuer_key``."""
    try:
        params = crl.signature_algorithm_parameters
        hash_algorithm = crl.signature_hash_algorithm
    except (ValueError, UnsupportedAlgorithm):
        return False
    if not _whole_signature_bytes(crl.public_bytes(serialization.Encoding.DER)):
        return False
    return _verify(issuer_key, crl.signature, crl.tbs_certlist_bytes, params, hash_algorithm)


# --- Loading -----------------------------------------------------------------------------------


def _load_certificates(path: Path, data: bytes) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise PkiError(f"{path}: not a readable X.509 certificate ({exc})") from exc
    return certs


def _load_crl(path: Path, data: bytes) -> x509.CertificateRevocationList:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise PkiError(f"{path}: not a readable X.509 CRL ({exc})") from exc


def _unique(items: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    return tuple(dict.fromkeys(items))  # certificates compare (and hash) by their DER


# --- The store ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustStore:
    """Trusted CSCA certificates and the CRLs to check Document Signers against."""

    cscas: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    # CRL signature checks, per CSCA: a batch verifies thousands of cards against one store.
    _crl_cache: dict[bytes, tuple[x509.CertificateRevocationList, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "cscas", _unique(self.cscas))
        object.__setattr__(self, "crls", tuple(self.crls))
        for cert in self.cscas:
            if not isinstance(cert, x509.Certificate):
                raise TypeError("TrustStore.cscas holds cryptography x509.Certificate values")
        for crl in self.crls:
            if not isinstance(crl, x509.CertificateRevocationList):
                raise TypeError("TrustStore.crls holds x509.CertificateRevocationList values")

    @classmethod
    def from_folder(cls, path: str | Path) -> TrustStore:
        """Load every certificate (``.pem .crt .cer .der``, PEM or DER, several per PEM file)
        and CRL (``.crl``, PEM or DER) under ``path``, recursively, in name order. Other files
        are ignored; an unreadable one is a PkiError naming it."""
        root = Path(path)
        if not root.is_dir():
            raise PkiError(f"{root}: trust store folder not found")
        cscas: list[x509.Certificate] = []
        crls: list[x509.CertificateRevocationList] = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            suffix = file.suffix.lower()
            if suffix not in CERTIFICATE_SUFFIXES and suffix not in CRL_SUFFIXES:
                continue
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise PkiError(f"{file}: cannot be read ({exc.strerror})") from exc
            if suffix in CRL_SUFFIXES:
                crls.append(_load_crl(file, data))
            else:
                cscas.extend(_load_certificates(file, data))
        return cls(tuple(cscas), tuple(crls))

    def add_master_list_certificates(self, certs: Iterable[x509.Certificate]) -> TrustStore:
        """A new store that also trusts ``certs`` (the CSCAs of a master list whose signature
        the caller has verified, 9303-12); duplicates are dropped."""
        return TrustStore(_unique((*self.cscas, *certs)), self.crls)

    def add_crls(self, crls: Iterable[x509.CertificateRevocationList]) -> TrustStore:
        """A new store with more CRLs (their signatures are checked when they are used)."""
        return TrustStore(self.cscas, (*self.crls, *crls))

    def issuers_of(self, cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
        """The trusted CSCAs that may have issued ``cert``: subject = its issuer name and, when
        both sides carry them, SubjectKeyIdentifier = its AuthorityKeyIdentifier (9303-12:
        CSCA key rollover keeps the name and changes the key). The signature itself
        is for the caller to verify. PkiError when ``cert``'s extensions are unreadable."""
        aki = authority_key_identifier(cert)
        out: list[x509.Certificate] = []
        for csca in self.cscas:
            if not names_match(csca.subject, cert.issuer):
                continue
            try:
                ski = subject_key_identifier(csca)
            except PkiError:
                ski = None  # a trusted CSCA with a broken extension: fall back on the name
            if aki is not None and ski is not None and aki != ski:
                continue
            out.append(csca)
        return tuple(out)

    def crls_for(self, csca: x509.Certificate) -> tuple[x509.CertificateRevocationList, ...]:
        """The CRLs issued by ``csca``: issuer name (and AKI, when present) match and the CRL
        signature verifies with the CSCA key. Results are cached per CSCA."""
        key_id = csca.fingerprint(hashes.SHA256())
        cached = self._crl_cache.get(key_id)
        if cached is not None:
            return cached
        found = tuple(c for c in self.candidate_crls(csca) if _crl_signed_by(c, csca))
        self._crl_cache[key_id] = found
        return found

    def candidate_crls(self, csca: x509.Certificate) -> tuple[x509.CertificateRevocationList, ...]:
        """CRLs that name ``csca`` as issuer, signatures not yet checked."""
        try:
            ski = subject_key_identifier(csca)
        except PkiError:
            ski = None
        out: list[x509.CertificateRevocationList] = []
        for crl in self.crls:
            if not names_match(crl.issuer, csca.subject):
                continue
            try:
                aki = authority_key_identifier(crl)
            except PkiError:
                continue
            if aki is not None and ski is not None and aki != ski:
                continue
            out.append(crl)
        return tuple(out)


def _crl_signed_by(crl: x509.CertificateRevocationList, csca: x509.Certificate) -> bool:
    try:
        key = public_key_of(csca)
    except PkiError:
        return False
    return verify_crl_signature(crl, key)
