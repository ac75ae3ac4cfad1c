"""DG15: the active authentication public key (ICAO 9303-10 §4.7.15, 9303-11 §6.1).

``6F L SubjectPublicKeyInfo``: an RSA key (``rsaEncryption``, ISO/IEC 9796-2 signatures) or an
EC key (``id-ecPublicKey``, ECDSA; DG14 then names the hash in ActiveAuthenticationInfo).
Passports often encode EC keys with explicit domain parameters, which ``cryptography`` cannot
load: :meth:`Dg15.public_key` recognises the known curves by their parameters
(:func:`cardkit.encoding.asn1.load_public_key`) and otherwise raises EncodingError naming the curve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding import asn1, oids, tlv
from cardkit.errors import EncodingError

_ALGORITHMS = (oids.RSA_ENCRYPTION, oids.EC_PUBLIC_KEY)


@dataclass(frozen=True)
class Dg15:
    """DG15 = tag ``6F`` around the AA SubjectPublicKeyInfo (kept as its exact DER)."""

    public_key_info: bytes
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        spki = asn1.load_strict(asn1.SubjectPublicKeyInfo, self.public_key_info, "DG15 key")
        algorithm = spki["algorithm"]["algorithm"].dotted
        if algorithm not in _ALGORITHMS:
            raise EncodingError(
                f"DG15: key algorithm {oids.name_of(algorithm)} is neither RSA nor EC "
                "(9303-11 §6.1)"
            )

    @classmethod
    def build(cls, public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> Dg15:
        """Encode ``public_key`` (EC keys with their named curve) inside tag 6F."""
        if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise TypeError("DG15 holds an RSA or EC public key")
        spki = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(spki, tlv.encode(0x6F, spki))

    @classmethod
    def from_bytes(cls, data: bytes) -> Dg15:
        """Strict decode of a whole DG15 file; ``raw`` is ``data`` as read."""
        data = bytes(data)
        outer = tlv.decode_single(data, 0x6F, what="DG15")
        inner = tlv.decode_single(outer.value, 0x30, what="DG15 SubjectPublicKeyInfo")
        return cls(inner.raw, data)

    def __bytes__(self) -> bytes:
        return self.raw

    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        """The key as a ``cryptography`` object; EncodingError for an unsupported curve."""
        return asn1.load_public_key(self.public_key_info)

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"file": "DG15", "length": len(self.raw)}
        try:
            out["public_key"] = asn1.describe_public_key(self.public_key_info)
        except EncodingError as exc:
            out["public_key"] = {"error": str(exc)}
        return out
