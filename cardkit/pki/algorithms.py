"""Signature algorithm identifiers and key generation for the State PKI.

ICAO 9303-12 §4.4 (*Cryptographic algorithms*) admits RSASSA-PKCS1-v1_5 and RSASSA-PSS
(RFC 8017, RFC 4055) and ECDSA (RFC 5758, BSI TR-03111) with the SHA-2 family. cardkit signs with
SHA-256, SHA-384 or SHA-512; SHA-224 and SHA-1 are only ever *read* (and flagged by the linter).

The AlgorithmIdentifier encodings follow the RFCs exactly, because verifiers compare them:

- ``ecdsa-with-SHA*`` carry no parameters (RFC 5758 §3.2);
- ``sha*WithRSAEncryption`` carry an explicit NULL (RFC 4055 §5);
- ``id-RSASSA-PSS`` carries RSASSA-PSS-params with the hash, MGF1 over the same hash, a salt as
  long as the hash and the default trailer field (RFC 4055 §3.1), the parameter set 9303-12
  recommends and :func:`cardkit.pki.signer.rsa_padding` signs with.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from asn1crypto import algos, core
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding import oids
from cardkit.errors import PkiError
from cardkit.pki.signer import HashName, PrivateKey, PublicKey, SignatureScheme

#: Named curves cardkit issues keys on (SEC 2 / RFC 5480 and RFC 5639 names).
CURVES: Mapping[str, type[ec.EllipticCurve]] = MappingProxyType(
    {
        "secp256r1": ec.SECP256R1,
        "secp384r1": ec.SECP384R1,
        "secp521r1": ec.SECP521R1,
        "brainpoolP256r1": ec.BrainpoolP256R1,
        "brainpoolP384r1": ec.BrainpoolP384R1,
        "brainpoolP512r1": ec.BrainpoolP512R1,
    }
)
#: Curve name as ``cryptography`` spells it (``curve.name``) → the OID of the named curve.
CURVE_OIDS: Mapping[str, str] = MappingProxyType(
    {
        "secp256r1": oids.SECP256R1,
        "secp384r1": oids.SECP384R1,
        "secp521r1": oids.SECP521R1,
        "brainpoolP256r1": oids.BRAINPOOL_P256R1,
        "brainpoolP384r1": oids.BRAINPOOL_P384R1,
        "brainpoolP512r1": oids.BRAINPOOL_P512R1,
    }
)
RSA_MIN_BITS = 2048
RSA_MAX_BITS = 4096

_ECDSA: dict[str, str] = {
    "sha256": oids.ECDSA_WITH_SHA256,
    "sha384": oids.ECDSA_WITH_SHA384,
    "sha512": oids.ECDSA_WITH_SHA512,
}
_RSA_PKCS1: dict[str, str] = {
    "sha256": oids.SHA256_WITH_RSA,
    "sha384": oids.SHA384_WITH_RSA,
    "sha512": oids.SHA512_WITH_RSA,
}
_HASH_LENGTHS: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}


def check_public_key(public_key: object) -> PublicKey:
    """Return ``public_key`` if cardkit can certify it, else raise :class:`PkiError`.

    Supported: EC keys on the curves of :data:`CURVES`, RSA keys of 2048 to 4096 bits.
    """
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in CURVES:
            raise PkiError(f"unsupported elliptic curve {public_key.curve.name}")
        return public_key
    if isinstance(public_key, rsa.RSAPublicKey):
        if not RSA_MIN_BITS <= public_key.key_size <= RSA_MAX_BITS:
            raise PkiError(
                f"RSA key of {public_key.key_size} bits: cardkit supports "
                f"{RSA_MIN_BITS} to {RSA_MAX_BITS} bits"
            )
        return public_key
    raise PkiError(f"unsupported public key type {type(public_key).__name__}")


def _hash_algorithm(name: str) -> algos.DigestAlgorithm:
    # RFC 4055 §2.1: the SHA-2 AlgorithmIdentifiers inside RSASSA-PSS-params carry NULL.
    return algos.DigestAlgorithm({"algorithm": oids.HASH_OIDS[name], "parameters": core.Null()})


def signature_algorithm(
    public_key: PublicKey, scheme: SignatureScheme
) -> algos.SignedDigestAlgorithm:
    """The AlgorithmIdentifier of a signature by ``public_key``'s private key under ``scheme``."""
    check_public_key(public_key)
    if scheme.hash not in _HASH_LENGTHS:
        raise PkiError(f"unsupported hash {scheme.hash!r} (sha256, sha384 or sha512)")
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return algos.SignedDigestAlgorithm({"algorithm": _ECDSA[scheme.hash]})
    if scheme.rsa_padding == "pkcs1v15":
        return algos.SignedDigestAlgorithm(
            {"algorithm": _RSA_PKCS1[scheme.hash], "parameters": core.Null()}
        )
    params = algos.RSASSAPSSParams(
        {
            "hash_algorithm": _hash_algorithm(scheme.hash),
            "mask_gen_algorithm": {
                "algorithm": oids.MGF1,
                "parameters": _hash_algorithm(scheme.hash),
            },
            "salt_length": _HASH_LENGTHS[scheme.hash],
            "trailer_field": "trailer_field_bc",
        }
    )
    return algos.SignedDigestAlgorithm({"algorithm": oids.RSASSA_PSS, "parameters": params})


