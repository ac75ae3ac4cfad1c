"""Active authentication (ICAO 9303-11 §6.1): the chip proves it holds the DG15 private key.

The terminal sends INTERNAL AUTHENTICATE ``00 88 00 00`` with an 8-byte random challenge
(RND.IFD) through the secure channel; the chip signs it:

- RSA: ISO/IEC 9796-2 digital signature scheme 1 with partial message recovery, M2 = RND.IFD,
  the hash named by the trailer (``BC`` = SHA-1, ``XX CC`` = SHA-2), see
  :mod:`cardkit.protocol.iso9796`;
- ECDSA: the signature in plain format ``r ‖ s`` (BSI TR-03111 §5.2.1) over RND.IFD with the
  hash named by DG14's ActiveAuthenticationInfo.signatureAlgorithm (ecdsa-plain-SHA* or, as
  several issuers write, ecdsa-with-SHA*; 9303-11 §9.2.4).

9303-11 REQUIRES an ActiveAuthenticationInfo in DG14 for an ECDSA key and defines no default.
When it is missing, cardkit assumes SHA-256 (the hash most EC chips use) and says so in
``AaResult.detail``. A DER ``ECDSA-Sig-Value`` is also accepted when the answer is not plain
``r ‖ s`` (same r and s: no weaker).

A wrong signature is ``AaResult(verified=False, detail=reason)``, not an exception; transport
errors, status-word errors (CardError) and unsupported keys (ProtocolError) propagate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from cardkit.encoding import oids
from cardkit.errors import CardError, EncodingError, ProtocolError
from cardkit.iso7816.apdu import SW, Command
from cardkit.iso7816.connection import Connection
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.protocol import iso9796

STEP = "active authentication"
CHALLENGE_LENGTH = 8
DEFAULT_EC_HASH = "sha256"

#: signatureAlgorithm OID (ActiveAuthenticationInfo) → hash name. The RSA OIDs only matter to
#: the card side (:func:`sign_aa_challenge`): a verifier reads the hash from the trailer.
SIGNATURE_HASHES: Mapping[str, str] = MappingProxyType(
    {
        oids.ECDSA_PLAIN_SHA1: "sha1",
        oids.ECDSA_PLAIN_SHA224: "sha224",
        oids.ECDSA_PLAIN_SHA256: "sha256",
        oids.ECDSA_PLAIN_SHA384: "sha384",
        oids.ECDSA_PLAIN_SHA512: "sha512",
        oids.ECDSA_WITH_SHA1: "sha1",
        oids.ECDSA_WITH_SHA224: "sha224",
        oids.ECDSA_WITH_SHA256: "sha256",
        oids.ECDSA_WITH_SHA384: "sha384",
        oids.ECDSA_WITH_SHA512: "sha512",
        oids.SHA1_WITH_RSA: "sha1",
        oids.SHA224_WITH_RSA: "sha224",
        oids.SHA256_WITH_RSA: "sha256",
        oids.SHA384_WITH_RSA: "sha384",
        oids.SHA512_WITH_RSA: "sha512",
        **dict(oids.HASH_NAMES),
    }
)

_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = MappingProxyType(
    {
        "sha1": hashes.SHA1,
        "sha224": hashes.SHA224,
        "sha256": hashes.SHA256,
        "sha384": hashes.SHA384,
        "sha512": hashes.SHA512,
    }
)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class AaResult:
    """The outcome of active authentication: ``verified``, the ``algorithm`` used (e.g.
    ``"RSA ISO/IEC 9796-2 SHA-1"``, ``"ECDSA SHA-256"``) and a human-readable ``detail``."""

    verified: bool
    algorithm: str
    detail: str


def _hash_for(signature_algorithm_oid: str | None) -> str:
    if signature_algorithm_oid is None:
        return DEFAULT_EC_HASH
    try:
        return SIGNATURE_HASHES[signature_algorithm_oid]
    except KeyError:
        raise ProtocolError(
            f"unsupported AA signature algorithm {oids.name_of(signature_algorithm_oid)}",
            step=STEP,
        ) from None


def _order_length(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> int:
    return (key.curve.key_size + 7) // 8


def parse_plain_signature(signature: bytes, order_length: int) -> tuple[int, int]:
    """``r ‖ s`` (TR-03111 §5.2.1), each ``order_length`` bytes; a DER ECDSA-Sig-Value is
    accepted as well. EncodingError when it is neither."""
    if len(signature) == 2 * order_length:
        return (
            int.from_bytes(signature[:order_length], "big"),
            int.from_bytes(signature[order_length:], "big"),
        )
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        raise EncodingError(
            f"ECDSA signature is {len(signature)} bytes: neither plain r ‖ s "
            f"({2 * order_length} bytes) nor DER"
        ) from None
    return r, s


def _ecdsa_verify(
    public_key: ec.EllipticCurvePublicKey, challenge: bytes, signature: bytes, hash_name: str
) -> tuple[bool, str]:
    try:
        r, s = parse_plain_signature(signature, _order_length(public_key))
    except EncodingError as exc:
        return False, str(exc)
    if r <= 0 or s <= 0:
        return False, "ECDSA signature with r or s zero"
    try:
        public_key.verify(encode_dss_signature(r, s), challenge, ec.ECDSA(_HASHES[hash_name]()))
    except InvalidSignature:
        return False, f"ECDSA {hash_name.upper()} signature does not verify"
    return True, f"ECDSA {hash_name.upper()} signature valid"


def _verify(
    public_key: PublicKey,
    challenge: bytes,
    signature: bytes,
    signature_algorithm_oid: str | None,
) -> tuple[bool, str, str]:
    if isinstance(public_key, rsa.RSAPublicKey):
        outcome = iso9796.verify(public_key, signature, challenge)
        hash_name = (outcome.hash_name or "sha1").upper()
        return outcome.valid, f"RSA ISO/IEC 9796-2 {hash_name}", outcome.reason
    hash_name = _hash_for(signature_algorithm_oid)
    valid, reason = _ecdsa_verify(public_key, challenge, signature, hash_name)
    return valid, f"ECDSA {hash_name.upper()}", reason


def verify_aa_signature(
    public_key: PublicKey,
    challenge: bytes,
    signature: bytes,
    signature_algorithm_oid: str | None,
) -> bool:
    """Whether ``signature`` is the chip's AA answer to ``challenge`` (pure; 9303-11 §6.1).

    For RSA the hash comes from the ISO/IEC 9796-2 trailer and ``signature_algorithm_oid`` is
    ignored; for ECDSA it names the hash (None: SHA-256, see the module docstring).
    """
    return _verify(public_key, challenge, signature, signature_algorithm_oid)[0]


def sign_aa_challenge(
    private_key: PrivateKey,
    challenge: bytes,
    signature_algorithm_oid: str | None,
    rng: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """The card side: answer INTERNAL AUTHENTICATE.

    RSA: ISO/IEC 9796-2 scheme 1, M1 = random (``rng``), M2 = ``challenge``; SHA-1 (trailer BC)
    unless ``signature_algorithm_oid`` names another hash. ECDSA: plain ``r ‖ s`` over
    ``challenge`` with the hash ``signature_algorithm_oid`` names (None: SHA-256); ECDSA's nonce
    comes from the ``cryptography`` library, not ``rng``.
    """
    if isinstance(private_key, rsa.RSAPrivateKey):
        hash_name = (
            "sha1" if signature_algorithm_oid is None else _hash_for(signature_algorithm_oid)
        )
        return iso9796.sign(private_key, challenge, hash_name, rng)
    hash_name = _hash_for(signature_algorithm_oid)
    r, s = decode_dss_signature(private_key.sign(challenge, ec.ECDSA(_HASHES[hash_name]())))
    size = _order_length(private_key)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _expected_length(public_key: PublicKey) -> int:
    if isinstance(public_key, rsa.RSAPublicKey):
        return (public_key.key_size + 7) // 8
    return 2 * _order_length(public_key)


def internal_authenticate(challenge: bytes, expected_length: int = 256) -> Command:
    """INTERNAL AUTHENTICATE (9303-11 §6.1; ISO/IEC 7816-4 §7.5.2) with Ne ≥ 256."""
    ne = 256 if expected_length <= 256 else 65536
    return Command(0x00, 0x88, 0x00, 0x00, challenge, ne=ne)


def perform_aa(
    connection: Connection,
    dg15: Dg15,
    dg14: Dg14 | None,
    rng: Callable[[int], bytes] = os.urandom,
) -> AaResult:
    """Challenge the chip and verify its signature with the DG15 key.

    ``dg14`` supplies the ActiveAuthenticationInfo for an EC key. ProtocolError for a DG15 key
    cardkit cannot use; CardError when the chip refuses the command.
    """
    try:
        public_key = dg15.public_key()
    except EncodingError as exc:
        raise ProtocolError(f"DG15 key cannot be used: {exc}", step=STEP) from exc
    signature_algorithm: str | None = None
    assumed = ""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        info = dg14.security_infos.active_authentication_info if dg14 is not None else None
        if info is not None:
            signature_algorithm = info.signature_algorithm
        else:
            assumed = " (DG14 has no ActiveAuthenticationInfo: SHA-256 assumed)"
        _hash_for(signature_algorithm)  # an unknown algorithm is an error before any APDU
    challenge = rng(CHALLENGE_LENGTH)
    if len(challenge) != CHALLENGE_LENGTH:
        raise ValueError("rng returned a challenge of the wrong length")
    response = connection.send(internal_authenticate(challenge, _expected_length(public_key)))
    if response.sw != SW.OK:
        raise CardError("INTERNAL AUTHENTICATE refused", sw=response.sw)
    verified, algorithm, reason = _verify(public_key, challenge, response.data, signature_algorithm)
    return AaResult(verified, algorithm, reason + assumed)
