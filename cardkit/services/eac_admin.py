"""Running the state's CV PKI of Extended Access Control: ``cardkit eac init|issue-dv|...``.

The CV PKI (BSI TR-03110-3, DOMAIN.md §10) lives in the ``eac/`` folder of a keys folder, beside
the X.509 PKI of ``cardkit pki`` (and shares its audit log)::

    KEYS/eac/
        eac.toml          the country, where every current key is (key references) and where the
                          password comes from; the key store the CV keys are generated in
        state.json        the last sequence number used per holder mnemonic (VNCVCA00001,
                          VNDV00001, VNIS00001 …) and the keys of requests not yet certified
        cvca.cvcert       the current CVCA certificate (self-signed): the chip's trust point
        dv.cvcert         the current domestic Document Verifier certificate
        is.cvcert         the current inspection-system certificate
        issued/CHR.cvcert every certificate this PKI issued, by holder reference
        links/OLD-NEW.cvcert   CVCA link certificates, one per rollover (signed by the old CVCA)
        cvca-00001.key.pem …   keys, when the store is ``file`` (encrypted PKCS#8, 0600); or
                          ``cvca-00001.p12``, ``eac.jks#cvca-00001``, or on a PKCS#11 token as
                          ``object=eac-cvca-00001``
    KEYS/audit.jsonl      one line per CV signature (certificates, link certificates, requests)

Every file is written atomically, mode 0600; the folder is 0700. Key references in eac.toml that
name files are relative to the ``eac/`` folder. Nothing secret is in eac.toml.

Validity (days, both ends included; dates are days, YYMMDD, TR-03110-3 D.2) follows the EU
common certificate policy for the EAC PKI (BSI TR-03139 / CP-EAC): a CVCA certificate six months
to three years, a DV certificate at most three months, an inspection-system certificate at most
one month — and short-lived in practice: cardkit's default is a few days. A certificate never
outlives its issuer's: its expiration is cut back to the issuer's when it would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from cardkit.errors import EncodingError, PkiError
from cardkit.pki import cvc
from cardkit.pki.audit import AuditLog
from cardkit.pki.cvc import (
    Certificate,
    CertificateBody,
    CertificateReference,
    CertificateRequest,
    Chat,
    EcDomainParameters,
    EcPublicKey,
    RequestBody,
    Role,
)
from cardkit.pki.keystore import generate_key, open_signer
from cardkit.pki.keystore.pemfile import atomic_write
from cardkit.pki.keystore.uri import KeyRef, KeySpec
from cardkit.pki.secrets import read_secret
from cardkit.pki.signer import PublicKey, Signer

EAC_DIR = "eac"
CONFIG = "eac.toml"
STATE = "state.json"
ISSUED = "issued"
LINKS = "links"
CERT_SUFFIX = ".cvcert"
REQUEST_SUFFIX = ".cvreq"
FILE_MODE = 0o600

DEFAULT_KEY_SPEC = "ec:brainpoolP256r1"

#: Default validity in days per role (TR-03139 CP-EAC; DOMAIN.md §10).
VALIDITY_DAYS: Mapping[Role, int] = {
    Role.CVCA: 3 * 365,
    Role.DV_DOMESTIC: 90,
    Role.DV_FOREIGN: 90,
    Role.INSPECTION_SYSTEM: 3,
}
#: The longest validity the policy allows: CVCA three years, DV three months, IS one month.
MAX_VALIDITY_DAYS: Mapping[Role, int] = {
    Role.CVCA: 3 * 366,
    Role.DV_DOMESTIC: 93,
    Role.DV_FOREIGN: 93,
    Role.INSPECTION_SYSTEM: 31,
}
#: Holder mnemonics cardkit gives its own certificates (TR-03110-3 A.6.1: up to 9 characters).
MNEMONICS: Mapping[Role, str] = {
    Role.CVCA: "CVCA",
    Role.DV_DOMESTIC: "DV",
    Role.DV_FOREIGN: "DVF",
    Role.INSPECTION_SYSTEM: "IS",
}

StoreKind = Literal["file", "p12", "jks", "pkcs11"]
CurrentName = Literal["cvca", "dv", "is"]


def eac_folder(keys_folder: Path) -> Path:
    return keys_folder / EAC_DIR


def trust_point(keys_folder: Path) -> bytes | None:
    """The current CVCA certificate of the CV PKI in ``keys_folder`` (what chips are given as
    their EAC trust point), or None when the folder has no CV PKI. PkiError when the file is
    not a self-signed CVCA certificate."""
    path = eac_folder(keys_folder) / "cvca.cvcert"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PkiError(f"{path}: cannot read the CVCA certificate ({exc.strerror})") from None
    try:
        cert = Certificate.from_bytes(data)
    except EncodingError as exc:
        raise PkiError(f"{path}: not a CV certificate: {exc}") from None
    if cert.role is not Role.CVCA or not cert.is_self_signed:
        raise PkiError(f"{path}: not a self-signed CVCA certificate")
    return data


def key_ref_for(store: str, name: str) -> str:
    """The reference of key ``name`` in ``store`` (``file``, ``p12``, ``jks`` or
    ``pkcs11:token=LABEL``); file references are relative to the eac folder."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise PkiError(f"key name {name!r}: use letters, digits, '-' and '_'")
    if store == "file":
        return f"file:{name}.key.pem"
    if store == "p12":
        return f"p12:{name}.p12"
    if store == "jks":
        return f"jks:eac.jks#{name}"
    if store.startswith("pkcs11:"):
        return f"{store.rstrip(';')};object=eac-{name}"
    raise PkiError(f"unknown key store {store!r}: file, p12, jks or pkcs11:token=LABEL")


