"""Keys on a PKCS#11 token (``pkcs11:token=CSCA;object=dsc-2026-01``), via python-pkcs11.

Sessions. PKCS#11 login state belongs to the *application*, not to a session: a second
``C_Login`` answers ``CKR_USER_ALREADY_LOGGED_IN`` and closing any logged-in session with
``C_Logout`` logs out every session. So this module keeps ONE logged-in read/write session per
(module, token), shared by every signer and transport key on that token, guarded by a lock
(a PKCS#11 session must not run two operations at once). Signing thousands of documents in a
loop therefore costs one ``C_Sign`` each, no login. :func:`close_all_sessions` ends them
(tests, shutdown). Not fork safe: open keys after forking worker processes.

Mechanisms (checked on SoftHSM 2.6.1 / OpenSSL 3.0):

* EC: SoftHSM2 has no ``CKM_ECDSA_SHA256``; the hash is computed here and signed with raw
  ``CKM_ECDSA``, whose r‖s output (PKCS#11 v2.40 §2.3.1) is re-encoded as DER
  ``ECDSA-Sig-Value`` (RFC 3279 §2.2.3) — the form X.509 and CMS carry.
* RSA: ``CKM_SHA{256,384,512}_RSA_PKCS_PSS`` with MGF1 of the same hash and a salt as long as
  the hash (RFC 4055), or ``CKM_SHA{256,384,512}_RSA_PKCS``.
* Key generation on the token: ``CKA_SENSITIVE`` true, ``CKA_EXTRACTABLE`` false, sign only.
  SoftHSM2 generates P-256/P-384/P-521 *and* brainpoolP256r1/P384r1/P512r1 (its OpenSSL has
  them); the curve is passed as the namedCurve OID in ``CKA_EC_PARAMS`` (python-pkcs11's
  helper does not know Brainpool names, cardkit encodes the OID itself).

PINs are passed to python-pkcs11 as ``str`` (it UTF-8 encodes them) and never stored: only a
salted hash is kept to recognise the same PIN for the shared session.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass, field
from typing import Any, cast

import pkcs11
from asn1crypto.core import OctetString
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import MGF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11x

from cardkit.encoding import oids
from cardkit.errors import EncodingError, KeyStoreError
from cardkit.pki.keystore.uri import KeyRef, KeySpec, curve_for_oid
from cardkit.pki.secrets import secret_text
from cardkit.pki.signer import HASHES, PublicKey, SignatureScheme

_PSS = {
    "sha256": (Mechanism.SHA256_RSA_PKCS_PSS, Mechanism.SHA256, MGF.SHA256),
    "sha384": (Mechanism.SHA384_RSA_PKCS_PSS, Mechanism.SHA384, MGF.SHA384),
    "sha512": (Mechanism.SHA512_RSA_PKCS_PSS, Mechanism.SHA512, MGF.SHA512),
}
_PKCS1 = {
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}

_PIN_SALT = os.urandom(16)  # per process: the PIN hash is useless outside it


def _pin_digest(pin: bytes) -> bytes:
    return hmac.new(_PIN_SALT, pin, hashlib.sha256).digest()


@dataclass
class TokenSession:
    """The shared logged-in session on one token. Use :attr:`lock` around every call."""

    module: str
    token_label: str
    session: Any  # pkcs11.Session (python-pkcs11 types are partial)
    pin_digest: bytes = field(repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)


_registry_lock = threading.Lock()
_sessions: dict[tuple[str, str], TokenSession] = {}


def _load_module(module: str) -> Any:
    if not os.path.exists(module):
        raise KeyStoreError(
            f"PKCS#11 module {module} not found: install it (SoftHSM2: apt install softhsm2) "
            "or set module-path= in the key reference / $CARDKIT_PKCS11_MODULE"
        )
    try:
        return pkcs11.lib(module)
    except (p11x.PKCS11Error, OSError, RuntimeError) as exc:
        raise KeyStoreError(f"cannot load PKCS#11 module {module}: {exc}") from None


def _find_token(lib: Any, module: str, label: str) -> Any:
    try:
        return lib.get_token(token_label=label)
    except p11x.NoSuchToken:
        pass
    except p11x.MultipleTokensReturned:
        raise KeyStoreError(f"several PKCS#11 tokens are labelled {label!r}") from None
    # A token initialised after the module was loaded is only seen after C_Finalize /
    # C_Initialize; that is only safe while no session of ours is open on this module.
    if not any(key[0] == module for key in _sessions):
        lib.reinitialize()
        try:
            return lib.get_token(token_label=label)
        except p11x.NoSuchToken:
            pass
    labels = sorted({t.label for t in lib.get_tokens() if t.label})
    raise KeyStoreError(
        f"no PKCS#11 token labelled {label!r} in {module} (tokens: {', '.join(labels) or 'none'})"
    )


def token_session(ref: KeyRef, pin: bytes | None) -> TokenSession:
    """The shared logged-in session for ``ref``'s token, opening it (login) if needed."""
    if not pin:
        raise KeyStoreError(f"{ref}: a token PIN is needed")
    module = ref.module()
    label = ref.token or ""
    digest = _pin_digest(pin)
    with _registry_lock:
        existing = _sessions.get((module, label))
        if existing is not None:
            if not hmac.compare_digest(existing.pin_digest, digest):
                raise KeyStoreError(f"wrong PIN for PKCS#11 token {label!r}")
            return existing
        token = _find_token(_load_module(module), module, label)
        pin_text = secret_text(pin, f"PIN for token {label!r}")
        try:
            session = token.open(rw=True, user_pin=pin_text)
        except (p11x.PinIncorrect, p11x.PinInvalid, p11x.PinLenRange):
            raise KeyStoreError(f"wrong PIN for PKCS#11 token {label!r}") from None
        except p11x.PinLocked:
            raise KeyStoreError(f"the PIN of PKCS#11 token {label!r} is locked") from None
        except p11x.PKCS11Error as exc:
            raise KeyStoreError(
                f"cannot log in to PKCS#11 token {label!r}: {type(exc).__name__}"
            ) from None
        opened = TokenSession(module, label, session, digest)
        _sessions[(module, label)] = opened
        return opened


