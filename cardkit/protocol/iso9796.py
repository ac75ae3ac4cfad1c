"""ISO/IEC 9796-2 digital signature scheme 1 (message recovery) with RSA, for active authentication.

ICAO 9303-11 §6.1 has an RSA chip sign ``M = M1 ‖ M2`` where M2 is the terminal's 8-byte challenge
(the non-recoverable part) and M1 is chip-chosen random data recovered from the signature. The
message representative F (ISO/IEC 9796-2:2010 §8, scheme 1 = §8 with "trailer option 1/2"):

``F = header ‖ padding ‖ M1 ‖ H ‖ trailer``, as many bytes as the modulus, where

- header: the bits ``01`` then the *more-data* bit (1 = partial recovery: M2 is not inside F);
- padding: nibbles ``B…B`` closed by a nibble ``A`` (``0x6A`` is the whole header+padding when M1
  fills the capacity, as in every AA signature; ``0x4B BB … BA`` when a short message is totally
  recovered);
- H = Hash(M1 ‖ M2);
- trailer: ``BC`` (option 1: hash implicit — SHA-1 for AA, 9303-11 §6.1) or ``XX CC`` (option 2)
  with XX the hash identifier of ISO/IEC 10118-3: 0x33 SHA-1, 0x34 SHA-256, 0x36 SHA-384,
  0x35 SHA-512, 0x38 SHA-224.

The signature is ``s = F^d mod n``; a verifier computes ``F* = s^e mod n`` and, as ISO/IEC 9796-2
Annex B allows for the signature ``min(F^d, n − F^d)``, also tries ``n − F*`` when ``F*`` does not
end in the nibble ``C`` (harmless: n is odd, so only one of the two can end in ``C``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric import rsa

from cardkit.errors import EncodingError

#: ISO/IEC 10118-3 hash-function identifier (the XX of trailer ``XX CC``) → hashlib name.
HASH_IDS: Mapping[int, str] = MappingProxyType(
    {0x33: "sha1", 0x34: "sha256", 0x36: "sha384", 0x35: "sha512", 0x38: "sha224"}
)
HASH_ID_BY_NAME: Mapping[str, int] = MappingProxyType({v: k for k, v in HASH_IDS.items()})

TRAILER_IMPLICIT = 0xBC  # trailer option 1: the hash is implied (SHA-1 in 9303-11 §6.1)
TRAILER_EXPLICIT = 0xCC  # trailer option 2: the byte before names the hash


@dataclass(frozen=True)
class Representative:
    """A decoded message representative F (ISO/IEC 9796-2 §8.1)."""

    partial: bool  # the more-data bit: True when part of the message (M2) is not recovered
    m1: bytes = b""  # the recovered message part
    digest: bytes = b""  # H
    hash_name: str = "sha1"
    explicit_trailer: bool = False  # trailer ``XX CC`` rather than ``BC``

    def __post_init__(self) -> None:
        if self.hash_name not in HASH_ID_BY_NAME:
            raise ValueError(f"hash {self.hash_name!r} has no ISO/IEC 10118-3 identifier here")
        if len(self.digest) != hashlib.new(self.hash_name).digest_size:
            raise ValueError(f"digest must be {hashlib.new(self.hash_name).digest_size} bytes")
        if self.hash_name != "sha1" and not self.explicit_trailer:
            raise ValueError("only SHA-1 may use the implicit trailer BC (9303-11 §6.1)")

    @property
    def trailer(self) -> bytes:
        if self.explicit_trailer:
            return bytes((HASH_ID_BY_NAME[self.hash_name], TRAILER_EXPLICIT))
        return bytes((TRAILER_IMPLICIT,))

    def encode(self, length: int) -> bytes:
        """F as ``length`` bytes; ValueError when M1 does not fit (or leaves an odd gap)."""
        room = length - len(self.digest) - len(self.trailer) - len(self.m1)
        if room < 1:
            raise ValueError("M1 does not fit in the message representative")
        header = 0x60 if self.partial else 0x40
        # One header byte with the closing nibble A, or 'xB' followed by BB…BB and BA.
        padding = (
            bytes([header | 0x0A])
            if room == 1
            else (bytes([header | 0x0B]) + b"\xbb" * (room - 2) + b"\xba")
        )
        return padding + self.m1 + self.digest + self.trailer

    @classmethod
    def decode(cls, f: bytes, implicit_hash: str = "sha1") -> Representative:
        """Strictly parse F; EncodingError names what is wrong (header, padding, trailer)."""
        f = bytes(f)
        if len(f) < 3:
            raise EncodingError("ISO/IEC 9796-2 representative too short", offset=len(f))
        if f[0] >> 4 not in (0x4, 0x6):
            raise EncodingError("ISO/IEC 9796-2 representative: bad header bits", offset=0)
        partial = bool(f[0] & 0x20)
        # Padding: the low nibble of byte 0 and any following bytes, B…B closed by A.
        if f[0] & 0x0F == 0x0A:
            start = 1
        elif f[0] & 0x0F == 0x0B:
            i = 1
            while i < len(f) and f[i] == 0xBB:
                i += 1
            if i >= len(f) or f[i] != 0xBA:
                raise EncodingError("ISO/IEC 9796-2 representative: bad padding", offset=i)
            start = i + 1
        else:
            raise EncodingError("ISO/IEC 9796-2 representative: bad padding", offset=0)
        if f[-1] == TRAILER_IMPLICIT:
            hash_name, t, explicit = implicit_hash, 1, False
        elif f[-1] == TRAILER_EXPLICIT:
            name = HASH_IDS.get(f[-2])
            if name is None:
                raise EncodingError(
                    f"ISO/IEC 9796-2 trailer names unknown hash identifier {f[-2]:02X}",
                    offset=len(f) - 2,
                )
            hash_name, t, explicit = name, 2, True
        else:
            raise EncodingError(
                "ISO/IEC 9796-2 representative: trailer is neither BC nor XX CC",
                offset=len(f) - 1,
            )
        size = hashlib.new(hash_name).digest_size
        end = len(f) - t - size
        if end < start:
            raise EncodingError("ISO/IEC 9796-2 representative too short for its hash")
        try:
            return cls(partial, f[start:end], f[end : len(f) - t], hash_name, explicit)
        except ValueError as exc:
            raise EncodingError(f"ISO/IEC 9796-2 representative: {exc}") from exc


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`: ``valid`` and, when not, a ``reason`` a person can read."""

    valid: bool
    reason: str
    representative: Representative | None = None

    @property
    def hash_name(self) -> str | None:
        return self.representative.hash_name if self.representative else None


