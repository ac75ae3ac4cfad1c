"""PACE: Password Authenticated Connection Establishment (ICAO 9303-11 §4.4, BSI TR-03110-2 §3.2).

The terminal and the chip share a weak password π — the MRZ information or the CAN printed on
the card — and turn it into strong AES (or 3DES) session keys for secure messaging:

1. MSE:Set AT (``00 22 C1 A4``) selects the protocol (DO'80' OID), the password (DO'83': 01 MRZ,
   02 CAN) and the domain parameters (DO'84' parameterId, always sent here when known:
   §4.4.4.1 makes it conditional, and sending it never hurts a conforming chip).
2. GENERAL AUTHENTICATE ×4 (``10 86 00 00``, chained, the last one ``00 86``), each carrying a
   dynamic authentication data template ``7C``:

   ====  ===============================  =================================
   step  terminal → chip                  chip → terminal
   ====  ===============================  =================================
   1     (empty)                          80 encrypted nonce z = E(K_π, s)
   2     81 mapping public key            82 mapping public key
   3     83 ephemeral public key          84 ephemeral public key
   4     85 token T_IFD                   86 token T_IC [87/88 CARs] [8A CAM]
   ====  ===============================  =================================

K_π = KDF(f(π), 3) (§9.7.3: f = SHA-1 of the MRZ information, or the CAN digits themselves).
Generic mapping (§4.4.3.3.1): the nonce s maps the generator, G' = s·G + H (ECDH) or
g' = g^s·h (DH), H/h being the shared secret of the mapping key agreement. The ephemeral key
agreement on G' gives K; KS_enc = KDF(K, 1), KS_mac = KDF(K, 2) (§9.7.1); the tokens are MACs
over the other side's public key data object ``7F49 {06 OID, 86 point | 84 y}`` (§9.4 /
TR-03110-3 D.3.4), CMAC truncated to 8 bytes for AES, the retail MAC for 3DES.

Chip authentication mapping (CAM, §4.4.3.3.3, ECDH only) is generic mapping plus, in the last
response, ``8A`` = E(KS_enc, CA_IC) with CA_IC = SK_IC⁻¹·SK_Map,IC mod n: once DG14 is read
and passive authentication has passed, :func:`verify_cam` checks PK_Map,IC = CA_IC·PK_IC.

**Integrated mapping (IM, §4.4.3.3.2) is not supported**: :func:`choose_pace_info` skips IM
infos and :func:`perform_pace` refuses them with a ProtocolError.

Every step is a public function that cardkit's chip emulator reuses for the card side
(:class:`PaceChip` runs the chip's four steps). Randomness is injected (``rng(n) -> n bytes``),
so the worked examples of 9303-11 Appendix G replay byte for byte.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TypeAlias, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec as _ec

from cardkit.encoding import asn1, mrz, oids, tlv
from cardkit.encoding.asn1 import Curve
from cardkit.errors import AccessDeniedError, CardError, EncodingError, ProtocolError
from cardkit.iso7816.apdu import SW, Command
from cardkit.iso7816.connection import Connection
from cardkit.lds.card_access import CardAccess
from cardkit.lds.dg14 import Dg14
from cardkit.lds.security_infos import ChipAuthenticationPublicKeyInfo, PaceInfo
from cardkit.protocol import crypto
from cardkit.protocol import ec as ecmath
from cardkit.protocol.bac import MrzKey
from cardkit.protocol.dh import DhGroup
from cardkit.protocol.dh import group as dh_group
from cardkit.protocol.kdf import ENC, MAC, PACE_PASSWORD, Cipher, kdf
from cardkit.protocol.sm import SecureMessaging

Rng: TypeAlias = Callable[[int], bytes]
_T = TypeVar("_T")

MRZ_REFERENCE = 0x01
CAN_REFERENCE = 0x02

# Dynamic authentication data (9303-11 §4.4.4.2, Table 4).
TAG_DYNAMIC_AUTHENTICATION_DATA = 0x7C
TAG_ENCRYPTED_NONCE = 0x80
TAG_MAPPING_DATA_TERMINAL = 0x81
TAG_MAPPING_DATA_CHIP = 0x82
TAG_EPHEMERAL_KEY_TERMINAL = 0x83
TAG_EPHEMERAL_KEY_CHIP = 0x84
TAG_TOKEN_TERMINAL = 0x85
TAG_TOKEN_CHIP = 0x86
TAG_CAR_1 = 0x87
TAG_CAR_2 = 0x88
TAG_ENCRYPTED_CHIP_AUTHENTICATION_DATA = 0x8A
TAG_PUBLIC_KEY = 0x7F49

_MAX_KEY_ATTEMPTS = 64  # rejection sampling of private keys: P(failure) is astronomically small


# --- The password ----------------------------------------------------------------------------


def _mrz_date(value: str | date) -> str:
    return mrz.yymmdd(value) if isinstance(value, date) else value


@dataclass(frozen=True)
class PacePassword:
    """The PACE password π (9303-11 §9.7.3): ``kind`` MRZ (``value`` = the MRZ information,
    document number ‖ check digit ‖ birth ‖ check digit ‖ expiry ‖ check digit) or CAN
    (``value`` = the CAN digits). The repr never shows the value."""

    kind: Literal["MRZ", "CAN"]
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("MRZ", "CAN"):
            raise ValueError("PACE password kind must be 'MRZ' or 'CAN'")
        if not self.value:
            raise ValueError(f"PACE {self.kind} password is empty")
        if self.kind == "CAN" and not (self.value.isascii() and self.value.isdigit()):
            raise ValueError("the CAN must be decimal digits")

    def __repr__(self) -> str:
        return f"PacePassword(kind={self.kind!r}, value=<redacted>)"

    @classmethod
    def from_can(cls, can: str) -> PacePassword:
        can = can.strip()
        if not (can.isascii() and can.isdigit()):
            raise ValueError("the CAN must be decimal digits")
        return cls("CAN", can.encode("ascii"))

    @classmethod
    def from_mrz(
        cls, document_number: str, date_of_birth: str | date, date_of_expiry: str | date
    ) -> PacePassword:
        """The MRZ password from the three BAC fields (dates ``YYMMDD`` or ``date``)."""
        number = document_number.upper().ljust(9, "<")
        birth = _mrz_date(date_of_birth)
        expiry = _mrz_date(date_of_expiry)
        for name, value in (("date of birth", birth), ("date of expiry", expiry)):
            if len(value) != 6 or not value.isdigit():
                raise ValueError(f"PACE MRZ password: {name} must be YYMMDD")
        info = (
            number
            + mrz.check_digit(number)
            + birth
            + mrz.check_digit(birth)
            + expiry
            + mrz.check_digit(expiry)
        )
        return cls("MRZ", info.encode("ascii"))

    @classmethod
    def from_mrz_key(cls, key: MrzKey) -> PacePassword:
        """The MRZ password of a BAC key (the same MRZ information, 9303-11 §4.3.1)."""
        return cls("MRZ", key.mrz_information())

    @property
    def reference(self) -> int:
        """The password reference of MSE:Set AT DO'83' (9303-11 §4.4.4.1)."""
        return MRZ_REFERENCE if self.kind == "MRZ" else CAN_REFERENCE

    def key_seed(self) -> bytes:
        """f(π) of 9303-11 §9.7.3: SHA-1 of the MRZ information, or the CAN itself."""
        if self.kind == "MRZ":
            return hashlib.sha1(self.value).digest()
        return self.value


def derive_password_key(password: PacePassword, algorithm: oids.PaceAlgorithm) -> bytes:
    """K_π = KDF(f(π), 3) (9303-11 §9.7.3)."""
    return kdf(password.key_seed(), PACE_PASSWORD, algorithm.cipher, algorithm.key_length)


# --- Nonce encryption (9303-11 §4.4.3.1: E(K_π, s), CBC with a zero IV) ------------------------


def nonce_length(cipher: Cipher) -> int:
    """The nonce is one cipher block: 16 bytes for AES, 8 for 3DES."""
    return 16 if cipher == "AES" else 8


def encrypt_nonce(k_pi: bytes, nonce: bytes, cipher: Cipher) -> bytes:
    """Card side: z = E(K_π, s)."""
    if cipher == "AES":
        return crypto.aes_encrypt(k_pi, nonce, bytes(16))
    return crypto.des3_encrypt(k_pi, nonce)


def decrypt_nonce(k_pi: bytes, encrypted: bytes, cipher: Cipher) -> bytes:
    """Terminal side: s = D(K_π, z). EncodingError when z is not one block."""
    if len(encrypted) != nonce_length(cipher):
        raise EncodingError(
            f"PACE encrypted nonce: {len(encrypted)} bytes, expected {nonce_length(cipher)}"
        )
    if cipher == "AES":
        return crypto.aes_decrypt(k_pi, encrypted, bytes(16))
    return crypto.des3_decrypt(k_pi, encrypted)


# --- Domain parameters and key pairs ---------------------------------------------------------


@dataclass(frozen=True)
class EcDomain:
    """ECDH domain parameters: a curve with its standard or a mapped generator."""

    curve: Curve
    generator: tuple[int, int]

    @property
    def is_standard(self) -> bool:
        return self.generator == (self.curve.gx, self.curve.gy)


@dataclass(frozen=True)
class DhDomain:
    """DH domain parameters: a MODP group with its standard or a mapped generator."""

    group: DhGroup
    generator: int


Domain: TypeAlias = EcDomain | DhDomain


def domain_for(parameter_id: int, key_agreement: Literal["DH", "ECDH"]) -> Domain:
    """The standardized domain parameters ``parameter_id`` (9303-11 §9.5.1) with their
    standard generator; ValueError when the ID is unknown or of the other kind."""
    params = oids.domain_parameters(parameter_id)
    if params.kind != key_agreement:
        raise ValueError(
            f"domain parameter ID {parameter_id} is {params.kind}, not {key_agreement}"
        )
    if params.kind == "DH":
        g = dh_group(parameter_id)
        return DhDomain(g, g.g)
    assert params.curve_oid is not None
    curve = asn1.curve_by_oid(params.curve_oid)
    return EcDomain(curve, (curve.gx, curve.gy))


def _order(domain: Domain) -> int:
    return domain.curve.n if isinstance(domain, EcDomain) else domain.group.q


def generate_private_key(domain: Domain, rng: Rng = os.urandom) -> int:
    """A private key in [1, order-1], drawn from ``rng`` by rejection sampling.

    Exactly ``size-of-order`` bytes are drawn per attempt, so the worked examples' private keys
    can be injected as they are printed. The bits above the order's bit length are cleared
    first (FIPS 186-5 A.2.2, rejection sampling over ``bit_length`` bits): without that, an
    order that does not fill its last byte — NIST P-521's 521 bits in 66 bytes — would reject
    127 candidates in 128 and exhaust the attempts in most runs.
    """
    order = _order(domain)
    bits = order.bit_length()
    size = (bits + 7) // 8
    mask = (1 << bits) - 1
    for _ in range(_MAX_KEY_ATTEMPTS):
        candidate = int.from_bytes(rng(size), "big") & mask
        if 0 < candidate < order:
            return candidate
    raise ProtocolError("the random source gave no usable private key", step="PACE key pair")


def public_key(domain: Domain, private_key: int) -> bytes:
    """The encoded public key private_key·G (ECDH, 04‖X‖Y) or g^private_key (DH, |p| bytes)."""
    if isinstance(domain, DhDomain):
        grp = domain.group
        return grp.encode(pow(domain.generator, private_key, grp.p))
    curve = domain.curve
    if domain.is_standard:
        point: ecmath.Point = ecmath.base_multiply(curve, private_key)
    else:
        point = ecmath.multiply(curve, private_key, domain.generator)
    if point is None:
        raise ValueError("private key is a multiple of the group order")
    return ecmath.encode_point(curve, point)


def decode_public_key(domain: Domain, data: bytes) -> ecmath.Point | int:
    """Validate the other side's public key: on the curve (ECDH) or in ]1, p-1[ of order q (DH).

    EncodingError otherwise.
    """
    if isinstance(domain, DhDomain):
        return domain.group.decode_public(data)
    return ecmath.decode_point(domain.curve, data)


def map_nonce_gm(domain: Domain, nonce: bytes, private_key: int, peer_public: bytes) -> Domain:
    """Generic mapping (9303-11 §4.4.3.3.1): the domain with the mapped generator.

    ECDH: G' = s·G + H with H = SK_map·PK_map,peer. DH: g' = g^s · h with h = PK_map,peer^SK_map.
    Works for both sides. EncodingError for an invalid peer key, ProtocolError for a degenerate
    result (H or G' at infinity, h or g' equal to 1).
    """
    s = int.from_bytes(nonce, "big")
    if isinstance(domain, DhDomain):
        grp = domain.group
        peer = grp.decode_public(peer_public)
        h = pow(peer, private_key, grp.p)
        mapped = pow(domain.generator, s, grp.p) * h % grp.p
        if h == 1 or mapped in (0, 1):
            raise ProtocolError("degenerate DH mapping", step="PACE mapping")
        return DhDomain(grp, mapped)
    curve = domain.curve
    peer_point = ecmath.decode_point(curve, peer_public)
    shared = ecmath.multiply(curve, private_key, peer_point)
    if shared is None:
        raise ProtocolError("mapping shared secret H is the point at infinity", step="PACE mapping")
    s %= curve.n
    if s and domain.is_standard:
        s_g: ecmath.Point = ecmath.base_multiply(curve, s)
    else:
        s_g = ecmath.multiply(curve, s, domain.generator)
    mapped_point = ecmath.add(curve, s_g, shared)
    if mapped_point is None:
        raise ProtocolError("mapped generator is the point at infinity", step="PACE mapping")
    return EcDomain(curve, mapped_point)


def key_agreement(domain: Domain, private_key: int, peer_public: bytes) -> bytes:
    """The shared secret K (9303-11 §9.6): the x coordinate left-padded to the field length
    (ECDH), or the DH value left-padded to the size of p. EncodingError for an invalid peer key.
    """
    if isinstance(domain, DhDomain):
        grp = domain.group
        peer = grp.decode_public(peer_public)
        return grp.encode(pow(peer, private_key, grp.p))
    curve = domain.curve
    point = ecmath.decode_point(curve, peer_public)
    try:
        x = ecmath.ecdh_x(curve, private_key, point)
    except ValueError as exc:
        raise ProtocolError(str(exc), step="PACE key agreement") from None
    return x.to_bytes(curve.field_length, "big")


def derive_session_keys(shared_secret: bytes, algorithm: oids.PaceAlgorithm) -> tuple[bytes, bytes]:
    """(KS_enc, KS_mac) = (KDF(K, 1), KDF(K, 2)) (9303-11 §9.7.1)."""
    return (
        kdf(shared_secret, ENC, algorithm.cipher, algorithm.key_length),
        kdf(shared_secret, MAC, algorithm.cipher, algorithm.key_length),
    )


def public_key_data_object(protocol: str, domain: Domain, public: bytes) -> bytes:
    """``7F49 { 06 OID, 86 point }`` (ECDH) or ``7F49 { 06 OID, 84 y }`` (DH): the input of
    the authentication token (9303-11 §4.4.3.4 / §9.4, TR-03110-3 D.3.4)."""
    tag = 0x84 if isinstance(domain, DhDomain) else 0x86
    return tlv.encode(TAG_PUBLIC_KEY, oids.der(protocol) + tlv.encode(tag, public))


def mac(key: bytes, data: bytes, cipher: Cipher) -> bytes:
    """The 8-byte MAC of 9303-11 §9.8: AES-CMAC truncated, or the 3DES retail MAC (padded)."""
    if cipher == "AES":
        return crypto.aes_cmac(key, data)
    return crypto.retail_mac(key, data)


def authentication_token(
    k_mac: bytes, algorithm: oids.PaceAlgorithm, domain: Domain, peer_public: bytes
) -> bytes:
    """T = MAC(KS_mac, PK_peer data object): the terminal MACs the chip's ephemeral key and the
    chip the terminal's (9303-11 §4.4.3.4)."""
    data = public_key_data_object(algorithm.oid, domain, peer_public)
    return mac(k_mac, data, algorithm.cipher)