def close_all_sessions() -> None:
    """Log out and close every shared session (signers opened before become unusable)."""
    with _registry_lock:
        for opened in _sessions.values():
            # PKCS11Error: the session is already gone (token removed, module finalised).
            with opened.lock, contextlib.suppress(p11x.PKCS11Error):
                opened.session.close()
        _sessions.clear()


def _template(ref: KeyRef, object_class: ObjectClass) -> dict[Attribute, Any]:
    attrs: dict[Attribute, Any] = {Attribute.CLASS: object_class}
    if ref.object:
        attrs[Attribute.LABEL] = ref.object
    if ref.id:
        attrs[Attribute.ID] = ref.id
    return attrs


def _objects(ts: TokenSession, ref: KeyRef, object_class: ObjectClass) -> list[Any]:
    with ts.lock:
        try:
            return list(ts.session.get_objects(_template(ref, object_class)))
        except p11x.PKCS11Error as exc:
            raise KeyStoreError(f"{ref}: object search failed ({type(exc).__name__})") from None


def _one(ts: TokenSession, ref: KeyRef, object_class: ObjectClass, what: str) -> Any | None:
    found = _objects(ts, ref, object_class)
    if len(found) > 1:
        raise KeyStoreError(f"{ref}: {len(found)} {what} objects match: add id= to the reference")
    return found[0] if found else None


def _public_key(ts: TokenSession, ref: KeyRef) -> PublicKey:
    """From the public-key object, else from the certificate object with the same label."""
    pub = _one(ts, ref, ObjectClass.PUBLIC_KEY, "public key")
    if pub is not None:
        with ts.lock:
            key_type = pub[Attribute.KEY_TYPE]
            if key_type == KeyType.EC:
                params = cast(bytes, pub[Attribute.EC_PARAMS])
                point = cast(bytes, pub[Attribute.EC_POINT])
                return _ec_public_key(ref, params, point)
            if key_type == KeyType.RSA:
                n = int.from_bytes(cast(bytes, pub[Attribute.MODULUS]), "big")
                e = int.from_bytes(cast(bytes, pub[Attribute.PUBLIC_EXPONENT]), "big")
                return rsa.RSAPublicNumbers(e, n).public_key()
        raise KeyStoreError(f"{ref}: unsupported key type {key_type!r}")
    cert = certificate(ts, ref)
    if cert is None:
        raise KeyStoreError(f"{ref}: no public key or certificate object next to the private key")
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise KeyStoreError(f"{ref}: the certificate holds neither an EC nor an RSA key")
    return public