def _write(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(path, data, mode=FILE_MODE, overwrite=overwrite)
    except FileExistsError:
        raise PkiError(f"{path} exists: refusing to overwrite it") from None


# --- configuration and state --------------------------------------------------------------------


@dataclass(frozen=True)
class EacConfig:
    """``eac.toml``: the country, the key store, where the password comes from, current keys."""

    folder: Path  # KEYS/eac
    country: str
    store: str
    key_spec: str
    secret: str  # where the password / PIN comes from (a secret spec), never the secret
    cvca_key: str
    dv_key: str
    is_key: str

    def ref(self, text: str) -> KeyRef:
        """A key reference with file paths resolved against the eac folder."""
        ref = KeyRef.parse(text)
        if ref.path is not None and not Path(ref.path).is_absolute():
            ref = dataclasses.replace(ref, path=str(self.folder / ref.path))
        return ref

    def key(self, name: CurrentName) -> str:
        return {"cvca": self.cvca_key, "dv": self.dv_key, "is": self.is_key}[name]

    def path(self, name: CurrentName) -> Path:
        """The current certificate of ``cvca``, ``dv`` or ``is``."""
        return self.folder / f"{name}{CERT_SUFFIX}"

    @property
    def issued_dir(self) -> Path:
        return self.folder / ISSUED

    @property
    def links_dir(self) -> Path:
        return self.folder / LINKS

    @property
    def audit(self) -> AuditLog:
        """The keys folder's audit log (shared with the X.509 PKI)."""
        return AuditLog(self.folder.parent / "audit.jsonl")

    def read_secret(self) -> bytes:
        return read_secret(self.secret, what=f"password for the keys in {self.folder}")

    def to_toml(self) -> str:
        return (
            "# Written by `cardkit eac init`: the CV PKI of Extended Access Control.\n"
            "# Key references are relative to this folder. `secret` says where the key password\n"
            "# (or HSM PIN) comes from: never the secret.\n"
            f'country = "{self.country}"\n'
            f'store = "{self.store}"\n'
            f'key_spec = "{self.key_spec}"\n'
            f'secret = "{self.secret}"\n\n'
            "[keys]\n"
            f'cvca = "{self.cvca_key}"\n'
            f'dv = "{self.dv_key}"\n'
            f'is = "{self.is_key}"\n'
        )

    def save(self) -> None:
        _write(self.folder / CONFIG, self.to_toml().encode("utf-8"))


def load_eac_config(keys_folder: Path) -> EacConfig:
    folder = eac_folder(keys_folder)
    path = folder / CONFIG
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        keys = data["keys"]
        return EacConfig(
            folder=folder,
            country=str(data["country"]),
            store=str(data["store"]),
            key_spec=str(data.get("key_spec", DEFAULT_KEY_SPEC)),
            secret=str(data["secret"]),
            cvca_key=str(keys["cvca"]),
            dv_key=str(keys["dv"]),
            is_key=str(keys["is"]),
        )
    except OSError:
        raise PkiError(f"{path} not found: create the CV PKI with `cardkit eac init`") from None
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise PkiError(f"{path} is malformed ({exc})") from None


@dataclass
class EacState:
    """``state.json``: the last sequence number per holder mnemonic, pending request keys."""

    sequences: dict[str, int] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)  # CHR → key reference

    @classmethod
    def load(cls, folder: Path) -> EacState:
        path = folder / STATE
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                {str(k): int(v) for k, v in data["sequences"].items()},
                {str(k): str(v) for k, v in data.get("pending", {}).items()},
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PkiError(f"{path} is malformed ({exc})") from None

    def save(self, folder: Path) -> None:
        data = {"sequences": dict(sorted(self.sequences.items())), "pending": self.pending}
        _write(folder / STATE, json.dumps(data, indent=2).encode() + b"\n")

    def next_reference(self, country: str, mnemonic: str) -> CertificateReference:
        """The next holder reference of ``mnemonic``: ``VNDV00001``, ``VNDV00002`` …"""
        number = self.sequences.get(mnemonic, 0) + 1
        if number > 99999:
            raise PkiError(f"holder {country}{mnemonic}: the 5-digit sequence numbers are used up")
        self.sequences[mnemonic] = number
        return CertificateReference.build(country, mnemonic, f"{number:05d}")

    def note(self, chr: CertificateReference, country: str) -> None:
        """Remember a holder reference issued from a request, so ours never repeats it."""
        if chr.country == country and chr.sequence.isdigit():
            mnemonic = chr.mnemonic
            self.sequences[mnemonic] = max(self.sequences.get(mnemonic, 0), int(chr.sequence))