def verify_token(expected: bytes, received: bytes) -> bool:
    """Constant-time comparison of an authentication token."""
    return crypto.constant_time_equal(expected, received)


# --- Chip authentication mapping (9303-11 §4.4.3.3.3 / §4.4.3.5) ----------------------------


def _cam_iv(k_enc: bytes) -> bytes:
    # IV = E(KS_enc, -1): the all-ones block, as TR-03110-2 §3.4.3 specifies for A_IC.
    return crypto.aes_encrypt_block(k_enc, b"\xff" * 16)


def chip_authentication_data(curve: Curve, ca_private_key: int, mapping_private_key: int) -> int:
    """Card side: CA_IC = SK_IC⁻¹ · SK_Map,IC mod n."""
    return pow(ca_private_key, -1, curve.n) * mapping_private_key % curve.n


def encrypt_chip_authentication_data(k_enc: bytes, curve: Curve, ca_data: int) -> bytes:
    """Card side: A_IC = E(KS_enc, CA_IC), AES-CBC, IV E(KS_enc, -1), ISO 9797-1 padding 2.

    CA_IC is encoded as an unsigned integer of the length of the group order.
    """
    size = (curve.n.bit_length() + 7) // 8
    plain = crypto.pad(ca_data.to_bytes(size, "big"), 16)
    return crypto.aes_encrypt(k_enc, plain, _cam_iv(k_enc))