def _ec_public_key(ref: KeyRef, params: bytes, point: bytes) -> ec.EllipticCurvePublicKey:
    try:
        curve = curve_for_oid(oids.from_der(params))
    except EncodingError:
        raise KeyStoreError(f"{ref}: CKA_EC_PARAMS is not a named curve") from None
    # CKA_EC_POINT is a DER OCTET STRING around the X9.62 point (PKCS#11 v2.40 §2.3.3);
    # some tokens return the bare point. Both start with 04, so tell them apart by length.
    bare_length = 1 + 2 * ((curve.key_size + 7) // 8)
    raw = point
    if len(point) != bare_length:
        try:
            raw = cast(bytes, OctetString.load(point).native)
        except ValueError:
            raise KeyStoreError(f"{ref}: CKA_EC_POINT is not a DER OCTET STRING") from None
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, raw)
    except ValueError:
        raise KeyStoreError(f"{ref}: CKA_EC_POINT is not a point on the curve") from None


def certificate(ts: TokenSession, ref: KeyRef) -> x509.Certificate | None:
    """The X.509 certificate object with the key's label (and id), if any."""
    cert = _one(ts, ref, ObjectClass.CERTIFICATE, "certificate")
    if cert is None:
        return None
    with ts.lock:
        der = cast(bytes, cert[Attribute.VALUE])
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise KeyStoreError(f"{ref}: the certificate object is not valid DER X.509") from None


class Pkcs11Signer:
    """A :class:`~cardkit.pki.signer.Signer` whose private key never leaves the token."""

    def __init__(self, ts: TokenSession, ref: KeyRef, private_key: Any, public: PublicKey) -> None:
        self._ts = ts
        self._ref = ref
        self._key = private_key
        self._public = public

    @property
    def key_id(self) -> str:
        return str(self._ref)

    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        try:
            if isinstance(self._public, ec.EllipticCurvePublicKey):
                digest = hashes.Hash(HASHES[scheme.hash]())
                digest.update(data)
                with self._ts.lock:
                    raw = cast(bytes, self._key.sign(digest.finalize(), mechanism=Mechanism.ECDSA))
                half = len(raw) // 2
                if not raw or len(raw) % 2:
                    raise KeyStoreError(f"{self.key_id}: malformed ECDSA signature from the token")
                r = int.from_bytes(raw[:half], "big")
                s = int.from_bytes(raw[half:], "big")
                return encode_dss_signature(r, s)
            if scheme.rsa_padding == "pss":
                mechanism, hash_mech, mgf = _PSS[scheme.hash]
                salt = HASHES[scheme.hash].digest_size
                with self._ts.lock:
                    return cast(
                        bytes,
                        self._key.sign(
                            data, mechanism=mechanism, mechanism_param=(hash_mech, mgf, salt)
                        ),
                    )
            with self._ts.lock:
                return cast(bytes, self._key.sign(data, mechanism=_PKCS1[scheme.hash]))
        except p11x.PKCS11Error as exc:
            raise KeyStoreError(
                f"{self.key_id}: the token refused to sign ({type(exc).__name__})"
            ) from None

    def __repr__(self) -> str:
        return f"Pkcs11Signer(key_id={self.key_id!r})"


def open_signer(ref: KeyRef, pin: bytes | None) -> Pkcs11Signer:
    """Log in (or reuse the session) and find the private key named by ``ref``."""
    ts = token_session(ref, pin)
    key = _one(ts, ref, ObjectClass.PRIVATE_KEY, "private key")
    if key is None:
        raise KeyStoreError(f"no private key {ref.object or ref.id!r} on token {ref.token!r}")
    return Pkcs11Signer(ts, ref, key, _public_key(ts, ref))