def _key_name(chr: CertificateReference) -> str:
    return f"{chr.mnemonic.lower() or 'key'}-{chr.sequence or chr.value}"


# --- the certificates of a folder ---------------------------------------------------------------

SignatureStatus = Literal["valid", "invalid", "issuer not found"]


@dataclass(frozen=True)
class SignatureCheck:
    """Whether a CV signature verifies with its issuer's key, and which certificate that was."""

    status: SignatureStatus
    issuer: Path | None = None
    detail: str | None = None

    def describe(self) -> dict[str, object]:
        return {
            "status": self.status,
            "issuer": str(self.issuer) if self.issuer is not None else None,
            "detail": self.detail,
        }


class CertificateIndex:
    """The CV certificates of some folders, by holder reference: finds a certificate's issuer
    (CAR = the issuer's CHR) and the EC domain parameters a DV or terminal key inherits."""

    def __init__(self, entries: Iterable[tuple[Path, Certificate]] = ()) -> None:
        self._by_chr: dict[str, list[tuple[Path, Certificate]]] = {}
        for path, cert in entries:
            self.add(path, cert)

    @classmethod
    def from_folders(cls, folders: Iterable[Path]) -> CertificateIndex:
        index = cls()
        seen: set[Path] = set()
        for folder in folders:
            for path in _certificate_files(folder):
                resolved = path.resolve()
                if resolved in seen:
                    continue
                seen.add(resolved)
                try:
                    cert = Certificate.from_bytes(path.read_bytes())
                except (EncodingError, OSError):
                    continue  # requests, other files: not issuers
                index.add(path, cert)
        return index

    def add(self, path: Path, cert: Certificate) -> None:
        self._by_chr.setdefault(cert.chr.value, []).append((path, cert))

    def holders(self, chr: CertificateReference | str) -> list[tuple[Path, Certificate]]:
        return list(self._by_chr.get(str(chr), ()))

    def domain_for(self, cert: Certificate, depth: int = 0) -> EcDomainParameters | None:
        """The EC domain parameters of ``cert``'s key: its own, else its issuer's (up the
        chain to the CVCA, TR-03110-3 D.3.3); None for RSA or when no issuer is known."""
        key = cert.public_key
        if not isinstance(key, EcPublicKey):
            return None
        if key.domain is not None:
            return key.domain
        if depth > 8 or cert.is_self_signed:
            return None
        for _, issuer in self.holders(cert.car):
            found = self.domain_for(issuer, depth + 1)
            if found is not None:
                return found
        return None

    def check(self, cert: Certificate) -> SignatureCheck:
        """Verify ``cert``'s signature with each known certificate of its CAR."""
        candidates = self.holders(cert.car)
        if not candidates:
            return SignatureCheck("issuer not found", detail=f"no certificate of {cert.car}")
        detail = None
        for path, issuer in candidates:
            try:
                if cvc.verify_signature(cert, issuer, domain=self.domain_for(issuer)):
                    return SignatureCheck("valid", path)
            except PkiError as exc:
                detail = str(exc)
        return SignatureCheck("invalid", candidates[0][0], detail)

    def check_outer(self, request: CertificateRequest) -> SignatureCheck:
        """Verify an authenticated request's outer signature with the certificate of its
        outer CAR."""
        if request.outer_car is None:
            return SignatureCheck("issuer not found", detail="the request has no outer signature")
        candidates = self.holders(request.outer_car)
        if not candidates:
            return SignatureCheck(
                "issuer not found", detail=f"no certificate of {request.outer_car}"
            )
        detail = None
        for path, issuer in candidates:
            try:
                if cvc.verify_outer_signature(request, issuer, domain=self.domain_for(issuer)):
                    return SignatureCheck("valid", path)
            except PkiError as exc:
                detail = str(exc)
        return SignatureCheck("invalid", candidates[0][0], detail)