def decrypt_chip_authentication_data(k_enc: bytes, encrypted: bytes) -> bytes:
    """Terminal side: CA_IC from A_IC (EncodingError when it is not padded blocks)."""
    if not encrypted or len(encrypted) % 16:
        raise EncodingError("PACE-CAM chip authentication data is not whole AES blocks")
    return crypto.unpad(crypto.aes_decrypt(k_enc, encrypted, _cam_iv(k_enc)))


def verify_chip_authentication_data(
    curve: Curve, ca_data: bytes, chip_mapping_public: bytes, chip_static_public: bytes
) -> bool:
    """Whether PK_Map,IC = CA_IC · PK_IC (9303-11 §4.4.3.5.2). Points are encoded 04‖X‖Y."""
    ca = int.from_bytes(ca_data, "big")
    if not 0 < ca < curve.n:
        return False
    try:
        mapping = ecmath.decode_point(curve, chip_mapping_public)
        static = ecmath.decode_point(curve, chip_static_public)
    except EncodingError:
        return False
    return ecmath.multiply(curve, ca, static) == mapping


# --- Terminal side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PaceResult:
    """What PACE established.

    ``sm`` is fresh secure messaging (SSC 0) under KS_enc/KS_mac; ``chip_public_key`` the chip's
    encoded ephemeral key (ID_IC for terminal authentication). For CAM, ``cam_verified`` is None
    until :func:`verify_cam` has checked ``chip_authentication_data`` against DG14.
    """

    sm: SecureMessaging = field(repr=False)
    mapping: Literal["GM", "IM", "CAM"]
    chip_public_key: bytes
    cam_verified: bool | None = None
    protocol: str = ""
    parameter_id: int | None = None
    chip_mapping_public_key: bytes = b""
    chip_authentication_data: bytes | None = field(default=None, repr=False)
    certification_authority_references: tuple[bytes, ...] = ()