def _hash_name(oid: str) -> HashName:
    name = oids.HASH_NAMES.get(oid)
    if name == "sha256":
        return "sha256"
    if name == "sha384":
        return "sha384"
    if name == "sha512":
        return "sha512"
    raise PkiError(f"unsupported hash algorithm {oids.name_of(oid)}")


def scheme_from_algorithm(alg: algos.SignedDigestAlgorithm) -> SignatureScheme:
    """The :class:`SignatureScheme` an AlgorithmIdentifier names; :class:`PkiError` otherwise.

    RSASSA-PSS is accepted only with the RFC 4055 parameter set cardkit signs with (MGF1 over
    the same hash, salt length = hash length, trailer 1), since that is all the signer can verify.
    """
    try:
        oid = alg["algorithm"].dotted
        for hash_name, candidate in _ECDSA.items():
            if candidate == oid:
                return SignatureScheme(hash=_hash_name(oids.HASH_OIDS[hash_name]))
        for hash_name, candidate in _RSA_PKCS1.items():
            if candidate == oid:
                return SignatureScheme(
                    hash=_hash_name(oids.HASH_OIDS[hash_name]), rsa_padding="pkcs1v15"
                )
        if oid != oids.RSASSA_PSS:
            raise PkiError(f"unsupported signature algorithm {oids.name_of(oid)}")
        params = alg["parameters"]
        if not isinstance(params, algos.RSASSAPSSParams):
            raise PkiError("RSASSA-PSS without parameters is not supported (RFC 4055 §3.1)")
        hash_name = _hash_name(params["hash_algorithm"]["algorithm"].dotted)
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].dotted != oids.MGF1:
            raise PkiError("RSASSA-PSS: only MGF1 is supported (RFC 4055 §3.1)")
        if _hash_name(mgf["parameters"]["algorithm"].dotted) != hash_name:
            raise PkiError("RSASSA-PSS: the MGF1 hash differs from the message hash")
        if params["salt_length"].native != _HASH_LENGTHS[hash_name]:
            raise PkiError("RSASSA-PSS: the salt length must equal the hash length")
        if params["trailer_field"].native != "trailer_field_bc":
            raise PkiError("RSASSA-PSS: the trailer field must be 1 (RFC 4055 §3.1)")
        return SignatureScheme(hash=hash_name, rsa_padding="pss")
    except PkiError:
        raise
    except Exception as exc:  # asn1crypto parses lazily: malformed parameters surface here
        raise PkiError(f"malformed signature AlgorithmIdentifier ({type(exc).__name__})") from exc


def generate_private_key(spec: str) -> PrivateKey:
    """A new key pair from a spec such as ``ec:secp256r1``, ``ec:brainpoolP384r1``, ``rsa:3072``.

    Uses the operating system's random generator through ``cryptography``.
    """
    kind, _, arg = spec.partition(":")
    if kind == "ec":
        curve = CURVES.get(arg)
        if curve is None:
            raise PkiError(f"unknown curve in key spec {spec!r}; known: {', '.join(CURVES)}")
        return ec.generate_private_key(curve())
    if kind == "rsa":
        if not arg.isdigit():
            raise PkiError(f"key spec {spec!r}: expected rsa:<bits>")
        bits = int(arg)
        if not RSA_MIN_BITS <= bits <= RSA_MAX_BITS or bits % 8:
            raise PkiError(
                f"key spec {spec!r}: RSA keys must have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits"
            )
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    raise PkiError(f"unknown key spec {spec!r}: expected ec:<curve> or rsa:<bits>")