def _length(n: int) -> int:
    return (n.bit_length() + 7) // 8


def capacity(modulus_bits: int, hash_name: str = "sha1") -> int:
    """Bytes of M1 a partial-recovery signature carries (9303-11 Appendix F: 106 for RSA-1024 +
    SHA-1): the representative minus its header byte, H and the trailer."""
    t = 1 if hash_name == "sha1" else 2
    return (modulus_bits + 7) // 8 - 1 - hashlib.new(hash_name).digest_size - t


def open_signature(public_key: rsa.RSAPublicKey, signature: bytes) -> bytes:
    """``s^e mod n`` (or ``n − s^e``, see the module docstring) as a representative-sized string.

    EncodingError when ``signature`` cannot be an RSA signature under ``public_key``.
    """
    numbers = public_key.public_numbers()
    n, e = numbers.n, numbers.e
    size = _length(n)
    if len(signature) != size:
        raise EncodingError(f"RSA signature is {len(signature)} bytes, the modulus {size}")
    s = int.from_bytes(signature, "big")
    if not 0 < s < n:
        raise EncodingError("RSA signature value out of range")
    f = pow(s, e, n)
    if f & 0x0F != 0x0C and (n - f) & 0x0F == 0x0C:
        f = n - f
    return f.to_bytes(size, "big")


def verify(
    public_key: rsa.RSAPublicKey,
    signature: bytes,
    m2: bytes,
    implicit_hash: str = "sha1",
) -> Verification:
    """Verify a scheme-1 signature on a message whose non-recovered part is ``m2``.

    With partial recovery the message is ``M1 ‖ m2``; with total recovery it is M1 alone and
    must equal ``m2`` (the whole message the verifier expected). A wrong signature is a
    ``Verification(valid=False, reason=...)``, never an exception.
    """
    try:
        rep = Representative.decode(open_signature(public_key, signature), implicit_hash)
    except EncodingError as exc:
        return Verification(False, str(exc))
    if rep.partial:
        message = rep.m1 + m2
    else:
        if not hmac.compare_digest(rep.m1, m2):
            return Verification(False, "totally recovered message differs from the expected one")
        message = rep.m1
    if not hmac.compare_digest(hashlib.new(rep.hash_name, message).digest(), rep.digest):
        return Verification(False, f"{rep.hash_name.upper()} hash of M1 ‖ M2 does not match", rep)
    return Verification(True, "ISO/IEC 9796-2 scheme 1 signature valid", rep)


def _rsa_private(private_key: rsa.RSAPrivateKey, value: int) -> int:
    # CRT exponentiation (RFC 8017 §5.1.2): the card emulator signs with 2048-bit keys too.
    priv = private_key.private_numbers()
    m1 = pow(value, priv.dmp1, priv.p)
    m2 = pow(value, priv.dmq1, priv.q)
    h = (priv.iqmp * (m1 - m2)) % priv.p
    return m2 + h * priv.q


def sign(
    private_key: rsa.RSAPrivateKey,
    m2: bytes,
    hash_name: str = "sha1",
    rng: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """The card side: sign ``M1 ‖ m2`` with M1 = ``rng(capacity)`` (partial recovery).

    SHA-1 uses the implicit trailer ``BC`` (9303-11 §6.1), other hashes ``XX CC``.
    """
    n = private_key.public_key().public_numbers().n
    size = _length(n)
    m1 = rng(capacity(n.bit_length(), hash_name))
    digest = hashlib.new(hash_name, m1 + m2).digest()
    rep = Representative(True, m1, digest, hash_name, explicit_trailer=hash_name != "sha1")
    f = int.from_bytes(rep.encode(size), "big")
    if f >= n:  # only for a modulus whose length is not a multiple of 8 bits
        raise ValueError("message representative exceeds the modulus")
    return _rsa_private(private_key, f).to_bytes(size, "big")
