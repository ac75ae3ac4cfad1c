"""The trust anchors of an inspection system: CSCA certificates and their CRLs (ICAO 9303-12 §5).

A :class:`TrustStore` holds what the verifier trusts: CSCA certificates (loaded from a folder,
or taken from a master list whose signature the caller has verified) and the CRLs those CSCAs
issued. It answers two questions for passive authentication (9303-11 §5.1): which CSCAs may have
issued this certificate (:meth:`TrustStore.issuers_of`: by name *and* key identifier, because
several CSCAs of one State share a name across key rollovers, 9303-12), and which CRLs
were issued by this CSCA, their signatures verified and the CSCA allowed to sign CRLs
(:meth:`TrustStore.crls_for`).

Loading checks the input before any card is read (:meth:`TrustStore.from_folder`,
:func:`load_certificates`, :func:`load_crls`): every certificate and CRL is parsed completely
(``cryptography`` decodes extensions, keys, dates and algorithms lazily, so a malformed file
would otherwise load and fail on the first card), and anything wrong is a :class:`PkiError`
naming the file. Only CA certificates (BasicConstraints cA TRUE, KeyUsage keyCertSign:
9303-12 §7.1.1 Table 7) become trust anchors; the others are listed in
:attr:`TrustStore.ignored` for the caller to warn about. Constructing a :class:`TrustStore`
directly checks types only: validation is the loaders' job.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning

from cardkit.encoding import asn1, tlv
from cardkit.errors import EncodingError, PkiError
from cardkit.pki import roles

if TYPE_CHECKING:
    from cardkit.pki.signer import PublicKey

__all__ = [
    "CERTIFICATE_SUFFIXES",
    "CLAUSE_TRUST",
    "CRL_SUFFIXES",
    "IgnoredItem",
    "TrustStore",
    "authority_key_identifier",
    "check_certificate",
    "check_crl",
    "load_certificates",
    "load_crls",
    "load_der_certificate",
    "names_match",
    "public_key_of",
    "read_trust_folder",
    "subject_key_identifier",
    "trust_anchors",
    "verify_certificate_signature",
    "verify_crl_signature",
]

CERTIFICATE_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})
CRL_SUFFIXES = frozenset({".crl"})
CLAUSE_TRUST = "ICAO 9303-12 §5, §7.1.1 Table 7"
#: How many unusable certificates a "no CSCA" error lists.
_LISTED = 3

T = TypeVar("T")


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
            if params is None and hash_algorithm is not None:
                # cryptography gives no parameters for some ECDSA identifiers it still
                # names a hash for (ecdsa-with-SHA1): ECDSA with that hash. Whether SHA-1 is
                # acceptable is the verification policy's question, not the signature's.
                params = ec.ECDSA(hash_algorithm)
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


# --- Complete parsing ---------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    if isinstance(exc, x509.InvalidVersion):
        return f"invalid X.509 version ({exc})"
    if isinstance(exc, UnsupportedAlgorithm):
        return f"unsupported algorithm ({exc})"
    text = " ".join(str(exc).split())  # one line, whatever the library wrote
    if "ShortData" in text:
        return f"truncated DER ({text})"
    if isinstance(exc, ValueError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _touch(what: str, steps: Sequence[tuple[str, Callable[[], object]]]) -> None:
    for name, step in steps:
        try:
            step()
        except PkiError as exc:
            raise PkiError(f"malformed {what}: {name}: {exc}") from exc
        except Exception as exc:  # whatever cryptography raises on a malformed field
            raise PkiError(f"malformed {what}: {name}: {_describe(exc)}") from exc


def _all_extensions(extensions: Callable[[], x509.Extensions]) -> Callable[[], object]:
    return lambda: [ext.value for ext in extensions()]


def _known(step: Callable[[], object]) -> Callable[[], object]:
    """``step``, where an algorithm ``cryptography`` does not implement is no malformation: a
    well-formed AlgorithmIdentifier it cannot use (a CSCA's self-signature in ecdsa-plain,
    BSI TR-03111) only means that signature will not verify; a malformed one still fails."""

    def run() -> object:
        try:
            return step()
        except UnsupportedAlgorithm:
            return None

    return run


def check_certificate(cert: x509.Certificate) -> None:
    """Decode every field of ``cert`` now: version, serial number, names, validity, extensions,
    public key (:func:`public_key_of`: a key cardkit cannot use is an error too), signature
    algorithm. ``cryptography`` decodes most of them lazily, so a certificate that loaded may
    still be malformed; PkiError saying which field is (the message does not name the file:
    the caller does)."""
    _touch(
        "certificate",
        (
            ("version", lambda: cert.version),
            ("serial number", lambda: cert.serial_number),
            ("subject", lambda: cert.subject.rfc4514_string()),
            ("issuer", lambda: cert.issuer.rfc4514_string()),
            ("notBefore", lambda: cert.not_valid_before_utc),
            ("notAfter", lambda: cert.not_valid_after_utc),
            ("extensions", _all_extensions(lambda: cert.extensions)),
            ("public key", lambda: public_key_of(cert)),
            ("signature algorithm", lambda: cert.signature_algorithm_oid),
            ("signature algorithm", _known(lambda: cert.signature_hash_algorithm)),
            ("signature algorithm", _known(lambda: cert.signature_algorithm_parameters)),
            ("signature", lambda: (cert.signature, cert.tbs_certificate_bytes)),
        ),
    )


def check_crl(crl: x509.CertificateRevocationList) -> None:
    """Decode every field of ``crl`` now: issuer, thisUpdate/nextUpdate, extensions, each revoked
    entry (serial, date, entry extensions), signature algorithm; PkiError saying which field is
    malformed (RFC 5280 §5.1)."""

    def entries() -> None:
        for entry in crl:
            entry.serial_number  # noqa: B018
            entry.revocation_date_utc  # noqa: B018
            [ext.value for ext in entry.extensions]

    _touch(
        "CRL",
        (
            ("issuer", lambda: crl.issuer.rfc4514_string()),
            ("thisUpdate", lambda: crl.last_update_utc),
            ("nextUpdate", lambda: crl.next_update_utc),
            ("extensions", _all_extensions(lambda: crl.extensions)),
            ("revoked certificates", entries),
            ("signature algorithm", lambda: crl.signature_algorithm_oid),
            ("signature algorithm", _known(lambda: crl.signature_hash_algorithm)),
            ("signature algorithm", _known(lambda: crl.signature_algorithm_parameters)),
            ("signature", lambda: (crl.signature, crl.tbs_certlist_bytes)),
        ),
    )


# --- Loading -----------------------------------------------------------------------------------

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    return [(m.group(1).decode("ascii"), m.group(0) + b"\n") for m in _PEM_BLOCK.finditer(data)]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def _label(source: str, kind: str, index: int, count: int) -> str:
    return source if count == 1 else f"{source} ({kind} {index} of {count})"


def _parsed(
    source: str,
    kind: str,
    loaders: Sequence[Callable[[], T]],
    check: Callable[[T], None],
) -> tuple[tuple[str, T], ...]:
    out: list[tuple[str, T]] = []
    for index, load in enumerate(loaders, start=1):
        label = _label(source, kind, index, len(loaders))
        # cryptography only warns about some violations (a serial number that is not
        # positive, RFC 5280 §4.1.2.2) that it will refuse later: a trust anchor must not
        # have them, and the warning must not reach the terminal raw.
        with warnings.catch_warnings():
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            try:
                item = load()
            except Exception as exc:  # ValueError, InvalidVersion, ...: all mean "unreadable"
                raise PkiError(f"{label}: not a readable X.509 {kind}: {_describe(exc)}") from exc
            try:
                check(item)
            except PkiError as exc:
                raise PkiError(f"{label}: {exc}") from exc
            except CryptographyDeprecationWarning as exc:
                raise PkiError(f"{label}: malformed {kind}: {exc}") from exc
        out.append((label, item))
    return tuple(out)


def _pem_items(path: Path, data: bytes, wanted: str, kind: str) -> list[bytes]:
    blocks = _pem_blocks(data)
    found = [pem for label, pem in blocks if label == wanted]
    if not found:
        others = sorted({label for label, _ in blocks})
        seen = f"only {', '.join(others)}" if others else "no complete PEM block"
        raise PkiError(f"{path}: no PEM {wanted} block ({seen}): not an X.509 {kind}")
    return found


def load_der_certificate(der: bytes, label: str) -> x509.Certificate:
    """One DER certificate, parsed completely (:func:`check_certificate`); PkiError starting
    with ``label`` (what the caller calls it: a file, a certificate of a master list)."""
    ((_, cert),) = _parsed(
        label, "certificate", [partial(x509.load_der_x509_certificate, der)], check_certificate
    )
    return cert


def load_certificates(
    path: Path, data: bytes | None = None
) -> tuple[tuple[str, x509.Certificate], ...]:
    """The certificates of one file (DER, or PEM with one or more CERTIFICATE blocks), each
    parsed completely (:func:`check_certificate`), with a label naming the file (and, in a PEM
    bundle, which certificate of it). PkiError naming the file (and certificate) otherwise."""
    path = Path(path)
    raw = _read(path) if data is None else data
    loaders: list[Callable[[], x509.Certificate]]
    if b"-----BEGIN" in raw:
        loaders = [
            partial(x509.load_pem_x509_certificate, pem)
            for pem in _pem_items(path, raw, "CERTIFICATE", "certificate")
        ]
    else:
        loaders = [partial(x509.load_der_x509_certificate, raw)]
    return _parsed(str(path), "certificate", loaders, check_certificate)


def load_crls(
    path: Path, data: bytes | None = None
) -> tuple[tuple[str, x509.CertificateRevocationList], ...]:
    """The CRLs of one file (DER, or PEM with one or more X509 CRL blocks), each parsed
    completely (:func:`check_crl`); PkiError naming the file (and CRL) otherwise."""
    path = Path(path)
    raw = _read(path) if data is None else data
    loaders: list[Callable[[], x509.CertificateRevocationList]]
    if b"-----BEGIN" in raw:
        loaders = [
            partial(x509.load_pem_x509_crl, pem) for pem in _pem_items(path, raw, "X509 CRL", "CRL")
        ]
    else:
        loaders = [partial(x509.load_der_x509_crl, raw)]
    return _parsed(str(path), "CRL", loaders, check_crl)


def read_trust_folder(
    path: str | Path,
) -> tuple[
    tuple[tuple[str, x509.Certificate], ...],
    tuple[tuple[str, x509.CertificateRevocationList], ...],
]:
    """Every certificate (``.pem .crt .cer .der``) and CRL (``.crl``) under ``path``, recursively
    and in name order, each parsed completely and labelled with its file; other files are
    skipped. PkiError naming the folder when it does not exist, naming the file when one
    cannot be read or is malformed. Nothing is judged here (see :func:`trust_anchors`)."""
    root = Path(path)
    if not root.is_dir():
        raise PkiError(f"{root}: trust store folder not found")
    certificates: list[tuple[str, x509.Certificate]] = []
    crls: list[tuple[str, x509.CertificateRevocationList]] = []
    try:
        files = sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
    except OSError as exc:
        raise PkiError(f"{root}: cannot be listed ({exc.strerror or exc})") from exc
    for file in files:
        suffix = file.suffix.lower()
        if suffix in CRL_SUFFIXES:
            crls.extend(load_crls(file))
        elif suffix in CERTIFICATE_SUFFIXES:
            certificates.extend(load_certificates(file))
    return tuple(certificates), tuple(crls)


def _subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return "an unreadable subject"


def trust_anchors(
    certificates: Sequence[tuple[str, x509.Certificate]],
    where: str,
    *,
    looked_for: str = " (.pem .crt .cer .der)",
) -> tuple[tuple[x509.Certificate, ...], tuple[IgnoredItem, ...]]:
    """Split labelled certificates into trust anchors (CSCA and link certificates: BasicConstraints
    cA TRUE and KeyUsage keyCertSign, 9303-12 §7.1.1 Table 7) and the others, each with the
    reason it is not one. PkiError naming ``where`` (a folder, a master list) when there is no
    anchor at all, listing the first few certificates and why they are not CSCAs."""
    anchors: list[x509.Certificate] = []
    ignored: list[IgnoredItem] = []
    for label, cert in certificates:
        problem = roles.ca_problem(cert)
        if problem is None:
            anchors.append(cert)
        else:
            ignored.append(IgnoredItem(label, f"{_subject(cert)} is not a CSCA: {problem}"))
    if not anchors:
        if not certificates:
            raise PkiError(f"{where}: no CSCA certificate{looked_for} found")
        listed = "; ".join(f"{i.source}: {i.reason}" for i in ignored[:_LISTED])
        more = f"; and {len(ignored) - _LISTED} more" if len(ignored) > _LISTED else ""
        raise PkiError(
            f"{where}: no CSCA certificate among {len(certificates)} certificate(s), a trust "
            f"anchor needs BasicConstraints cA TRUE and KeyUsage keyCertSign ({CLAUSE_TRUST}): "
            f"{listed}{more}"
        )
    return _unique(anchors), tuple(ignored)


def _unique(items: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    return tuple(dict.fromkeys(items))  # certificates compare (and hash) by their DER


# --- The store ---------------------------------------------------------------------------------


class IgnoredItem(NamedTuple):
    """Something a loader read but does not trust: ``source`` (file, and which certificate of a
    bundle or master list) and ``reason`` (one sentence), for the caller to warn about."""

    source: str
    reason: str


@dataclass(frozen=True)
class TrustStore:
    """Trusted CSCA certificates and the CRLs to check Document Signers against.

    ``ignored`` lists what a loader read and left out (a Document Signer certificate in the
    trust folder, a CRL that no trusted CSCA issued). Direct construction drops nothing.
    """

    cscas: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    ignored: tuple[IgnoredItem, ...] = ()
    # CRL signature checks, per CSCA: a batch verifies thousands of cards against one store.
    _crl_cache: dict[bytes, tuple[x509.CertificateRevocationList, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "cscas", _unique(self.cscas))
        object.__setattr__(self, "crls", tuple(self.crls))
        object.__setattr__(self, "ignored", tuple(IgnoredItem(*item) for item in self.ignored))
        for cert in self.cscas:
            if not isinstance(cert, x509.Certificate):
                raise TypeError("TrustStore.cscas holds cryptography x509.Certificate values")
        for crl in self.crls:
            if not isinstance(crl, x509.CertificateRevocationList):
                raise TypeError("TrustStore.crls holds x509.CertificateRevocationList values")
        for item in self.ignored:
            if not all(isinstance(part, str) for part in item):
                raise TypeError("TrustStore.ignored holds (source, reason) string pairs")

    @classmethod
    def from_folder(cls, path: str | Path) -> TrustStore:
        """Load the trust folder ``path`` (:func:`read_trust_folder`): its CA certificates are
        the trust anchors, its other certificates go to :attr:`ignored`, its CRLs are kept
        (whether a trusted CSCA issued them is known once every anchor is, e.g. after a master
        list: see :func:`cardkit.services.trust_input.load_trust`). PkiError naming the file
        for anything unreadable or malformed, naming the folder when it holds no CSCA."""
        certificates, crls = read_trust_folder(path)
        anchors, ignored = trust_anchors(certificates, str(path))
        return cls(anchors, tuple(crl for _, crl in crls), ignored)

    def add_master_list_certificates(self, certs: Iterable[x509.Certificate]) -> TrustStore:
        """A new store that also trusts ``certs`` (the CSCAs of a master list whose signature
        the caller has verified, 9303-12); duplicates are dropped."""
        return TrustStore(_unique((*self.cscas, *certs)), self.crls, self.ignored)

    def add_crls(self, crls: Iterable[x509.CertificateRevocationList]) -> TrustStore:
        """A new store with more CRLs (their signatures are checked when they are used)."""
        return TrustStore(self.cscas, (*self.crls, *crls), self.ignored)

    def add_ignored(self, items: Iterable[tuple[str, str]]) -> TrustStore:
        """A new store that also reports ``items`` (source, reason) as left out."""
        return TrustStore(self.cscas, self.crls, (*self.ignored, *(IgnoredItem(*i) for i in items)))

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
        """The CRLs issued by ``csca``: issuer name (and AKI, when present) match, the CRL
        signature verifies with the CSCA key, and the CSCA may sign CRLs (KeyUsage cRLSign,
        9303-12 §7.1.1 Table 7). A CRL that names the CSCA but was signed by another key (a
        Document Signer's, say) is not one. Results are cached per CSCA."""
        key_id = csca.fingerprint(hashes.SHA256())
        cached = self._crl_cache.get(key_id)
        if cached is not None:
            return cached
        found: tuple[x509.CertificateRevocationList, ...] = ()
        if roles.ca_problem(csca, crl_issuer=True) is None:
            found = tuple(c for c in self.candidate_crls(csca) if _crl_signed_by(c, csca))
        self._crl_cache[key_id] = found
        return found

    def candidate_crls(self, csca: x509.Certificate) -> tuple[x509.CertificateRevocationList, ...]:
        """CRLs that name ``csca`` as issuer, signatures not yet checked."""
        return tuple(crl for crl in self.crls if _crl_names(crl, csca))

    def named_issuers_of(self, crl: x509.CertificateRevocationList) -> tuple[x509.Certificate, ...]:
        """The trusted CSCAs ``crl`` names as its issuer (name, and key identifier when both
        carry one), signatures not checked: :meth:`candidate_crls` seen from the CRL."""
        return tuple(csca for csca in self.cscas if _crl_names(crl, csca))

    def crl_problem(self, crl: x509.CertificateRevocationList) -> str | None:
        """None when a trusted CSCA issued ``crl`` (:meth:`crls_for` returns it for that CSCA),
        else why none did: no trusted CSCA of that name, a signature that no such CSCA's key
        verifies, or a CSCA without cRLSign (9303-12 §7.1.1 Table 7, RFC 5280 §6.3.3)."""
        named = self.named_issuers_of(crl)
        try:
            issuer = crl.issuer.rfc4514_string()
        except ValueError:
            issuer = "an unreadable name"
        if not named:
            return f"not issued by any trusted CSCA: no trusted CSCA is {issuer}"
        signed = [csca for csca in named if _crl_signed_by(crl, csca)]
        if not signed:
            return (
                f"not issued by any trusted CSCA: it names {issuer} as issuer but its signature "
                "does not verify with that CSCA's key"
            )
        problems = [roles.ca_problem(csca, crl_issuer=True) for csca in signed]
        if all(p is not None for p in problems):
            return f"not issued by any trusted CSCA: {issuer}: {problems[0]} ({CLAUSE_TRUST})"
        return None


def _crl_names(crl: x509.CertificateRevocationList, csca: x509.Certificate) -> bool:
    """Whether ``crl`` names ``csca`` as issuer: the name, and the key identifier when both
    carry one."""
    if not names_match(crl.issuer, csca.subject):
        return False
    try:
        aki = authority_key_identifier(crl)
    except PkiError:
        return False
    try:
        ski = subject_key_identifier(csca)
    except PkiError:
        ski = None
    return aki is None or ski is None or aki == ski


def _crl_signed_by(crl: x509.CertificateRevocationList, csca: x509.Certificate) -> bool:
    try:
        key = public_key_of(csca)
    except PkiError:
        return False
    return verify_crl_signature(crl, key)