def _certificate_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for sub in (folder, folder / ISSUED, folder / LINKS):
        if sub.is_dir():
            yield from sorted(p for p in sub.iterdir() if p.suffix == CERT_SUFFIX and p.is_file())


def inner_signature_check(request: CertificateRequest) -> SignatureCheck:
    """Proof of possession: the request signed with the key it asks to have certified."""
    try:
        ok = cvc.verify_inner_signature(request)
    except PkiError as exc:
        return SignatureCheck("invalid", detail=str(exc))
    return SignatureCheck("valid" if ok else "invalid")


# --- the CV PKI -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    """A certificate this PKI signed, where it was written, and the key it certifies when that
    key is in the PKI's store (None for a request from elsewhere)."""

    certificate: Certificate
    path: Path
    key_ref: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rollover:
    """The result of ``eac link``: the new CVCA's self-signed certificate and its link
    certificate (signed by the old CVCA; CAR = the old CHR)."""

    cvca: Issued
    link: Issued
    previous: Certificate


@dataclass(frozen=True)
class Requested:
    request: CertificateRequest
    key_ref: str


def _check_days(role: Role, days: int | None) -> int:
    chosen = VALIDITY_DAYS[role] if days is None else days
    longest = MAX_VALIDITY_DAYS[role]
    if not 1 <= chosen <= longest:
        raise PkiError(
            f"{role.label} certificates are valid 1 to {longest} days (EAC certificate policy), "
            f"not {chosen}"
        )
    return chosen


