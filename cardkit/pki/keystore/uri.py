"""Key references: one string names a key in any store.

=========================================  ==============================================
``file:keys/dsc.pem``                      encrypted PKCS#8 PEM (RFC 5958), cert in
                                           ``keys/dsc.crt.pem`` next to it
``p12:keys/dsc.p12``                       PKCS#12 (RFC 7292) holding one key and its chain
``jks:keys/store.jks#alias``               Java KeyStore private-key entry
``jceks:keys/store.jceks#alias``           JCEKS private-key entry (read only)
``pkcs11:token=CSCA;object=dsc-2026-01``   a key on a PKCS#11 token (RFC 7512 URI)
=========================================  ==============================================

PKCS#11 URIs follow RFC 7512: path attributes ``token``, ``object``, ``id`` (percent-encoded
bytes) and ``type`` separated by ``;``, query attributes after ``?`` separated by ``&``. The
``module-path`` attribute (RFC 7512 §2.3, accepted in either part) names the PKCS#11 library;
without it ``$CARDKIT_PKCS11_MODULE`` or SoftHSM2's ``/usr/lib/softhsm/libsofthsm2.so`` is used.
``pin-value`` and ``pin-source`` are refused: PINs come from a secret spec
(:mod:`cardkit.pki.secrets`), never from a key reference that ends up in logs.

Key references are not secret: they appear in messages and as :attr:`Signer.key_id`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding import oids
from cardkit.errors import KeyStoreError
from cardkit.pki.signer import PrivateKey

Scheme = Literal["file", "p12", "jks", "jceks", "pkcs11"]
SCHEMES: tuple[Scheme, ...] = ("file", "p12", "jks", "jceks", "pkcs11")
DEFAULT_PKCS11_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PKCS11_MODULE_ENV = "CARDKIT_PKCS11_MODULE"

_EXAMPLES = (
    "file:keys/dsc.pem, p12:keys/dsc.p12, jks:keys/store.jks#alias, "
    "jceks:keys/store.jceks#alias or pkcs11:token=LABEL;object=KEY-LABEL"
)
_PKCS11_PATH_ATTRS = {"token", "object", "id", "type", "module-path"}
_PKCS11_TYPES = {"private", "public", "cert", "secret-key", "data"}
# RFC 7512 §2.3 "pchar" minus the attribute separators: what may stay unescaped in a value.
_PKCS11_SAFE = "-._~:[]@!$'()*+,/"


@dataclass(frozen=True)
class KeyRef:
    """A parsed, validated key reference. ``str(ref)`` gives back its canonical URI."""

    scheme: Scheme
    path: str | None = None  # store file for file/p12/jks/jceks
    alias: str | None = None  # jks/jceks entry alias
    token: str | None = None  # pkcs11 token label
    object: str | None = None  # pkcs11 object label (CKA_LABEL)
    id: bytes | None = None  # pkcs11 CKA_ID
    module_path: str | None = None  # pkcs11 library; None: the default (see module())

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise KeyStoreError(f"unknown key store scheme {self.scheme!r}: use {_EXAMPLES}")
        if self.scheme == "pkcs11":
            if self.path is not None or self.alias is not None:
                raise KeyStoreError("pkcs11: key references take token=/object=, not a path")
            if not self.token:
                raise KeyStoreError(
                    "pkcs11: key reference needs the token label: pkcs11:token=LABEL;object=KEY"
                )
            if not self.object and not self.id:
                raise KeyStoreError(
                    f"pkcs11:token={self.token}: name the key with object=LABEL (or id=)"
                )
            return
        if self.token or self.object or self.id or self.module_path:
            raise KeyStoreError(
                f"{self.scheme}: key references take a path, not PKCS#11 attributes"
            )
        if not self.path:
            raise KeyStoreError(f"{self.scheme}: key reference needs a path, e.g. {_EXAMPLES}")
        if self.scheme in ("jks", "jceks"):
            if not self.alias:
                raise KeyStoreError(f"{self} needs an entry alias: {self.scheme}:{self.path}#alias")
        elif self.alias is not None:
            raise KeyStoreError(
                f"{self.scheme}:{self.path}: this store holds one key, drop the #{self.alias}"
            )

    @classmethod
    def parse(cls, text: str) -> KeyRef:
        """Parse a key reference; :class:`KeyStoreError` with an example when it is malformed."""
        scheme, sep, rest = text.partition(":")
        if not sep or scheme not in SCHEMES:
            raise KeyStoreError(f"key reference {text!r} has no known scheme: write {_EXAMPLES}")
        if scheme == "pkcs11":
            return cls._parse_pkcs11(rest)
        if scheme == "file" and rest.startswith("///"):
            rest = rest[2:]  # RFC 8089 file:///abs/path
        path, hash_sign, alias = rest.partition("#")
        return cls(
            scheme,  # narrowed to Scheme by the membership test above
            path=path,
            alias=alias if hash_sign else None,
        )

    @classmethod
    def _parse_pkcs11(cls, rest: str) -> KeyRef:
        path_part, _, query_part = rest.partition("?")
        attrs: dict[str, bytes] = {}
        pieces = [p for p in path_part.split(";") if p]
        pieces += [q for q in query_part.split("&") if q]
        for piece in pieces:
            name, eq, raw_value = piece.partition("=")
            if name in ("pin-value", "pin-source"):
                raise KeyStoreError(
                    f"pkcs11: {name} is not accepted in a key reference: "
                    "give the PIN through a secret spec (env:VAR, file:PATH, prompt, stdin)"
                )
            if name not in _PKCS11_PATH_ATTRS:
                raise KeyStoreError(
                    f"pkcs11: unsupported attribute {name!r} "
                    "(supported: token, object, id, type, module-path)"
                )
            if not eq:
                raise KeyStoreError(f"pkcs11: attribute {name} needs a value ({name}=...)")
            if name in attrs:
                raise KeyStoreError(f"pkcs11: attribute {name} given twice")
            attrs[name] = unquote_to_bytes(raw_value)
        text_attrs: dict[str, str] = {}
        for name in ("token", "object", "type", "module-path"):
            if name in attrs:
                try:
                    text_attrs[name] = attrs[name].decode("utf-8")
                except UnicodeDecodeError:
                    raise KeyStoreError(f"pkcs11: attribute {name} is not UTF-8") from None
        if "type" in text_attrs and text_attrs["type"] not in _PKCS11_TYPES:
            raise KeyStoreError(
                f"pkcs11: type={text_attrs['type']} is not one of {sorted(_PKCS11_TYPES)}"
            )
        return cls(
            "pkcs11",
            token=text_attrs.get("token"),
            object=text_attrs.get("object"),
            id=attrs.get("id"),
            module_path=text_attrs.get("module-path"),
        )

    @property
    def file(self) -> Path:
        """The store file (file/p12/jks/jceks)."""
        if self.path is None:
            raise KeyStoreError(f"{self} has no file")
        return Path(self.path)

    def module(self) -> str:
        """The PKCS#11 library to load: ``module-path=``, else ``$CARDKIT_PKCS11_MODULE``,
        else SoftHSM2's default path."""
        return self.module_path or os.environ.get(PKCS11_MODULE_ENV) or DEFAULT_PKCS11_MODULE

    def __str__(self) -> str:
        if self.scheme != "pkcs11":
            base = f"{self.scheme}:{self.path}"
            return f"{base}#{self.alias}" if self.alias is not None else base
        parts = [f"token={quote(self.token or '', safe=_PKCS11_SAFE)}"]
        if self.object:
            parts.append(f"object={quote(self.object, safe=_PKCS11_SAFE)}")
        if self.id:
            parts.append(f"id={quote_from_bytes(self.id, safe='')}")
        uri = "pkcs11:" + ";".join(parts)
        if self.module_path:
            uri += f"?module-path={quote(self.module_path, safe=_PKCS11_SAFE)}"
        return uri


