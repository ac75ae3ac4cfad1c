"""Running a (test) state PKI from a keys folder: ``cardkit pki init|issue-dsc|revoke|crl|...``.

A keys folder holds::

    pki.toml          where every key is (key references) and where its password comes from
    state.json        mutable state: the next CRL number and the revoked serials
    csca.*, dsc.*, mls.*, transport.key      keys (encrypted, 0600) and certificates
    trust/            what verifiers need: the CSCA certificate and its current CRL
    masterlist.der    the CSCA master list, signed by the master-list signer
    audit.jsonl       one line per SOD signature (cardkit.pki.audit)

Key references in pki.toml that name files are relative to the folder, so the folder can move.
Nothing secret is in pki.toml: only *where* the password or PIN comes from (``env:VAR``, ...).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cardkit.errors import KeyStoreError, PkiError
from cardkit.pki import certs, crl, masterlist
from cardkit.pki.audit import AuditLog
from cardkit.pki.keystore import certificate_of, generate_key, open_signer, store_certificate
from cardkit.pki.keystore.transport import create_transport_key, open_transport_key
from cardkit.pki.keystore.uri import KeyRef
from cardkit.pki.secrets import read_secret
from cardkit.pki.signer import SignatureScheme, Signer
from cardkit.services.prepare import Issuer

CONFIG = "pki.toml"
STATE = "state.json"
TRUST = "trust"

# Validity periods (9303-12 §5.1, §7.1): a Document Signer signs for a short period, but its
# certificate must outlive every card it signed; a CSCA likewise outlives its Document Signers.
DSC_USAGE = timedelta(days=92)
DSC_VALIDITY = DSC_USAGE + timedelta(days=365 * 12)  # the longest CCCD validity, plus margin
CSCA_USAGE = timedelta(days=365 * 3)
CSCA_VALIDITY = CSCA_USAGE + DSC_VALIDITY
MLS_VALIDITY = timedelta(days=365 * 2)
CRL_PERIOD = timedelta(days=90)  # 9303-12 §7.1.4: at least every 90 days
#: Certificates start this long before they are issued: a signature made at once (the master
#: list, a first SOD) is then strictly inside the signer's validity — some verifiers (pymrtd)
#: reject a signing time equal to notBefore — and a verifier whose clock lags a little agrees.
BACKDATE = timedelta(minutes=10)


def crl_url(country: str) -> str:
    """Where the test PKI says its CSCA's CRL is published (9303-12 §7.1.1 Table 7: the DSC's
    CRLDistributionPoints). A test PKI publishes nothing: the host is in the reserved
    ``.invalid`` domain (RFC 2606), so nothing is ever fetched from the real world."""
    return f"http://pki.invalid/{country.lower()}/csca.crl"


StoreKind = Literal["file", "p12", "jks", "pkcs11"]


@dataclass(frozen=True)
class PkiConfig:
    folder: Path
    country: str
    csca_key: str
    dsc_key: str
    mls_key: str
    transport_key: str
    secret: str  # where the password / PIN comes from, e.g. "env:CARDKIT_KEY_PASSWORD"
    hash: str = "sha256"
    rsa_padding: str = "pss"

    @property
    def scheme(self) -> SignatureScheme:
        return SignatureScheme(self.hash, self.rsa_padding)  # type: ignore[arg-type]

    def ref(self, text: str) -> KeyRef:
        """A key reference with file paths resolved against the keys folder."""
        ref = KeyRef.parse(text)
        if ref.path is not None and not Path(ref.path).is_absolute():
            ref = dataclasses.replace(ref, path=str(self.folder / ref.path))
        return ref

    @property
    def trust_dir(self) -> Path:
        return self.folder / TRUST

    @property
    def csca_certificate_path(self) -> Path:
        return self.trust_dir / "csca.crt.pem"

    @property
    def crl_path(self) -> Path:
        return self.trust_dir / "csca.crl"

    @property
    def masterlist_path(self) -> Path:
        return self.folder / "masterlist.der"

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.folder / "audit.jsonl")

    def read_secret(self) -> bytes:
        return read_secret(self.secret, what=f"password for the keys in {self.folder}")

    def to_toml(self) -> str:
        return (
            "# Written by `cardkit pki init`. Key references are relative to this folder.\n"
            "# `secret` says where the key password (or HSM PIN) comes from: never the secret.\n"
            f'country = "{self.country}"\n'
            f'secret = "{self.secret}"\n'
            f'hash = "{self.hash}"\n'
            f'rsa_padding = "{self.rsa_padding}"\n\n'
            "[keys]\n"
            f'csca = "{self.csca_key}"\n'
            f'dsc = "{self.dsc_key}"\n'
            f'master_list_signer = "{self.mls_key}"\n'
            f'transport = "{self.transport_key}"\n'
        )


def load_config(folder: Path) -> PkiConfig:
    path = folder / CONFIG
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        keys = data["keys"]
        return PkiConfig(
            folder=folder,
            country=str(data["country"]),
            csca_key=str(keys["csca"]),
            dsc_key=str(keys["dsc"]),
            mls_key=str(keys["master_list_signer"]),
            transport_key=str(keys["transport"]),
            secret=str(data["secret"]),
            hash=str(data.get("hash", "sha256")),
            rsa_padding=str(data.get("rsa_padding", "pss")),
        )
    except OSError:
        raise PkiError(f"{path} not found: create a PKI with `cardkit pki init`") from None
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise PkiError(f"{path} is malformed ({exc})") from None


def _refs(kind: str) -> dict[str, str]:
    if kind == "file":
        return {n: f"file:{n}.key.pem" for n in ("csca", "dsc", "mls")}
    if kind == "p12":
        return {n: f"p12:{n}.p12" for n in ("csca", "dsc", "mls")}
    if kind == "jks":
        return {n: f"jks:keystore.jks#{n}" for n in ("csca", "dsc", "mls")}
    if kind.startswith("pkcs11:"):
        base = kind.rstrip(";")
        return {n: f"{base};object={n}" for n in ("csca", "dsc", "mls")}
    raise PkiError(f"unknown key store {kind!r}: file, p12, jks or pkcs11:token=LABEL")


def _named_ref(pattern: str, old: str, new: str) -> str:
    """The reference of key ``new`` in the same store as ``pattern`` (which names ``old``)."""
    if not new.replace("-", "").replace("_", "").isalnum():
        raise PkiError(f"key name {new!r}: use letters, digits, '-' and '_'")
    return (
        pattern.replace(f"{old}.key.pem", f"{new}.key.pem")
        .replace(f"{old}.p12", f"{new}.p12")
        .replace(f"#{old}", f"#{new}")
        .replace(f"object={old}", f"object={new}")
    )


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class State:
    next_crl_number: int
    revoked: tuple[crl.RevokedEntry, ...]

    @classmethod
    def load(cls, folder: Path) -> State:
        try:
            data = json.loads((folder / STATE).read_text(encoding="utf-8"))
            return cls(
                int(data["next_crl_number"]),
                tuple(
                    crl.RevokedEntry(
                        int(r["serial"], 16), datetime.fromisoformat(r["date"]), r.get("reason")
                    )
                    for r in data["revoked"]
                ),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PkiError(f"{folder / STATE} is missing or malformed ({exc})") from None

    def save(self, folder: Path) -> None:
        data: dict[str, Any] = {
            "next_crl_number": self.next_crl_number,
            "revoked": [
                {"serial": format(r.serial, "X"), "date": r.revocation_date.isoformat(),
                 "reason": r.reason}
                for r in self.revoked
            ],
        }  # fmt: skip
        _write_public(folder / STATE, json.dumps(data, indent=2).encode() + b"\n")


class Pki:
    """An opened keys folder: its config and the secret that unlocks its keys."""

    def __init__(self, config: PkiConfig, secret: bytes) -> None:
        self.config = config
        self._secret = secret

    def __repr__(self) -> str:
        return f"Pki({self.config.folder})"

    @classmethod
    def open(cls, folder: Path, secret: bytes | None = None) -> Pki:
        config = load_config(folder)
        return cls(config, secret if secret is not None else config.read_secret())

    def signer(self, name: str) -> Signer:
        return open_signer(self.config.ref(getattr(self.config, f"{name}_key")), self._secret)

    def certificate(self, name: str) -> x509.Certificate:
        cert = certificate_of(self.config.ref(getattr(self.config, f"{name}_key")), self._secret)
        if cert is None:
            raise KeyStoreError(f"no certificate stored with the {name} key")
        return cert

    def issuer(self) -> Issuer:
        """What `cardkit prepare` signs and seals with."""
        transport = open_transport_key(self.config.ref(self.config.transport_key), self._secret)
        return Issuer(
            dsc_signer=self.signer("dsc"),
            dsc_certificate=self.certificate("dsc"),
            transport=transport,
            scheme=self.config.scheme,
        )

    # --- operations ---------------------------------------------------------------------

    def issue_dsc(
        self, key_spec: str, now: datetime, common_name: str, key_name: str | None = None
    ) -> x509.Certificate:
        """A new Document Signer key pair and certificate (9303-12 §5.1: a DSC signs for a
        short period, then a new one takes over). With ``key_name`` the new key is stored under
        that name and becomes the configured DSC; the old key and certificate stay untouched."""
        if key_name is not None:
            new_ref = _named_ref(self.config.csca_key, "csca", key_name)
            self.config = dataclasses.replace(self.config, dsc_key=new_ref)
        ref = self.config.ref(self.config.dsc_key)
        signer = generate_key(ref, key_spec, self._secret)
        cert = certs.issue_dsc(
            self.signer("csca"),
            self.certificate("csca"),
            signer.public_key(),
            common_name=common_name,
            serial=certs.new_serial_number(),
            not_before=max(now - BACKDATE, self.certificate("csca").not_valid_before_utc),
            not_after=now + DSC_VALIDITY,
            private_key_usage_end=now + DSC_USAGE,
            scheme=self.config.scheme,
            crl_distribution_point=crl_url(self.config.country),
        )
        store_certificate(ref, cert, self._secret, chain=(self.certificate("csca"),))
        _write_public(self.config.folder / "dsc.crt.pem", _pem(cert))
        (self.config.folder / CONFIG).write_text(self.config.to_toml(), encoding="utf-8")
        return cert

    def revoke(
        self, serial: int, now: datetime, reason: str | None
    ) -> x509.CertificateRevocationList:
        state = State.load(self.config.folder)
        if any(r.serial == serial for r in state.revoked):
            raise PkiError(f"serial {serial:X} is already revoked")
        entry = crl.RevokedEntry(serial, now, reason)  # type: ignore[arg-type]
        State(state.next_crl_number, (*state.revoked, entry)).save(self.config.folder)
        return self.issue_crl(now)

    def issue_crl(self, now: datetime) -> x509.CertificateRevocationList:
        state = State.load(self.config.folder)
        result = crl.issue_crl(
            self.signer("csca"),
            self.certificate("csca"),
            state.revoked,
            crl_number=state.next_crl_number,
            this_update=now,
            next_update=now + CRL_PERIOD,
            scheme=self.config.scheme,
        )
        State(state.next_crl_number + 1, state.revoked).save(self.config.folder)
        _write_public(self.config.crl_path, result.public_bytes(serialization.Encoding.PEM))
        return result

    def create_master_list(
        self, now: datetime, extra_cscas: tuple[x509.Certificate, ...] = ()
    ) -> bytes:
        data = masterlist.create_master_list(
            self.signer("mls"),
            self.certificate("mls"),
            (self.certificate("csca"), *extra_cscas),
            signing_time=now,
            scheme=self.config.scheme,
        )
        _write_public(self.config.masterlist_path, data)
        return data


def init_pki(
    folder: Path,
    *,
    country: str,
    secret_spec: str,
    secret: bytes,
    now: datetime,
    store: str = "file",
    csca_key_spec: str = "ec:secp384r1",
    dsc_key_spec: str = "ec:secp256r1",
    hash_name: str = "sha256",
    rsa_padding: str = "pss",
    organization: str | None = None,
    eac: bool = False,
    eac_key_spec: str | None = None,
) -> Pki:
    """A complete test PKI: CSCA, DSC, master-list signer, CRL, master list, transport key;
    with ``eac`` also the CV PKI of Extended Access Control in ``folder/eac`` (a CVCA, a DV and
    an inspection system: :func:`cardkit.services.eac_admin.init_eac`)."""
    if (folder / CONFIG).exists():
        raise PkiError(f"{folder / CONFIG} exists: this folder already holds a PKI")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    refs = _refs(store)
    config = PkiConfig(
        folder=folder,
        country=country.upper(),
        csca_key=refs["csca"],
        dsc_key=refs["dsc"],
        mls_key=refs["mls"],
        transport_key=(
            _named_ref(refs["csca"], "csca", "transport")
            if store.startswith("pkcs11:")
            else "file:transport.key"
        ),
        secret=secret_spec,
        hash=hash_name,
        rsa_padding=rsa_padding,
    )
    scheme = config.scheme
    csca_signer = generate_key(config.ref(config.csca_key), csca_key_spec, secret)
    csca = certs.create_csca(
        csca_signer,
        country=config.country,
        common_name=f"CSCA {config.country} (cardkit test)",
        organization=organization,
        serial=certs.new_serial_number(),
        not_before=now - BACKDATE,
        not_after=now + CSCA_VALIDITY,
        private_key_usage_end=now + CSCA_USAGE,
        scheme=scheme,
    )
    store_certificate(config.ref(config.csca_key), csca, secret)
    _write_public(config.csca_certificate_path, _pem(csca))
    mls_signer = generate_key(config.ref(config.mls_key), dsc_key_spec, secret)
    mls = certs.issue_master_list_signer(
        csca_signer,
        csca,
        mls_signer.public_key(),
        common_name=f"Master List Signer {config.country} (cardkit test)",
        serial=certs.new_serial_number(),
        not_before=now - BACKDATE,
        not_after=now + MLS_VALIDITY,
        private_key_usage_end=now + MLS_VALIDITY,
        scheme=scheme,
    )
    store_certificate(config.ref(config.mls_key), mls, secret, chain=(csca,))
    create_transport_key(config.ref(config.transport_key), secret)
    (folder / CONFIG).write_text(config.to_toml(), encoding="utf-8")
    State(1, ()).save(folder)
    pki = Pki(config, secret)
    pki.issue_dsc(dsc_key_spec, now, f"Document Signer {config.country} (cardkit test)")
    pki.issue_crl(now)
    pki.create_master_list(now)
    if eac:
        from cardkit.services.eac_admin import DEFAULT_KEY_SPEC, init_eac

        init_eac(
            folder,
            country=config.country,
            secret_spec=secret_spec,
            secret=secret,
            now=now,
            store=store,
            key_spec=eac_key_spec or DEFAULT_KEY_SPEC,
        )
    return pki