_PREFERENCE = {"CAM": 2, "GM": 1}


def _supported(info: PaceInfo) -> bool:
    alg = info.algorithm
    if alg.mapping not in _PREFERENCE or info.parameter_id is None:
        return False
    try:
        domain = domain_for(info.parameter_id, alg.key_agreement)
    except (ValueError, EncodingError):
        return False
    return not (alg.mapping == "CAM" and not isinstance(domain, EcDomain))


def choose_pace_info(card_access: CardAccess) -> PaceInfo | None:
    """The best PACEInfo cardkit supports: CAM over GM, ECDH over DH, AES over 3DES, longer keys
    and larger groups first. Integrated mapping and proprietary domain parameters are skipped."""
    candidates = [i for i in card_access.pace_infos if _supported(i)]
    if not candidates:
        return None

    def rank(info: PaceInfo) -> tuple[int, int, int, int, int]:
        alg = info.algorithm
        assert info.parameter_id is not None
        bits = oids.domain_parameters(info.parameter_id).bits
        return (
            _PREFERENCE[alg.mapping],
            alg.key_agreement == "ECDH",
            alg.cipher == "AES",
            alg.key_length,
            bits,
        )

    return max(candidates, key=rank)


def mse_set_at(info: PaceInfo, password: PacePassword) -> Command:
    """MSE:Set AT for PACE (9303-11 §4.4.4.1): DO'80' OID, DO'83' password, DO'84' parameterId."""
    data = tlv.encode(0x80, oids.der_content(info.protocol))
    data += tlv.encode(0x83, bytes([password.reference]))
    if info.parameter_id is not None:
        pid = info.parameter_id
        data += tlv.encode(0x84, pid.to_bytes(max(1, (pid.bit_length() + 7) // 8), "big"))
    return Command(0x00, 0x22, 0xC1, 0xA4, data)


def general_authenticate(inner: bytes, *, last: bool) -> Command:
    """GENERAL AUTHENTICATE with a dynamic authentication data template (chained unless last)."""
    return Command(
        0x00 if last else 0x10,
        0x86,
        0x00,
        0x00,
        tlv.encode(TAG_DYNAMIC_AUTHENTICATION_DATA, inner),
        256,
    )


def parse_dynamic_authentication_data(data: bytes, what: str) -> list[tlv.Tlv]:
    """The data objects inside a ``7C`` template filling ``data`` (EncodingError otherwise)."""
    outer = tlv.decode_single(data, TAG_DYNAMIC_AUTHENTICATION_DATA, what=what)
    return outer.children()


def _exchange(
    connection: Connection, inner: bytes, *, last: bool, step: str, password: PacePassword
) -> list[tlv.Tlv]:
    """One GENERAL AUTHENTICATE; the data objects of the chip's ``7C`` answer.

    Only the last step can be refused because of the password (9303-11 §4.4.3.4): the chip
    cannot tell a wrong password before it checks the terminal's token T_IFD — the encrypted
    nonce (step 1) goes out whatever the password, and the mapping and key agreement (steps 2
    and 3) take any valid point. So a refusal of step 4 ("mutual authentication") with an error
    status word (6300 on most chips; 6982, 6A80 or 63Cx on others) raises
    :class:`~cardkit.errors.AccessDeniedError`: the password did not open the chip. A refusal of
    steps 1–3 is a chip that does not follow the protocol (:class:`ProtocolError`), and so is
    an answer that is not a ``7C`` template.
    """
    response = connection.send(general_authenticate(inner, last=last))
    if response.sw != SW.OK:
        if last:
            refusal = CardError("GENERAL AUTHENTICATE (terminal token) refused", sw=response.sw)
            raise AccessDeniedError(password.kind, step=step) from refusal
        raise ProtocolError(
            f"the chip refused the step (status {response.sw:04X}) before it could check "
            "the password",
            step=step,
        )
    return _checked(step, lambda: parse_dynamic_authentication_data(response.data, step))


def _field(children: list[tlv.Tlv], tag: int, step: str) -> bytes:
    found = tlv.find(children, tag)
    if found is None:
        raise ProtocolError(f"the chip's response lacks data object {tag:02X}", step=step)
    return found.value


def _checked(step: str, call: Callable[[], _T]) -> _T:
    """Run ``call``, reporting an invalid value from the chip as a ProtocolError of ``step``."""
    try:
        return call()
    except EncodingError as exc:
        raise ProtocolError(f"invalid value from the chip: {exc}", step=step) from None


def perform_pace(
    connection: Connection,
    password: PacePassword,
    info: PaceInfo,
    rng: Rng = os.urandom,
) -> PaceResult:
    """Run PACE as the terminal (9303-11 §4.4) and return the new secure messaging.

    Raises :class:`~cardkit.errors.AccessDeniedError` (``key_kind`` "CAN" or "MRZ") when the
    chip refuses the terminal's token, the last GENERAL AUTHENTICATE (a wrong password,
    9303-11 §4.4.3.4); CardError when MSE:Set AT is refused; ProtocolError (``step`` names the
    failing step) for everything else the chip gets wrong: a refusal of an earlier step, a
    malformed or invalid response, and a chip token that does not verify (the chip accepted the
    terminal's token without knowing the password: not a genuine chip, or a damaged answer).
    """
    alg = info.algorithm
    if alg.mapping == "IM":
        raise ProtocolError("integrated mapping (9303-11 §4.4.3.3.2) is not supported", step="PACE")
    if info.parameter_id is None:
        raise ProtocolError(
            "PACEInfo without a standardized parameterId (proprietary domain parameters) "
            "is not supported",
            step="PACE",
        )
    try:
        domain = domain_for(info.parameter_id, alg.key_agreement)
    except (ValueError, EncodingError) as exc:
        raise ProtocolError(str(exc), step="PACE") from None
    if alg.mapping == "CAM" and not isinstance(domain, EcDomain):
        raise ProtocolError("chip authentication mapping needs ECDH", step="PACE")

    k_pi = derive_password_key(password, alg)
    response = connection.send(mse_set_at(info, password))
    if response.sw != SW.OK and response.sw >> 4 != 0x63C:
        raise CardError("PACE MSE:Set AT refused", sw=response.sw)

    step = "PACE encrypted nonce"
    children = _exchange(connection, b"", last=False, step=step, password=password)
    encrypted_nonce = _field(children, TAG_ENCRYPTED_NONCE, step)
    nonce = _checked(step, lambda: decrypt_nonce(k_pi, encrypted_nonce, alg.cipher))

    step = "PACE mapping"
    map_private = generate_private_key(domain, rng)
    map_public = public_key(domain, map_private)
    children = _exchange(
        connection,
        tlv.encode(TAG_MAPPING_DATA_TERMINAL, map_public),
        last=False,
        step=step,
        password=password,
    )
    chip_map_public = _field(children, TAG_MAPPING_DATA_CHIP, step)
    mapped = _checked(step, lambda: map_nonce_gm(domain, nonce, map_private, chip_map_public))

    step = "PACE key agreement"
    eph_private = generate_private_key(mapped, rng)
    eph_public = public_key(mapped, eph_private)
    children = _exchange(
        connection,
        tlv.encode(TAG_EPHEMERAL_KEY_TERMINAL, eph_public),
        last=False,
        step=step,
        password=password,
    )
    chip_eph_public = _field(children, TAG_EPHEMERAL_KEY_CHIP, step)
    if chip_eph_public == eph_public:
        # 9303-11 §4.4.3.3: the terminal must check that the chip's key differs from its own.
        raise ProtocolError("the chip echoed the terminal's ephemeral key", step=step)
    shared = _checked(step, lambda: key_agreement(mapped, eph_private, chip_eph_public))
    k_enc, k_mac = derive_session_keys(shared, alg)

    step = "PACE mutual authentication"
    token = authentication_token(k_mac, alg, mapped, chip_eph_public)
    children = _exchange(
        connection,
        tlv.encode(TAG_TOKEN_TERMINAL, token),
        last=True,
        step=step,
        password=password,
    )
    chip_token = _field(children, TAG_TOKEN_CHIP, step)
    if not verify_token(authentication_token(k_mac, alg, mapped, eph_public), chip_token):
        # The chip accepted T_IFD, so it derived our keys: a genuine chip's T_IC then verifies.
        # Not a wrong password (that is refused above) but a chip, or an answer, that is wrong.
        raise ProtocolError(
            "the chip accepted the terminal's token but its own authentication token does not "
            "verify (a chip that does not know the password, or a damaged response)",
            step=step,
        )
    cars = tuple(c.value for c in children if c.tag in (TAG_CAR_1, TAG_CAR_2))

    ca_data: bytes | None = None
    if alg.mapping == "CAM":
        step = "PACE chip authentication mapping"
        encrypted = _field(children, TAG_ENCRYPTED_CHIP_AUTHENTICATION_DATA, step)
        ca_data = _checked(step, lambda: decrypt_chip_authentication_data(k_enc, encrypted))

    return PaceResult(
        sm=SecureMessaging(alg.cipher, k_enc, k_mac, 0),
        mapping=alg.mapping,
        chip_public_key=chip_eph_public,
        cam_verified=None,
        protocol=alg.oid,
        parameter_id=info.parameter_id,
        chip_mapping_public_key=chip_map_public,
        chip_authentication_data=ca_data,
        certification_authority_references=cars,
    )


def verify_cam(result: PaceResult, dg14: Dg14) -> bool:
    """Check PACE-CAM's chip authentication data against DG14's ECDH chip authentication key.

    Call only after passive authentication has validated DG14 (9303-11 §4.4.3.5.2): until then
    the key proves nothing. Returns False when the data does not match any id-PK-ECDH key on the
    PACE curve; ProtocolError when ``result`` is not from PACE-CAM or DG14 holds no usable key.
    Use ``dataclasses.replace(result, cam_verified=...)`` to record the outcome.
    """
    step = "PACE-CAM verification"
    if result.mapping != "CAM" or result.chip_authentication_data is None:
        raise ProtocolError("this PACE session did not use chip authentication mapping", step=step)
    if result.parameter_id is None:
        raise ProtocolError("unknown PACE domain parameters", step=step)
    domain = domain_for(result.parameter_id, "ECDH")
    assert isinstance(domain, EcDomain)
    curve = domain.curve
    keys: list[bytes] = []
    for info in dg14.security_infos.of_type(ChipAuthenticationPublicKeyInfo):
        if info.protocol != oids.ID_PK_ECDH and info.protocol != oids.EC_PUBLIC_KEY:
            continue
        try:
            key = info.public_key()
        except EncodingError:
            continue
        if isinstance(key, _ec.EllipticCurvePublicKey) and key.curve.name == curve.name:
            numbers = key.public_numbers()
            keys.append(ecmath.encode_point(curve, (numbers.x, numbers.y)))
    if not keys:
        raise ProtocolError(f"DG14 has no ECDH chip authentication key on {curve.name}", step=step)
    return any(
        verify_chip_authentication_data(
            curve, result.chip_authentication_data, result.chip_mapping_public_key, k
        )
        for k in keys
    )


# --- Card side -----------------------------------------------------------------------------------


class PaceChip:
    """The chip's side of PACE-GM / PACE-CAM, one GENERAL AUTHENTICATE at a time.

    Feed it the data field of each GENERAL AUTHENTICATE (the ``7C`` template); it returns the
    response data. A wrong terminal token raises ProtocolError (the emulator answers 6300).
    ``rng`` supplies, in order: the nonce s, the mapping private key, the ephemeral private key.
    For CAM pass the static chip authentication private key ``ca_private_key``.
    """

    def __init__(
        self,
        password: PacePassword,
        info: PaceInfo,
        rng: Rng = os.urandom,
        ca_private_key: int | None = None,
    ) -> None:
        self.algorithm = info.algorithm
        if self.algorithm.mapping == "IM" or info.parameter_id is None:
            raise ValueError("PaceChip supports generic and chip authentication mapping only")
        self.domain: Domain = domain_for(info.parameter_id, self.algorithm.key_agreement)
        if self.algorithm.mapping == "CAM" and ca_private_key is None:
            raise ValueError("PACE-CAM needs the chip authentication private key")
        self._password_key = derive_password_key(password, self.algorithm)
        self._rng = rng
        self._ca_private_key = ca_private_key
        self._step = 0
        self._nonce = b""
        self._map_private = 0
        self._eph_private = 0
        self._eph_public = b""
        self._terminal_eph_public = b""
        self.mapped: Domain | None = None
        self.session_keys: tuple[bytes, bytes] | None = None

    @property
    def completed(self) -> bool:
        return self._step == 4

    def general_authenticate(self, data: bytes) -> bytes:
        """Process one GENERAL AUTHENTICATE data field; return the response data field."""
        step = f"PACE chip step {self._step + 1}"
        children = parse_dynamic_authentication_data(data, step)
        alg = self.algorithm
        if self._step == 0:
            if children:
                raise ProtocolError("the first GENERAL AUTHENTICATE must be empty", step=step)
            self._nonce = self._rng(nonce_length(alg.cipher))
            out = tlv.encode(
                TAG_ENCRYPTED_NONCE, encrypt_nonce(self._password_key, self._nonce, alg.cipher)
            )
        elif self._step == 1:
            peer = tlv.require(children, TAG_MAPPING_DATA_TERMINAL, step).value
            self._map_private = generate_private_key(self.domain, self._rng)
            mine = public_key(self.domain, self._map_private)
            self.mapped = map_nonce_gm(self.domain, self._nonce, self._map_private, peer)
            out = tlv.encode(TAG_MAPPING_DATA_CHIP, mine)
        elif self._step == 2:
            assert self.mapped is not None
            peer = tlv.require(children, TAG_EPHEMERAL_KEY_TERMINAL, step).value
            self._eph_private = generate_private_key(self.mapped, self._rng)
            self._eph_public = public_key(self.mapped, self._eph_private)
            if peer == self._eph_public:
                raise ProtocolError("the terminal echoed the chip's ephemeral key", step=step)
            shared = key_agreement(self.mapped, self._eph_private, peer)
            self._terminal_eph_public = peer
            self.session_keys = derive_session_keys(shared, alg)
            out = tlv.encode(TAG_EPHEMERAL_KEY_CHIP, self._eph_public)
        elif self._step == 3:
            assert self.mapped is not None and self.session_keys is not None
            k_enc, k_mac = self.session_keys
            token = tlv.require(children, TAG_TOKEN_TERMINAL, step).value
            expected = authentication_token(k_mac, alg, self.mapped, self._eph_public)
            if not verify_token(expected, token):
                raise ProtocolError("the terminal's authentication token is wrong", step=step)
            out = tlv.encode(
                TAG_TOKEN_CHIP,
                authentication_token(k_mac, alg, self.mapped, self._terminal_eph_public),
            )
            if alg.mapping == "CAM":
                assert isinstance(self.domain, EcDomain) and self._ca_private_key is not None
                curve = self.domain.curve
                ca = chip_authentication_data(curve, self._ca_private_key, self._map_private)
                out += tlv.encode(
                    TAG_ENCRYPTED_CHIP_AUTHENTICATION_DATA,
                    encrypt_chip_authentication_data(k_enc, curve, ca),
                )
        else:
            raise ProtocolError("PACE is already complete", step="PACE chip")
        self._step += 1
        return tlv.encode(TAG_DYNAMIC_AUTHENTICATION_DATA, out)