def as_keyref(ref: str | KeyRef) -> KeyRef:
    """Accept either form in public APIs."""
    return ref if isinstance(ref, KeyRef) else KeyRef.parse(ref)


# Curves cardkit generates keys on (9303-12 §4.1 / BSI TR-03116-2 recommend these), with the
# OID a PKCS#11 token expects in CKA_EC_PARAMS (RFC 5480 namedCurve, RFC 5639 for Brainpool).
_EC_CURVES: dict[str, tuple[type[ec.EllipticCurve], str]] = {
    "secp256r1": (ec.SECP256R1, oids.SECP256R1),
    "secp384r1": (ec.SECP384R1, oids.SECP384R1),
    "secp521r1": (ec.SECP521R1, oids.SECP521R1),
    "brainpoolP256r1": (ec.BrainpoolP256R1, oids.BRAINPOOL_P256R1),
    "brainpoolP384r1": (ec.BrainpoolP384R1, oids.BRAINPOOL_P384R1),
    "brainpoolP512r1": (ec.BrainpoolP512R1, oids.BRAINPOOL_P512R1),
}
_RSA_BITS = range(2048, 4097)
_KEY_SPEC_HELP = "use ec:" + "|ec:".join(_EC_CURVES) + " or rsa:2048..rsa:4096"


@dataclass(frozen=True)
class KeySpec:
    """What key to generate: ``ec:secp256r1``, ``ec:brainpoolP256r1``, ``rsa:3072``, ..."""

    algorithm: Literal["ec", "rsa"]
    curve: str | None = None  # EC curve name, as in _EC_CURVES
    bits: int | None = None  # RSA modulus size

    def __post_init__(self) -> None:
        if self.algorithm == "ec":
            if self.curve not in _EC_CURVES or self.bits is not None:
                raise KeyStoreError(f"unsupported key spec ec:{self.curve}: {_KEY_SPEC_HELP}")
        elif self.algorithm == "rsa":
            if self.bits is None or self.bits not in _RSA_BITS or self.bits % 8 or self.curve:
                raise KeyStoreError(f"unsupported key spec rsa:{self.bits}: {_KEY_SPEC_HELP}")
        else:
            raise KeyStoreError(f"unsupported key algorithm {self.algorithm!r}: {_KEY_SPEC_HELP}")

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        algorithm, _, param = text.partition(":")
        if algorithm == "ec":
            return cls("ec", curve=param)
        if algorithm == "rsa" and param.isdigit():
            return cls("rsa", bits=int(param))
        raise KeyStoreError(f"unsupported key spec {text!r}: {_KEY_SPEC_HELP}")

    @property
    def curve_oid(self) -> str:
        """The namedCurve OID (EC only)."""
        return _EC_CURVES[self.curve or ""][1]

    def generate(self) -> PrivateKey:
        """Generate the key in this process (for the file, PKCS#12 and JKS stores)."""
        if self.algorithm == "ec":
            return ec.generate_private_key(_EC_CURVES[self.curve or ""][0]())
        return rsa.generate_private_key(public_exponent=65537, key_size=self.bits or 0)

    def __str__(self) -> str:
        return f"ec:{self.curve}" if self.algorithm == "ec" else f"rsa:{self.bits}"


def curve_for_oid(oid: str) -> ec.EllipticCurve:
    """The cryptography curve for a namedCurve OID (PKCS#11 CKA_EC_PARAMS)."""
    for curve_type, curve_oid in _EC_CURVES.values():
        if curve_oid == oid:
            return curve_type()
    raise KeyStoreError(f"unsupported EC curve {oids.name_of(oid)}")
