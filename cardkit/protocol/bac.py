"""Basic access control, ICAO 9303-11 §4.3: keys from the MRZ, mutual authentication, SM session.

Split in two, as JMRTD splits BACProtocol and BACAPDUSender: pure functions (the MRZ key seed, the
key derivation, the EXTERNAL AUTHENTICATE cryptograms of both sides, the session keys and the SSC)
that cardkit's card emulator reuses, and :func:`perform_bac`, which sends the two APDUs.

The protocol (9303-11 §4.3.3, Appendix D.3):

1. GET CHALLENGE → RND.ICC (8 bytes).
2. The terminal picks RND.IFD (8) and K.IFD (16); S = RND.IFD ‖ RND.ICC ‖ K.IFD;
   E_IFD = 3DES(K_enc, S) and M_IFD = MAC(K_mac, E_IFD); EXTERNAL AUTHENTICATE (E_IFD ‖ M_IFD).
3. The chip checks M_IFD and RND.ICC, answers E_ICC ‖ M_ICC with R = RND.ICC ‖ RND.IFD ‖ K.ICC.
4. The terminal checks M_ICC, then RND.IFD; K_seed = K.IFD ⊕ K.ICC gives KS_enc and KS_mac, and
   SSC = RND.ICC[4:8] ‖ RND.IFD[4:8].

**A wrong MRZ is not a forgery.** A genuine chip checks M_IFD first (step 3) and refuses a
terminal holding other keys with an error status word (6300 on most chips, 6982 on others):
:func:`perform_bac` raises :class:`~cardkit.errors.AccessDeniedError` (``key_kind`` "MRZ") for
any refusal of EXTERNAL AUTHENTICATE. A chip that *accepts* the terminal's cryptogram but whose
own E_ICC ‖ M_ICC does not verify does not know the keys it claims to: that stays a plain
:class:`~cardkit.errors.ProtocolError` (a chip that is not genuine, or a damaged response).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from cardkit.encoding.mrz import TD1_MAX_DOCUMENT_NUMBER, Td1, Td3, check_digit
from cardkit.errors import AccessDeniedError, CardError, ProtocolError
from cardkit.iso7816.apdu import SW, Command
from cardkit.iso7816.connection import Connection
from cardkit.protocol import crypto
from cardkit.protocol.kdf import ENC, MAC, kdf
from cardkit.protocol.sm import SecureMessaging

STEP_CHALLENGE = "BAC get challenge"
STEP_MUTUAL = "BAC mutual authentication"

NONCE_LENGTH = 8
KEY_MATERIAL_LENGTH = 16
_CRYPTOGRAM_LENGTH = 2 * NONCE_LENGTH + KEY_MATERIAL_LENGTH  # S and R: 32 bytes
AUTH_DATA_LENGTH = _CRYPTOGRAM_LENGTH + crypto.MAC_LENGTH  # E ‖ M: 40 bytes

INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82

_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9<]+")
_DATE = re.compile(r"[0-9<]{6}")

Rng = Callable[[int], bytes]


@dataclass(frozen=True, repr=False)
class MrzKey:
    """The BAC (and PACE-with-MRZ) password: document number, date of birth, date of expiry.

    Dates are ``YYMMDD`` as in the MRZ. The document number is kept without trailing fillers;
    it may be longer than 9 characters (a TD1 with the 9303-5 note j overflow). The value is a
    secret: its ``repr`` is redacted and errors name the field, never the value.
    """

    document_number: str
    date_of_birth: str
    date_of_expiry: str

    def __post_init__(self) -> None:
        number = self.document_number.upper().rstrip("<")
        if not number or not _DOCUMENT_NUMBER.fullmatch(number):
            raise ValueError("document_number: 1 or more characters A–Z, 0–9 or <")
        if len(number) > TD1_MAX_DOCUMENT_NUMBER:
            raise ValueError(f"document_number: at most {TD1_MAX_DOCUMENT_NUMBER} characters")
        object.__setattr__(self, "document_number", number)
        for name in ("date_of_birth", "date_of_expiry"):
            if not _DATE.fullmatch(getattr(self, name)):
                raise ValueError(f"{name}: six characters YYMMDD (ICAO 9303-3 §4.8)")

    def __repr__(self) -> str:
        return "MrzKey(<redacted>)"

    @classmethod
    def from_mrz(cls, mrz: Td1 | Td3) -> MrzKey:
        """The key of a parsed or built MRZ (TD1 or TD3)."""
        return cls(mrz.document_number, mrz.date_of_birth, mrz.date_of_expiry)

    def mrz_information(self) -> bytes:
        """MRZ_information of 9303-11 §4.3.1: number ‖ check ‖ DOB ‖ check ‖ DOE ‖ check.

        The number is padded with ``<`` to 9 characters. A longer number (TD1, 9303-5 §4.2.2
        note j) is used whole, its check digit computed over all of it — the check digit the
        MRZ prints after the overflow in the optional data.
        """
        number = self.document_number.ljust(9, "<")
        text = (
            number
            + check_digit(number)
            + self.date_of_birth
            + check_digit(self.date_of_birth)
            + self.date_of_expiry
            + check_digit(self.date_of_expiry)
        )
        return text.encode("ascii")

    def key_seed(self) -> bytes:
        """K_seed = the first 16 bytes of SHA-1(MRZ_information) (9303-11 §4.3.2, Appendix D.2)."""
        return hashlib.sha1(self.mrz_information()).digest()[:KEY_MATERIAL_LENGTH]


def bac_keys(key_seed: bytes) -> tuple[bytes, bytes]:
    """(K_enc, K_mac) from a 16-byte key seed with the KDF of 9303-11 §9.7.1 (3DES)."""
    if len(key_seed) != KEY_MATERIAL_LENGTH:
        raise ValueError("the BAC key seed is 16 bytes")
    return kdf(key_seed, ENC, "3DES"), kdf(key_seed, MAC, "3DES")


def session_keys(k_ifd: bytes, k_icc: bytes) -> tuple[bytes, bytes]:
    """(KS_enc, KS_mac) from K_seed = K.IFD ⊕ K.ICC (9303-11 §4.3.3.3)."""
    if len(k_ifd) != KEY_MATERIAL_LENGTH or len(k_icc) != KEY_MATERIAL_LENGTH:
        raise ValueError("K.IFD and K.ICC are 16 bytes each")
    return bac_keys(bytes(a ^ b for a, b in zip(k_ifd, k_icc, strict=True)))


def initial_ssc(rnd_icc: bytes, rnd_ifd: bytes) -> int:
    """SSC = the four least significant bytes of RND.ICC, then of RND.IFD (9303-11 §4.3.3.3)."""
    return int.from_bytes(rnd_icc[4:8] + rnd_ifd[4:8], "big")


def _cryptogram(k_enc: bytes, k_mac: bytes, plain: bytes) -> bytes:
    encrypted = crypto.des3_encrypt(k_enc, plain)
    return encrypted + crypto.retail_mac(k_mac, encrypted)


def _open(k_enc: bytes, k_mac: bytes, data: bytes) -> bytes | None:
    """Check M (in constant time) then decrypt E; None when the MAC does not verify."""
    if len(data) != AUTH_DATA_LENGTH:
        return None
    encrypted, mac = data[:_CRYPTOGRAM_LENGTH], data[_CRYPTOGRAM_LENGTH:]
    if not crypto.constant_time_equal(crypto.retail_mac(k_mac, encrypted), mac):
        return None
    return crypto.des3_decrypt(k_enc, encrypted)


def _check_lengths(**values: bytes) -> None:
    for name, value in values.items():
        expected = KEY_MATERIAL_LENGTH if name.startswith("k_") else NONCE_LENGTH
        if len(value) != expected:
            raise ValueError(f"{name} must be {expected} bytes")


def terminal_authentication_data(
    k_enc: bytes, k_mac: bytes, rnd_ifd: bytes, rnd_icc: bytes, k_ifd: bytes
) -> bytes:
    """E_IFD ‖ M_IFD, the EXTERNAL AUTHENTICATE data (9303-11 §4.3.3.1)."""
    _check_lengths(rnd_ifd=rnd_ifd, rnd_icc=rnd_icc, k_ifd=k_ifd)
    return _cryptogram(k_enc, k_mac, rnd_ifd + rnd_icc + k_ifd)


def verify_chip_authentication_data(
    k_enc: bytes, k_mac: bytes, rnd_ifd: bytes, rnd_icc: bytes, k_ifd: bytes, data: bytes
) -> SecureMessaging:
    """Check the chip's E_ICC ‖ M_ICC (MAC first, then RND.ICC and RND.IFD) and open the SM
    session (9303-11 §4.3.3.2–3). A mismatch raises :class:`ProtocolError` (``step=`` "BAC
    mutual authentication"). It is not a wrong MRZ: a genuine chip refuses a wrong MRZ before it
    answers (the terminal's MAC fails on the chip, §4.3.3.2), so a chip that answered without
    the keys to MAC its answer is not genuine, or its answer was damaged."""
    _check_lengths(rnd_ifd=rnd_ifd, rnd_icc=rnd_icc, k_ifd=k_ifd)
    plain = _open(k_enc, k_mac, data)
    if plain is None:
        raise ProtocolError(
            "the chip accepted the terminal's cryptogram but its own response MAC does not "
            "verify (a chip that does not hold the BAC keys, or a damaged response)",
            step=STEP_MUTUAL,
        )
    if not crypto.constant_time_equal(plain[NONCE_LENGTH : 2 * NONCE_LENGTH], rnd_ifd):
        raise ProtocolError("the chip did not return the terminal's RND.IFD", step=STEP_MUTUAL)
    if not crypto.constant_time_equal(plain[:NONCE_LENGTH], rnd_icc):
        raise ProtocolError("the chip did not return its own RND.ICC", step=STEP_MUTUAL)
    k_icc = plain[2 * NONCE_LENGTH :]
    ks_enc, ks_mac = session_keys(k_ifd, k_icc)
    return SecureMessaging("3DES", ks_enc, ks_mac, initial_ssc(rnd_icc, rnd_ifd))


def card_mutual_authenticate(
    k_enc: bytes, k_mac: bytes, rnd_icc: bytes, k_icc: bytes, command_data: bytes
) -> tuple[bytes, SecureMessaging]:
    """Card side of EXTERNAL AUTHENTICATE (9303-11 §4.3.3.2): check the terminal's E_IFD ‖ M_IFD
    against the challenge ``rnd_icc`` given out, answer E_ICC ‖ M_ICC, open the SM session.

    Raises :class:`ProtocolError` (``step`` "BAC mutual authentication") when the MAC or
    RND.ICC does not match; the chip then answers 6300 and stays without SM.
    """
    _check_lengths(rnd_icc=rnd_icc, k_icc=k_icc)
    plain = _open(k_enc, k_mac, command_data)
    if plain is None:
        raise ProtocolError(
            "the terminal's MAC does not verify: the MRZ does not match", step=STEP_MUTUAL
        )
    rnd_ifd, echoed, k_ifd = (
        plain[:NONCE_LENGTH],
        plain[NONCE_LENGTH : 2 * NONCE_LENGTH],
        plain[2 * NONCE_LENGTH :],
    )
    if not crypto.constant_time_equal(echoed, rnd_icc):
        raise ProtocolError("the terminal did not return RND.ICC", step=STEP_MUTUAL)
    response = _cryptogram(k_enc, k_mac, rnd_icc + rnd_ifd + k_icc)
    ks_enc, ks_mac = session_keys(k_ifd, k_icc)
    return response, SecureMessaging("3DES", ks_enc, ks_mac, initial_ssc(rnd_icc, rnd_ifd))


def _random(rng: Rng, length: int, what: str) -> bytes:
    value = rng(length)
    if len(value) != length:
        raise ValueError(f"rng returned {len(value)} bytes for {what}, {length} requested")
    return bytes(value)


def perform_bac(connection: Connection, mrz_key: MrzKey, rng: Rng = os.urandom) -> SecureMessaging:
    """Run BAC over ``connection`` (9303-11 §4.3) and return the new SM session.

    ``rng`` supplies RND.IFD (8 bytes) then K.IFD (16 bytes). A wrong MRZ — the chip refuses
    EXTERNAL AUTHENTICATE with an error status word (6300, 6982, ...; 9303-11 §4.3.3.2) — raises
    :class:`~cardkit.errors.AccessDeniedError` (``key_kind`` "MRZ", ``step="BAC mutual
    authentication"``). Any other failure (GET CHALLENGE refused or malformed, a chip response
    that does not verify) raises :class:`ProtocolError`. The MRZ never appears in a message.
    Wrap ``connection`` in a :class:`~cardkit.protocol.sm.SecureConnection` with the result to
    talk to the chip.
    """
    k_enc, k_mac = bac_keys(mrz_key.key_seed())

    challenge = connection.send(Command(0x00, INS_GET_CHALLENGE, 0x00, 0x00, ne=NONCE_LENGTH))
    if challenge.sw != SW.OK:
        raise ProtocolError(
            f"GET CHALLENGE refused (status {challenge.sw:04X}): the chip may not support BAC",
            step=STEP_CHALLENGE,
        )
    if len(challenge.data) != NONCE_LENGTH:
        raise ProtocolError(
            f"GET CHALLENGE returned {len(challenge.data)} bytes instead of {NONCE_LENGTH}",
            step=STEP_CHALLENGE,
        )
    rnd_icc = challenge.data

    rnd_ifd = _random(rng, NONCE_LENGTH, "RND.IFD")
    k_ifd = _random(rng, KEY_MATERIAL_LENGTH, "K.IFD")
    data = terminal_authentication_data(k_enc, k_mac, rnd_ifd, rnd_icc, k_ifd)
    answer = connection.send(
        Command(0x00, INS_EXTERNAL_AUTHENTICATE, 0x00, 0x00, data, ne=AUTH_DATA_LENGTH)
    )
    if answer.sw != SW.OK:
        # 9303-11 §4.3.3.2: the chip refuses a terminal whose M_IFD / RND.ICC do not verify
        # under the keys of *its* MRZ. Chips differ in the status word (6300 verification
        # failed, 6982 security status not satisfied, 6A80, ...): every refusal of this step
        # means the chip did not accept the key. Access denied, not a forgery.
        refusal = CardError("EXTERNAL AUTHENTICATE refused", sw=answer.sw)
        raise AccessDeniedError("MRZ", step=STEP_MUTUAL) from refusal
    return verify_chip_authentication_data(k_enc, k_mac, rnd_ifd, rnd_icc, k_ifd, answer.data)