def generate_key(ref: KeyRef, spec: KeySpec, pin: bytes | None) -> Pkcs11Signer:
    """Generate a key pair ON the token: sensitive, never extractable, for signing only."""
    if not ref.object:
        raise KeyStoreError(f"{ref}: name the new key with object=LABEL")
    ts = token_session(ref, pin)
    if _objects(ts, ref, ObjectClass.PRIVATE_KEY):
        raise KeyStoreError(f"{ref}: a private key with this label already exists on the token")
    key_id = ref.id or os.urandom(16)
    private_template = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }
    public_template: dict[Attribute, Any] = {Attribute.TOKEN: True, Attribute.VERIFY: True}
    if spec.algorithm == "ec":
        key_type = KeyType.EC
        bits = None
        public_template[Attribute.EC_PARAMS] = oids.der(spec.curve_oid)
    else:
        key_type = KeyType.RSA
        bits = spec.bits
    with ts.lock:
        try:
            ts.session.generate_keypair(
                key_type,
                bits,
                id=key_id,
                label=ref.object,
                store=True,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template=public_template,
                private_template=private_template,
            )
        except p11x.PKCS11Error as exc:
            raise KeyStoreError(
                f"{ref}: the token cannot generate a {spec} key ({type(exc).__name__})"
            ) from None
    return open_signer(ref, pin)


def store_certificate(ref: KeyRef, cert: x509.Certificate, pin: bytes | None) -> None:
    """Import ``cert`` as a certificate object with the key's label and CKA_ID, replacing a
    previous one. The certificate must match the key on the token."""
    signer = open_signer(ref, pin)
    if cert.public_key() != signer.public_key():
        raise KeyStoreError(f"{ref}: the certificate does not belong to this key")
    ts = signer._ts
    with ts.lock:
        key_id = cast(bytes, signer._key[Attribute.ID])
    old = _objects(ts, ref, ObjectClass.CERTIFICATE)
    attrs = {
        Attribute.CLASS: ObjectClass.CERTIFICATE,
        Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.LABEL: ref.object or "",
        Attribute.ID: key_id,
        Attribute.SUBJECT: cert.subject.public_bytes(),
        Attribute.ISSUER: cert.issuer.public_bytes(),
        Attribute.SERIAL_NUMBER: _der_integer(cert.serial_number),
        Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
    }
    with ts.lock:
        try:
            ts.session.create_object(attrs)
            for obj in old:
                obj.destroy()
        except p11x.PKCS11Error as exc:
            raise KeyStoreError(
                f"{ref}: cannot store the certificate ({type(exc).__name__})"
            ) from None


def _der_integer(value: int) -> bytes:
    """CKA_SERIAL_NUMBER is the DER INTEGER (PKCS#11 v2.40 §4.6.3), not the bare bytes."""
    content = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    if len(content) > 127:
        raise KeyStoreError("certificate serial number too long")
    return bytes([0x02, len(content)]) + content


def find_secret_key(ts: TokenSession, ref: KeyRef) -> Any | None:
    """The AES secret-key object named by ``ref`` (for transport keys)."""
    return _one(ts, ref, ObjectClass.SECRET_KEY, "secret key")


def generate_aes_key(ts: TokenSession, ref: KeyRef, key_id: bytes) -> Any:
    """A 256-bit AES key on the token: sensitive, not extractable, encrypt/decrypt only."""
    if _objects(ts, ref, ObjectClass.SECRET_KEY):
        raise KeyStoreError(f"{ref}: a secret key with this label already exists on the token")
    template = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.ENCRYPT: True,
        Attribute.DECRYPT: True,
        Attribute.WRAP: False,
        Attribute.UNWRAP: False,
        Attribute.SIGN: False,
        Attribute.VERIFY: False,
    }
    with ts.lock:
        try:
            return ts.session.generate_key(
                KeyType.AES,
                256,
                id=key_id,
                label=ref.object,
                store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                template=template,
            )
        except p11x.PKCS11Error as exc:
            raise KeyStoreError(
                f"{ref}: the token cannot generate an AES-256 key ({type(exc).__name__})"
            ) from None