class EacPki:
    """An opened CV PKI (``KEYS/eac``): its config and the secret that unlocks its keys."""

    def __init__(self, config: EacConfig, secret: bytes) -> None:
        self.config = config
        self._secret = secret

    def __repr__(self) -> str:
        return f"EacPki({self.config.folder})"

    @classmethod
    def open(cls, keys_folder: Path, secret: bytes | None = None) -> EacPki:
        config = load_eac_config(keys_folder)
        return cls(config, secret if secret is not None else config.read_secret())

    # --- what the folder holds ------------------------------------------------------------

    def signer(self, name: CurrentName) -> Signer:
        return open_signer(self.config.ref(self.config.key(name)), self._secret)

    def certificate(self, name: CurrentName) -> Certificate:
        path = self.config.path(name)
        try:
            return Certificate.from_bytes(path.read_bytes())
        except OSError:
            raise PkiError(f"{path} not found: issue it first") from None

    def index(self) -> CertificateIndex:
        return CertificateIndex.from_folders([self.config.folder])

    def domain(self) -> EcDomainParameters | None:
        """The current CVCA's EC domain parameters (None for an RSA CVCA)."""
        key = self.certificate("cvca").public_key
        return key.domain if isinstance(key, EcPublicKey) else None

    # --- signing ---------------------------------------------------------------------------

    def _audit(self, now: datetime, event: str, key_id: str, data: bytes, **extra: str) -> None:
        """Append one line to the keys folder's audit log, flushed before returning (the same
        log, file mode and durability as :class:`cardkit.pki.audit.AuditLog`)."""
        log = self.config.audit
        line = json.dumps(
            {
                "time": now.isoformat(),
                "event": event,
                "key": key_id,
                "signed_sha256": hashlib.sha256(data).hexdigest(),
                **extra,
            },
            sort_keys=True,
        )
        log.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(log.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        except OSError as exc:
            raise PkiError(f"cannot open the audit log {log.path}: {exc.strerror}") from None
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _sign(
        self, body: CertificateBody, signer: Signer, algorithm: str | None, now: datetime
    ) -> Certificate:
        cert = cvc.sign_certificate(body, signer, algorithm=algorithm)
        kind = "link" if body.chat.role is Role.CVCA and not body.is_self_signed else "certificate"
        self._audit(
            now,
            "cvc-signed",
            signer.key_id,
            body.raw,
            kind=kind,
            car=str(body.car),
            chr=str(body.chr),
            role=body.chat.role.label,
            certificate_sha256=hashlib.sha256(cert.raw).hexdigest(),
        )
        return cert

    def _new_key(self, name: str, key_spec: str | None = None) -> tuple[str, Signer]:
        ref = key_ref_for(self.config.store, name)
        signer = generate_key(self.config.ref(ref), key_spec or self.config.key_spec, self._secret)
        return ref, signer

    def _cv_key(self, key: PublicKey, *, domain: bool) -> cvc.CvPublicKey:
        return cvc.public_key_from_cryptography(key, domain_parameters=domain)

    def _check_curve(self, key: cvc.CvPublicKey, what: str) -> None:
        """DV and terminal keys use the CVCA's domain parameters (TR-03110-3 D.3.3)."""
        domain = self.domain()
        if isinstance(key, EcPublicKey):
            if domain is None:
                raise PkiError(f"{what}: an EC key under an RSA CVCA")
            if key.domain is not None and key.domain != domain:
                ours = domain.curve.name if domain.curve else "the CVCA's curve"
                raise PkiError(
                    f"{what}: the key is not on {ours}, whose domain parameters DV and "
                    "terminal keys inherit (TR-03110-3 D.3.3)"
                )
        elif domain is not None:
            raise PkiError(f"{what}: an RSA key under an EC CVCA")

    def _dates(
        self, today: date, role: Role, days: int | None, issuer: Certificate | None
    ) -> tuple[date, date, tuple[str, ...]]:
        length = _check_days(role, days)
        if issuer is not None and not issuer.valid_on(today):
            raise PkiError(
                f"the issuer's certificate {issuer.chr} is not valid on {today.isoformat()} "
                f"({issuer.effective.isoformat()} to {issuer.expiration.isoformat()})"
            )
        expiration = today + timedelta(days=length - 1)
        notes: tuple[str, ...] = ()
        if issuer is not None and expiration > issuer.expiration:
            expiration = issuer.expiration
            notes = (f"expiration cut back to that of {issuer.chr} ({expiration.isoformat()})",)
        return today, expiration, notes

    def _store_issued(self, cert: Certificate, *, link: bool = False) -> Path:
        name = f"{cert.car}-{cert.chr}" if link else str(cert.chr)
        folder = self.config.links_dir if link else self.config.issued_dir
        path = folder / f"{name}{CERT_SUFFIX}"
        _write(path, cert.raw, overwrite=False)
        return path

    def _make_current(self, name: CurrentName, cert: Certificate, key_ref: str) -> None:
        _write(self.config.path(name), cert.raw)
        if name == "cvca":
            self.config = dataclasses.replace(self.config, cvca_key=key_ref)
        elif name == "dv":
            self.config = dataclasses.replace(self.config, dv_key=key_ref)
        else:
            self.config = dataclasses.replace(self.config, is_key=key_ref)
        self.config.save()

    # --- operations -------------------------------------------------------------------------

    def _subject_key(
        self,
        role: Role,
        state: EacState,
        request: CertificateRequest | None,
        outer_certificates: Iterable[Certificate],
        require_outer: bool,
        key_spec: str | None,
        mnemonic: str | None,
    ) -> tuple[CertificateReference, cvc.CvPublicKey, str | None, list[str]]:
        """The holder reference, CV public key (without domain parameters) and, when the key is
        in this PKI's store, its reference, of the certificate to issue."""
        notes: list[str] = []
        if request is None:
            chr = state.next_reference(self.config.country, mnemonic or MNEMONICS[role])
            key_ref, signer = self._new_key(_key_name(chr), key_spec)
            full = self._cv_key(signer.public_key(), domain=True)
            self._check_curve(full, f"{role.label} {chr}")
            cv_key = full.with_domain(None) if isinstance(full, EcPublicKey) else full
            return chr, cv_key, key_ref, notes
        what = f"request {request.body.chr}"
        inner = inner_signature_check(request)
        if inner.status != "valid":
            raise PkiError(
                f"{what}: the inner signature (proof of possession) does not verify"
                + (f" ({inner.detail})" if inner.detail else "")
            )
        if request.is_authenticated:
            index = self.index()
            for cert in outer_certificates:
                index.add(Path("<given>"), cert)
            outer = index.check_outer(request)
            if outer.status != "valid":
                raise PkiError(
                    f"{what}: the outer signature by {request.outer_car} "
                    + ("does not verify" if outer.status == "invalid" else "cannot be checked")
                    + (f" ({outer.detail})" if outer.detail else "")
                )
            notes.append(f"outer signature by {request.outer_car} verified")
        elif require_outer:
            raise PkiError(f"{what} is not authenticated (no outer signature)")
        key = request.body.public_key
        self._check_curve(key, what)
        if isinstance(key, EcPublicKey):
            key = key.with_domain(None)
        if self.index().holders(request.body.chr):
            raise PkiError(f"{what}: a certificate of {request.body.chr} was issued already")
        state.note(request.body.chr, self.config.country)
        pending = state.pending.pop(str(request.body.chr), None)
        return request.body.chr, key, pending, notes

    def issue_dv(
        self,
        now: datetime,
        *,
        foreign: bool = False,
        request: CertificateRequest | None = None,
        outer_certificates: Iterable[Certificate] = (),
        require_outer: bool = False,
        key_spec: str | None = None,
        days: int | None = None,
        read_dg3: bool = True,
        read_dg4: bool = True,
        mnemonic: str | None = None,
        make_current: bool | None = None,
    ) -> Issued:
        """A Document Verifier certificate signed by the current CVCA, for a new key in this
        PKI's store or from a certificate request (its inner signature checked, and its outer
        one when it is authenticated). A domestic DV whose key is in the store becomes the
        current DV (unless ``make_current`` is False)."""
        role = Role.DV_FOREIGN if foreign else Role.DV_DOMESTIC
        current = make_current if make_current is not None else not foreign
        return self._issue(
            now, role, "cvca", "dv" if current else None, request, outer_certificates,
            require_outer, key_spec, days, read_dg3, read_dg4, mnemonic,
        )  # fmt: skip

    def issue_is(
        self,
        now: datetime,
        *,
        request: CertificateRequest | None = None,
        outer_certificates: Iterable[Certificate] = (),
        require_outer: bool = False,
        key_spec: str | None = None,
        days: int | None = None,
        read_dg3: bool = True,
        read_dg4: bool = True,
        mnemonic: str | None = None,
        make_current: bool = True,
    ) -> Issued:
        """An inspection-system certificate signed by the current DV, for a new key or from a
        request (see :meth:`issue_dv`). One whose key is in the store becomes the current IS."""
        return self._issue(
            now, Role.INSPECTION_SYSTEM, "dv", "is" if make_current else None, request,
            outer_certificates, require_outer, key_spec, days, read_dg3, read_dg4, mnemonic,
        )  # fmt: skip

    def _issue(
        self,
        now: datetime,
        role: Role,
        issuer: CurrentName,
        becomes: CurrentName | None,
        request: CertificateRequest | None,
        outer_certificates: Iterable[Certificate],
        require_outer: bool,
        key_spec: str | None,
        days: int | None,
        read_dg3: bool,
        read_dg4: bool,
        mnemonic: str | None,
    ) -> Issued:
        """A ``role`` certificate signed by the current ``issuer``; one whose key is in the store
        becomes the current ``becomes`` (None: it does not)."""
        state = EacState.load(self.config.folder)
        signing = self.certificate(issuer)
        effective, expiration, cut = self._dates(now.date(), role, days, signing)
        chr, key, key_ref, notes = self._subject_key(
            role, state, request, outer_certificates, require_outer, key_spec, mnemonic
        )
        body = CertificateBody.build(
            car=signing.chr,
            public_key=key,
            chr=chr,
            chat=Chat.build(role, read_dg3=read_dg3, read_dg4=read_dg4),
            effective=effective,
            expiration=expiration,
        )
        cert = self._sign(body, self.signer(issuer), signing.public_key.oid, now)
        path = self._store_issued(cert)
        state.save(self.config.folder)
        if key_ref is not None and becomes is not None:
            self._make_current(becomes, cert, key_ref)
        return Issued(cert, path, key_ref, (*cut, *notes))

    def link(
        self, now: datetime, *, key_spec: str | None = None, days: int | None = None
    ) -> Rollover:
        """CVCA rollover (TR-03110-3 §2.3 / C.1): a new CVCA key, its self-signed certificate,
        and the link certificate of the new key signed by the old CVCA (CAR = the old CHR), which
        a chip that trusts the old CVCA verifies to update its trust point. The new CVCA
        becomes the current one; the DV and IS certificates under the old one stay valid until
        they expire."""
        state = EacState.load(self.config.folder)
        old = self.certificate("cvca")
        old_signer = self.signer("cvca")
        today = now.date()
        effective, expiration, _ = self._dates(today, Role.CVCA, days, None)
        if not old.valid_on(today):
            raise PkiError(
                f"the CVCA certificate {old.chr} expired on {old.expiration.isoformat()}: a link "
                "certificate must be signed while it is valid"
            )
        chr = state.next_reference(self.config.country, old.chr.mnemonic or MNEMONICS[Role.CVCA])
        spec = key_spec or self.config.key_spec
        key_ref, signer = self._new_key(_key_name(chr), spec)
        cv_key = self._cv_key(signer.public_key(), domain=True)
        chat = Chat.build(Role.CVCA, read_dg3=old.chat.read_dg3, read_dg4=old.chat.read_dg4)
        self_body = CertificateBody.build(
            car=chr, public_key=cv_key, chr=chr, chat=chat, effective=effective,
            expiration=expiration,
        )  # fmt: skip
        link_body = CertificateBody.build(
            car=old.chr, public_key=cv_key, chr=chr, chat=chat, effective=effective,
            expiration=expiration,
        )  # fmt: skip
        self_cert = self._sign(self_body, signer, None, now)
        link_cert = self._sign(link_body, old_signer, old.public_key.oid, now)
        self_path = self._store_issued(self_cert)
        link_path = self._store_issued(link_cert, link=True)
        state.save(self.config.folder)
        self._make_current("cvca", self_cert, key_ref)
        if spec != self.config.key_spec:
            self.config = dataclasses.replace(self.config, key_spec=spec)
            self.config.save()
        return Rollover(Issued(self_cert, self_path, key_ref), Issued(link_cert, link_path), old)

    def request(
        self,
        now: datetime,
        *,
        role: Literal["dv", "is"],
        key: str | None = None,
        key_spec: str | None = None,
        chr: str | None = None,
        car: str | None = None,
        outer: CurrentName | None = None,
        foreign: bool = False,
    ) -> Requested:
        """A certificate request (TR-03110-3 C.2) for a new key in this PKI's store (or the
        existing key ``key``, a key reference), signed by it and, with ``outer``, wrapped and
        signed by the current certificate's key of ``cvca``, ``dv`` or ``is`` (outer CAR = its
        CHR). The recommended CAR defaults to the current CVCA (DV) or DV (IS). A new key is
        remembered: certifying the request later makes it current."""
        state = EacState.load(self.config.folder)
        subject_role = (
            Role.INSPECTION_SYSTEM
            if role == "is"
            else (Role.DV_FOREIGN if foreign else Role.DV_DOMESTIC)
        )
        holder = (
            CertificateReference(chr)
            if chr
            else state.next_reference(self.config.country, MNEMONICS[subject_role])
        )
        if key is None:
            key_ref, signer = self._new_key(_key_name(holder), key_spec)
            state.pending[holder.value] = key_ref
        else:
            key_ref, signer = key, open_signer(key, self._secret)
        cv_key = self._cv_key(signer.public_key(), domain=True)
        if car is None:
            current: CurrentName = "cvca" if role == "dv" else "dv"
            car = str(self.certificate(current).chr) if self.config.path(current).exists() else None
        body = RequestBody.build(public_key=cv_key, chr=holder, car=car)
        if outer is not None:
            outer_cert = self.certificate(outer)
            outer_signer = self.signer(outer)
            request = cvc.sign_request(
                body,
                signer,
                outer_car=outer_cert.chr,
                outer_signer=outer_signer,
                outer_algorithm=outer_cert.public_key.oid,
            )
            self._audit(
                now, "cvc-request-outer-signed", outer_signer.key_id, request.outer_signed_data,
                chr=str(holder), outer_car=str(outer_cert.chr),
            )  # fmt: skip
        else:
            request = cvc.sign_request(body, signer)
        self._audit(
            now, "cvc-request-signed", signer.key_id, body.raw, chr=str(holder),
            car=str(car) if car else "",
        )  # fmt: skip
        state.save(self.config.folder)
        return Requested(request, key_ref)


def init_eac(
    keys_folder: Path,
    *,
    country: str,
    secret_spec: str,
    secret: bytes,
    now: datetime,
    store: str = "file",
    key_spec: str = DEFAULT_KEY_SPEC,
    is_read_dg4: bool = True,
) -> EacPki:
    """A CV PKI in ``KEYS/eac``: a CVCA (self-signed, read DG3 + DG4, domain parameters
    included), a domestic DV (signed by the CVCA) and an inspection system (signed by the DV,
    read DG3 and, unless ``is_read_dg4`` is False, DG4). ``pki init`` calls this too."""
    folder = eac_folder(keys_folder)
    if (folder / CONFIG).exists():
        raise PkiError(f"{folder / CONFIG} exists: this keys folder already holds a CV PKI")
    KeySpec.parse(key_spec)  # a bad spec fails before anything is written
    keys_folder.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    country = country.upper()
    state = EacState()
    chr = state.next_reference(country, MNEMONICS[Role.CVCA])
    cvca_ref = key_ref_for(store, _key_name(chr))
    config = EacConfig(
        folder=folder,
        country=country,
        store=store,
        key_spec=key_spec,
        secret=secret_spec,
        cvca_key=cvca_ref,
        dv_key=cvca_ref,  # replaced as soon as the DV is issued
        is_key=cvca_ref,
    )
    pki = EacPki(config, secret)
    signer = generate_key(config.ref(cvca_ref), key_spec, secret)
    length = _check_days(Role.CVCA, None)
    body = CertificateBody.build(
        car=chr,
        public_key=cvc.public_key_from_cryptography(signer.public_key(), domain_parameters=True),
        chr=chr,
        chat=Chat.build(Role.CVCA, read_dg3=True, read_dg4=True),
        effective=now.date(),
        expiration=now.date() + timedelta(days=length - 1),
    )
    cvca = pki._sign(body, signer, None, now)
    pki._store_issued(cvca)
    _write(config.path("cvca"), cvca.raw)
    state.save(folder)
    config.save()
    pki.issue_dv(now)
    pki.issue_is(now, read_dg4=is_read_dg4)
    return pki


def today_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- reading a CV file (for `eac show`) ---------------------------------------------------------


@dataclass(frozen=True)
class CvFile:
    """A decoded CV certificate or certificate request, and what its signatures say."""

    path: Path
    certificate: Certificate | None
    request: CertificateRequest | None
    signature: SignatureCheck
    outer_signature: SignatureCheck | None = None

    def describe(self, today: date | None = None) -> dict[str, object]:
        if self.certificate is not None:
            cert = self.certificate
            kind = cert.role.label
            if cert.role is Role.CVCA:
                kind = "CVCA" if cert.is_self_signed else "CVCA link"
            out: dict[str, object] = {
                "type": "certificate",
                "kind": kind,
                "car": str(cert.car),
                "chr": str(cert.chr),
                "role": cert.role.label,
                "read_dg3": cert.chat.read_dg3,
                "read_dg4": cert.chat.read_dg4,
                "effective": cert.effective,
                "expiration": cert.expiration,
                "valid_today": cert.valid_on(today) if today is not None else None,
                "public_key": cert.public_key.describe(),
                "chat": cert.chat.describe(),
                "extensions": [e.name for e in cert.body.extensions],
                "signature": self.signature.describe(),
                "sha256": hashlib.sha256(cert.raw).hexdigest(),
            }
            return out
        assert self.request is not None
        req = self.request
        return {
            "type": "request",
            "kind": "authenticated request" if req.is_authenticated else "request",
            "car": str(req.body.car) if req.body.car is not None else None,
            "chr": str(req.body.chr),
            "outer_car": str(req.outer_car) if req.outer_car is not None else None,
            "public_key": req.body.public_key.describe(),
            "extensions": [e.name for e in req.body.extensions],
            "signature": self.signature.describe(),
            "outer_signature": (
                self.outer_signature.describe() if self.outer_signature is not None else None
            ),
            "sha256": hashlib.sha256(req.raw).hexdigest(),
        }


def decode_cv(data: bytes) -> Certificate | CertificateRequest:
    """A CV certificate or a certificate request, whichever ``data`` is (strict decode)."""
    if data[:1] == bytes([cvc.TAG_AUTHENTICATION]):
        return CertificateRequest.from_bytes(data)
    try:
        return Certificate.from_bytes(data)
    except EncodingError as certificate_error:
        try:
            return CertificateRequest.from_bytes(data)
        except EncodingError:
            raise certificate_error from None


def read_cv_file(path: Path, search: Iterable[Path] = ()) -> CvFile:
    """Decode ``path`` and check its signature against the issuer's certificate found in
    ``path``'s own folder or in ``search`` (e.g. ``KEYS/eac``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PkiError(f"cannot read {path}: {exc.strerror}") from None
    try:
        value = decode_cv(data)
    except EncodingError as exc:
        raise EncodingError(f"{path}: not a CV certificate or request ({exc})") from None
    own = [path.parent]
    if path.parent.name in (ISSUED, LINKS):  # a file of a CV PKI folder: search all of it
        own.append(path.parent.parent)
    index = CertificateIndex.from_folders([*own, *search])
    if isinstance(value, Certificate):
        return CvFile(path, value, None, index.check(value))
    outer = index.check_outer(value) if value.is_authenticated else None
    return CvFile(path, None, value, inner_signature_check(value), outer)
