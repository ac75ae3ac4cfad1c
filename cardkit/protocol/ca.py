"""Chip authentication (ICAO 9303-11 §6.2; BSI TR-03110-1 §3.4 / TR-03110-3 §B.11), version 1.

The terminal reads the chip's static key from DG14 (a ChipAuthenticationPublicKeyInfo, with the
ChipAuthenticationInfo naming the algorithm), generates an ephemeral key pair on the same domain
parameters and sends its public key; both sides compute the static-ephemeral Diffie-Hellman
secret K and derive ``KS_Enc = KDF(K, 1)`` and ``KS_MAC = KDF(K, 2)`` (§9.7.1). Secure messaging
then restarts with those keys and SSC = 0. A cloned chip without the private key cannot compute K:
its first response under the new keys fails the MAC check (the authentication is implicit).

APDUs (9303-11 §6.2.4, TR-03110-3 §B.11.1 and §B.14), all sent THROUGH the existing secure channel:

- 3DES (id-CA-*-3DES-CBC-CBC): ``MSE:Set KAT`` ``00 22 41 A6`` with ``91`` ephemeral public key
  and ``84`` key reference (only when DG14 gives a keyId).
- AES: ``MSE:Set AT`` ``00 22 41 A4`` with ``80`` protocol OID and ``84`` key reference, then
  ``GENERAL AUTHENTICATE`` ``00 86 00 00`` with ``7C { 80 ephemeral public key }``; the chip
  answers ``7C 00``. (MSE:Set KAT is defined for 3DES only.)

Key switch — the subtle point: the response to MSE:Set KAT (3DES) or to GENERAL AUTHENTICATE
(AES) is itself still protected with the OLD session keys and the old SSC; the chip switches to
the new keys only after sending it (TR-03110-3 §B.11.1 / 9303-11 §6.2.4: "secure messaging is
restarted" after the command completes). So the terminal unwraps that response with the old
``SecureMessaging`` and installs the new one, SSC = 0, afterwards.

Pure pieces (:func:`generate_ephemeral_key`, :func:`key_agreement`, :func:`session_keys`,
:func:`card_chip_authentication`) are shared with cardkit's card emulator.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from asn1crypto import algos, core
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardkit.encoding import asn1, oids, tlv
from cardkit.errors import CardError, EncodingError, ProtocolError
from cardkit.iso7816.apdu import SW, Command
from cardkit.lds.dg14 import Dg14
from cardkit.lds.security_infos import ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo
from cardkit.protocol import ec as ecmath
from cardkit.protocol.kdf import ENC, MAC, kdf
from cardkit.protocol.sm import SecureConnection, SecureMessaging

STEP = "chip authentication"
Rng: TypeAlias = Callable[[int], bytes]


# --- Domain parameters and keys -------------------------------------------------------------


#: The largest DH modulus accepted from DG14: 9303-11 §9.4 keys are 1024–2048 bits (TR-03110-3
#: A.1.1.1); a hostile chip must not make the terminal exponentiate modulo megabit numbers.
MAX_DH_BITS = 8192


@dataclass(frozen=True)
class DhGroup:
    """Finite-field DH domain parameters (X9.42 ``p, g, q`` or PKCS #3 ``p, g``).

    They come from the chip (DG14): ValueError unless 3 ≤ p < 2 ** :data:`MAX_DH_BITS`,
    1 < g < p − 1 and, when given, 1 < q < p (a q of 0, 1 or below would make the subgroup check
    of :func:`chip_key` vacuous and the ephemeral key's exponent degenerate or negative).
    """

    p: int
    g: int
    q: int | None = None

    def __post_init__(self) -> None:
        if not 3 <= self.p < 1 << MAX_DH_BITS or not 1 < self.g < self.p - 1:
            raise ValueError("DH domain parameters out of range")
        if self.q is not None and not 1 < self.q < self.p:
            raise ValueError("DH subgroup order q out of range ]1, p[")

    @property
    def length(self) -> int:
        """Bytes of p: public keys and the shared secret are padded to it (9303-11 §9.4.2)."""
        return (self.p.bit_length() + 7) // 8


@dataclass(frozen=True)
class DhPrivateKey:
    """A DH private value ``x`` in ``group`` (repr hides it)."""

    group: DhGroup
    x: int = field(repr=False)

    @property
    def public_value(self) -> int:
        return pow(self.group.g, self.x, self.group.p)

    def public_bytes(self) -> bytes:
        return self.public_value.to_bytes(self.group.length, "big")


@dataclass(frozen=True)
class EcPrivateKey:
    """A private scalar on a curve ``cryptography`` cannot compute on (e.g. brainpoolP224r1,
    the curve of BSI TR-03105-5's reference DG14): pure-Python affine arithmetic, used only for
    ephemeral CA keys and for the emulator. Not constant-time."""

    curve: asn1.Curve
    d: int = field(repr=False)

    def public_bytes(self) -> bytes:
        return ecmath.encode_point(self.curve, ecmath.base_multiply(self.curve, self.d))


PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | EcPrivateKey | DhPrivateKey


@dataclass(frozen=True)
class ChipKey:
    """The chip's static CA public key from DG14, decoded to the domain it lives in."""

    kind: Literal["ECDH", "DH"]
    curve: asn1.Curve | None  # ECDH
    group: DhGroup | None  # DH
    public_bytes: bytes  # uncompressed point (ECDH) or y padded to |p| (DH)


def _dh_group(parameters: core.Asn1Value) -> DhGroup:
    der = parameters.dump()
    try:
        x942 = asn1_keys.DomainParameters.load(der, strict=True)
        return DhGroup(int(x942["p"].native), int(x942["g"].native), int(x942["q"].native))
    except (ValueError, TypeError, KeyError):
        pass
    try:
        pkcs3 = algos.DHParameters.load(der, strict=True)
        return DhGroup(int(pkcs3["p"].native), int(pkcs3["g"].native))
    except (ValueError, TypeError, KeyError) as exc:
        raise EncodingError("DH domain parameters are neither X9.42 nor PKCS #3") from exc


def chip_key(public_key_info: bytes) -> ChipKey:
    """Decode the chip's SubjectPublicKeyInfo (id-PK-ECDH / id-ecPublicKey with named or explicit
    parameters, id-PK-DH / dhpublicnumber); EncodingError when malformed or unsupported."""
    spki = asn1.load_strict(asn1.SubjectPublicKeyInfo, public_key_info, "CA public key")
    algorithm = spki["algorithm"]["algorithm"].dotted
    parameters = spki["algorithm"]["parameters"]
    with asn1.asn1_errors("CA public key"):
        key_bits = spki["subject_public_key"].contents
    if not key_bits or key_bits[0] != 0:
        raise EncodingError("CA public key: BIT STRING with unused bits")
    key_bytes = key_bits[1:]
    if algorithm in (oids.ID_PK_ECDH, oids.EC_PUBLIC_KEY):
        curve, _ = asn1.curve_from_parameters(parameters)
        ecmath.decode_point(curve, key_bytes)  # on the curve, or EncodingError
        return ChipKey("ECDH", curve, None, key_bytes)
    if algorithm in (oids.ID_PK_DH, oids.DH_PUBLIC_NUMBER):
        with asn1.asn1_errors("DH domain parameters"):
            group = _dh_group(parameters)
        y = asn1.native_int(asn1.load_strict(core.Integer, key_bytes, "DH public key"), "DH y")
        try:
            _check_dh_public(group, y)
        except ValueError as exc:
            raise EncodingError(f"CA public key: {exc}") from exc
        return ChipKey("DH", None, group, y.to_bytes(group.length, "big"))
    raise EncodingError(f"CA public key algorithm {oids.name_of(algorithm)} is not ECDH or DH")


def _check_dh_public(group: DhGroup, y: int) -> None:
    if not 1 < y < group.p - 1:
        raise ValueError("DH public key out of range")
    if group.q is not None and pow(y, group.q, group.p) != 1:
        raise ValueError("DH public key is not in the prime-order subgroup")


# --- Pure key agreement (terminal and card) ---------------------------------------------------


def _random_below(limit: int, rng: Rng) -> int:
    """A value in [1, limit − 1]; 64 extra random bits make the modulo bias negligible
    (FIPS 186-5 A.2.1)."""
    data = rng((limit.bit_length() + 7) // 8 + 8)
    return int.from_bytes(data, "big") % (limit - 1) + 1


def generate_ephemeral_key(key: ChipKey, rng: Rng = os.urandom) -> PrivateKey:
    """An ephemeral key pair on the chip key's domain parameters (9303-11 §6.2 step 2)."""
    if key.kind == "ECDH":
        assert key.curve is not None
        d = _random_below(key.curve.n, rng)
        curve = ecmath.library_curve(key.curve)
        if curve is None:
            return EcPrivateKey(key.curve, d)
        return ec.derive_private_key(d, curve)
    assert key.group is not None
    return DhPrivateKey(key.group, _random_below(key.group.q or key.group.p - 1, rng))


def public_key_bytes(private_key: PrivateKey) -> bytes:
    """The public key as sent in DO'91' / DO'80': an uncompressed point, or y padded to |p|."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    return private_key.public_bytes()


def key_agreement(private_key: PrivateKey, peer_public_key: bytes) -> bytes:
    """The shared secret K (9303-11 §9.6): the x-coordinate of ``d·Q`` for ECDH, ``y^x mod p``
    for DH, each left-padded to the field / modulus length. ValueError for an invalid peer key."""
    if isinstance(private_key, DhPrivateKey):
        group = private_key.group
        if len(peer_public_key) != group.length:
            raise ValueError("DH public key has the wrong length")
        y = int.from_bytes(peer_public_key, "big")
        _check_dh_public(group, y)
        return pow(y, private_key.x, group.p).to_bytes(group.length, "big")
    if isinstance(private_key, EcPrivateKey):
        curve, d = private_key.curve, private_key.d
    else:
        curve = ecmath.curve_by_name(private_key.curve.name)
        d = private_key.private_numbers().private_value
    try:
        # Validate the peer's point before use (TR-03111 §3.2.2.1): uncompressed, on the curve.
        point = ecmath.decode_point(curve, peer_public_key)
    except EncodingError as exc:
        raise ValueError(str(exc)) from None
    # ecdh_x goes through cryptography (constant time) whenever it knows the curve.
    return ecmath.ecdh_x(curve, d, point).to_bytes(curve.field_length, "big")


def session_keys(shared_secret: bytes, algorithm: oids.CaAlgorithm) -> tuple[bytes, bytes]:
    """``(KS_Enc, KS_MAC)`` = KDF(K, 1), KDF(K, 2) for the algorithm's cipher (§9.7.1)."""
    return (
        kdf(shared_secret, ENC, algorithm.cipher, algorithm.key_length),
        kdf(shared_secret, MAC, algorithm.cipher, algorithm.key_length),
    )


def card_chip_authentication(
    private_key: PrivateKey, terminal_public_key_bytes: bytes, protocol_oid: str
) -> tuple[bytes, bytes]:
    """The chip side: from its static private key and the terminal's ephemeral public key,
    the new ``(k_enc, k_mac)``. ProtocolError for a terminal key that is not valid."""
    try:
        algorithm = oids.CaAlgorithm.from_oid(protocol_oid)
        return session_keys(key_agreement(private_key, terminal_public_key_bytes), algorithm)
    except ValueError as exc:
        raise ProtocolError(str(exc), step=STEP) from None


# --- Choosing the key and algorithm from DG14 -------------------------------------------------

# Preference when DG14 offers several: AES over 3DES, longer keys first, ECDH over DH.
_PREFERENCE = {"3DES": 0, "AES": 1}


def _rank(info: ChipAuthenticationInfo) -> tuple[int, int, int]:
    alg = info.algorithm
    return (_PREFERENCE[alg.cipher], alg.key_length, alg.key_agreement == "ECDH")


def _kind_of(pk: ChipAuthenticationPublicKeyInfo) -> str:
    return "ECDH" if pk.protocol == oids.ID_PK_ECDH else "DH"


def choose_ca(
    dg14: Dg14, key_id: int | None = None
) -> tuple[ChipAuthenticationInfo | None, ChipAuthenticationPublicKeyInfo, oids.CaAlgorithm]:
    """The (ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo, algorithm) to use.

    Pairs by keyId (9303-11 §9.2.5/§9.2.6: keyId is REQUIRED when there are several keys); when
    DG14 has no ChipAuthenticationInfo for the key (DG14s written for EAC 1.0), the algorithm is
    the 3DES one of the key's family, as JMRTD does. ProtocolError when nothing usable is found.
    """
    infos = dg14.security_infos.chip_authentication_infos
    keys = dg14.security_infos.chip_authentication_public_keys
    if key_id is not None:
        keys = tuple(k for k in keys if k.key_id == key_id)
    if not keys:
        which = "" if key_id is None else f" with keyId {key_id}"
        raise ProtocolError(f"DG14 has no ChipAuthenticationPublicKeyInfo{which}", step=STEP)
    candidates: list[tuple[ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo]] = []
    for info in infos:
        for pk in keys:
            same_id = info.key_id == pk.key_id or (
                info.key_id is None and (pk.key_id is None or len(keys) == 1)
            )
            if same_id and info.algorithm.key_agreement == _kind_of(pk):
                candidates.append((info, pk))
    if candidates:
        info, pk = max(candidates, key=lambda c: _rank(c[0]))
        return info, pk, info.algorithm
    pk = keys[0]
    if any(i.key_id == pk.key_id for i in infos) or len(keys) > 1:
        raise ProtocolError(
            "DG14's ChipAuthenticationInfo and public key do not match (algorithm family or keyId)",
            step=STEP,
        )
    fallback = (
        oids.ID_CA_ECDH_3DES_CBC_CBC if _kind_of(pk) == "ECDH" else oids.ID_CA_DH_3DES_CBC_CBC
    )
    return None, pk, oids.CaAlgorithm.from_oid(fallback)


# --- APDUs ------------------------------------------------------------------------------------


def _key_reference(key_id: int) -> bytes:
    return key_id.to_bytes(max(1, (key_id.bit_length() + 7) // 8), "big")


def mse_set_kat(ephemeral_public_key: bytes, key_id: int | None) -> Command:
    """MSE:Set KAT (TR-03110-3 §B.11.1; 9303-11 §6.2.4.1): 3DES only."""
    data = tlv.encode(0x91, ephemeral_public_key)
    if key_id is not None:
        data += tlv.encode(0x84, _key_reference(key_id))
    return Command(0x00, 0x22, 0x41, 0xA6, data)


def mse_set_at(protocol_oid: str, key_id: int | None) -> Command:
    """MSE:Set AT for chip authentication (TR-03110-3 §B.14.1; 9303-11 §6.2.4.2)."""
    data = tlv.encode(0x80, oids.der_content(protocol_oid))
    if key_id is not None:
        data += tlv.encode(0x84, _key_reference(key_id))
    return Command(0x00, 0x22, 0x41, 0xA4, data)


def general_authenticate(ephemeral_public_key: bytes) -> Command:
    """GENERAL AUTHENTICATE with the ephemeral public key (TR-03110-3 §B.14.2)."""
    data = tlv.encode(0x7C, tlv.encode(0x80, ephemeral_public_key))
    return Command(0x00, 0x86, 0x00, 0x00, data, ne=256)


def parse_general_authenticate_response(data: bytes) -> None:
    """Check the chip's answer to GENERAL AUTHENTICATE: ``7C 00`` for CA version 1.

    A nonce and token (81/82, CA version 2 after terminal authentication) are not supported:
    EncodingError for those and for anything malformed.
    """
    outer = tlv.decode_single(data, 0x7C, what="GENERAL AUTHENTICATE response")
    if outer.value:
        raise EncodingError(
            "GENERAL AUTHENTICATE response carries data (CA version 2 nonce/token?): "
            "cardkit implements CA version 1, which expects 7C 00"
        )


# --- The terminal-side flow -------------------------------------------------------------------


@dataclass(frozen=True)
class CaResult:
    """The outcome of :func:`perform_ca`: the new secure messaging (already installed)."""

    sm: SecureMessaging = field(repr=False)
    protocol: str
    key_id: int | None


def _check(sw: int, what: str) -> None:
    if sw != SW.OK:
        raise CardError(f"chip authentication: {what} refused", sw=sw)


def perform_ca(
    connection: SecureConnection,
    dg14: Dg14,
    rng: Rng = os.urandom,
    key_id: int | None = None,
) -> CaResult:
    """Run chip authentication over ``connection`` (already under BAC/PACE secure messaging)
    and install the new :class:`SecureMessaging` (SSC = 0) on it.

    The chip's answer to the key-agreement command is unwrapped with the old keys (module
    docstring); only then are the new keys installed. A chip without the private key is caught
    by the next command: its response MAC fails (ProtocolError raised by secure messaging).
    Errors: ProtocolError(step="chip authentication") for DG14 or protocol trouble, CardError
    when the chip refuses a command, TransportError from the connection.
    """
    info, pk, algorithm = choose_ca(dg14, key_id)
    try:
        chip = chip_key(pk.public_key_info)
    except EncodingError as exc:
        raise ProtocolError(f"DG14 public key: {exc}", step=STEP) from exc
    ephemeral = generate_ephemeral_key(chip, rng)
    ephemeral_public = public_key_bytes(ephemeral)
    try:
        shared = key_agreement(ephemeral, chip.public_bytes)
    except ValueError as exc:
        raise ProtocolError(f"key agreement failed: {exc}", step=STEP) from exc
    k_enc, k_mac = session_keys(shared, algorithm)
    reference = pk.key_id if pk.key_id is not None else (info.key_id if info else None)

    if algorithm.cipher == "3DES":
        _check(connection.send(mse_set_kat(ephemeral_public, reference)).sw, "MSE:Set KAT")
    else:
        _check(connection.send(mse_set_at(algorithm.oid, reference)).sw, "MSE:Set AT")
        response = connection.send(general_authenticate(ephemeral_public))
        _check(response.sw, "GENERAL AUTHENTICATE")
        try:
            parse_general_authenticate_response(response.data)
        except EncodingError as exc:
            raise ProtocolError(str(exc), step=STEP) from exc

    # Only now — the response above was protected with the old keys — restart SM.
    new_sm = SecureMessaging(algorithm.cipher, k_enc, k_mac, ssc=0)
    connection.sm = new_sm
    return CaResult(new_sm, algorithm.oid, reference)
