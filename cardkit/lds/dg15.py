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

_ALGORITHM_DER = frozenset(oids.der(o) for o in (oids.RSA_ENCRYPTION, oids.EC_PUBLIC_KEY))


@dataclass(frozen=True)
class Dg15:
    """DG15 = tag ``6F`` around the AA SubjectPublicKeyInfo (kept as its exact DER)."""

    public_key_info: bytes
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        # RFC 5280 §4.1: SEQUENCE { AlgorithmIdentifier SEQUENCE { OID, params }, BIT STRING }.
        # Checked with the TLV reader rather than a full ASN.1 parse: this runs for every card
        # prepared, and public_key() parses the key itself when it is used.
        spki = tlv.decode_single(self.public_key_info, 0x30, what="DG15 key").children()
        if len(spki) != 2 or spki[0].tag != 0x30 or spki[1].tag != 0x03:
            raise EncodingError("DG15 key: not a SubjectPublicKeyInfo (RFC 5280 §4.1)")
        algorithm = tlv.find(spki[0].children(), 0x06)
        if algorithm is None or algorithm.raw not in _ALGORITHM_DER:
            name = oids.name_of(oids.from_der(algorithm.raw)) if algorithm else "missing"
            raise EncodingError(f"DG15: key algorithm {name} is neither RSA nor EC (9303-11 §6.1)")
        if not spki[1].value or spki[1].value[0] != 0:
            raise EncodingError("DG15 key: the public key BIT STRING is malformed")

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
