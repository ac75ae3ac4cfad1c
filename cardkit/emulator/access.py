"""The chip's side of access control: BAC, PACE, chip authentication, active authentication.

Every cryptographic step is the protocol layer's (ICAO 9303-11 through :mod:`cardkit.protocol`):
BAC's :func:`~cardkit.protocol.bac.card_mutual_authenticate`, secure messaging's card side
(:meth:`~cardkit.protocol.sm.SecureMessaging.unwrap_command` / ``wrap_response``, driven by
:mod:`cardkit.emulator.card`), PACE's :class:`~cardkit.protocol.pace.PaceChip`, chip
authentication's :func:`~cardkit.protocol.ca.card_chip_authentication` and active
authentication's :func:`~cardkit.protocol.aa.sign_aa_challenge`. What lives here is the chip's
bookkeeping: which challenge was given out, which protocol MSE:Set chose, which secure-messaging
session is current and which one replaces it once the current response has been sent.

Two thin helpers are the emulator's own, on top of the protocol layer and ``cryptography``:
:func:`parse_ec_private_key` (the JMRTD applet's PUT DATA key layout, matched to a named prime
curve) and :func:`rsa_private_key` (the RSA key from modulus and private exponent, as the applet
receives it, with the public exponent taken from DG15).

Commands (9303-11 §4.3.4, §4.4.4, §6.1, §6.2.4; TR-03110-3 §B.11, §B.14):

=====================  ===============  =========================================
GET CHALLENGE          ``00 84 00 00``  RND.ICC for BAC (Le = 8)
EXTERNAL AUTHENTICATE  ``00 82 00 00``  BAC mutual authentication; a wrong MRZ → 6300
MSE:Set AT (PACE)      ``00 22 C1 A4``  DO'80' protocol, DO'83' password, DO'84' parameterId
GENERAL AUTHENTICATE   ``10/00 86``     PACE steps (a wrong password → 6300), or CA
MSE:Set AT (CA)        ``00 22 41 A4``  DO'80' protocol, DO'84' key reference (AES CA)
MSE:Set KAT            ``00 22 41 A6``  DO'91' ephemeral key, DO'84' key reference (3DES CA)
INTERNAL AUTHENTICATE  ``00 88 00 00``  active authentication
MSE:Set DST (TA)       ``00 22 81 B6``  DO'83' CAR: the key that verifies the next certificate
PSO:Verify Certificate ``00 2A 00 BE``  a CV certificate (body and signature)
MSE:Set AT (TA)        ``00 22 81 A4``  DO'83' CHR of the inspection system
GET CHALLENGE          ``00 84 00 00``  r_PICC for TA once MSE:Set AT (TA) named the terminal
EXTERNAL AUTHENTICATE  ``00 82 00 00``  the terminal's signature (TA), after MSE:Set AT (TA)
=====================  ===============  =========================================

Terminal authentication (TR-03110-1 §2.5, 9303-11 §7.1) follows chip authentication version 1
only (its signature covers the terminal's ephemeral CA key): before it MSE:Set DST / Set AT for
TA answer 6985. Its bookkeeping is :class:`cardkit.emulator.ta.TerminalAuthenticationChip`.

After BAC, PACE or CA the new secure-messaging session is only installed after the response to
the command that established it has been sent (and, for CA, protected with the *old* keys, as
TR-03110-3 §B.11.1 requires): handlers leave it in :attr:`AccessSession.next_sm`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.emulator.state import CardState, EcKey
from cardkit.emulator.ta import TerminalAuthenticationChip
from cardkit.encoding import oids, tlv
from cardkit.encoding.asn1 import CURVES, Curve
from cardkit.errors import EncodingError, ProtocolError
from cardkit.iso7816.apdu import SW, Command, Response
from cardkit.lds.card_access import CardAccess
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.security_infos import PaceInfo
from cardkit.protocol import aa, bac, ca
from cardkit.protocol import ec as ecmath
from cardkit.protocol import ta as ta_protocol
from cardkit.protocol.pace import PaceChip, PacePassword
from cardkit.protocol.sm import SecureMessaging

Rng = Callable[[int], bytes]

#: Status words the chip uses beyond :class:`cardkit.iso7816.apdu.SW` (ISO/IEC 7816-4 §5.6).
REFERENCED_DATA_NOT_FOUND = 0x6A88
MEMORY_FAILURE = 0x6581
NO_PRECISE_DIAGNOSIS = 0x6F00

BAC_CHALLENGE_LENGTH = bac.NONCE_LENGTH

Method = Literal["BAC", "PACE"]


def status(sw: int) -> Response:
    """A response without data."""
    return Response(b"", sw)


# --- Keys as the personalization protocol delivers them ------------------------------------


def parse_ec_private_key(data: bytes) -> EcKey:
    """The value of PUT DATA 63/66: ``{81 p}{82 a}{83 b}{84 G}{85 order}{86 d}{87 cofactor}``.

    The JMRTD applet's layout (DOMAIN.md §7), here over PRIME fields: the parameters must be
    those of a named curve of :data:`cardkit.encoding.asn1.CURVES` (SEC 2, RFC 5639) and ``d``
    must lie in [1, n-1]. EncodingError otherwise (the message never holds ``d``).
    """
    fields: dict[int, int] = {}
    point = b""
    for child in tlv.decode_all(data):
        if child.tag == 0x84:
            point = child.value
        elif 0x81 <= child.tag <= 0x87:
            fields[child.tag] = int.from_bytes(child.value, "big")
        else:
            raise EncodingError(f"EC private key: unexpected data object {child.tag:X}")
    missing = [f"{t:X}" for t in (0x81, 0x82, 0x83, 0x85, 0x86) if t not in fields]
    if missing or not point:
        raise EncodingError(f"EC private key: data objects missing ({', '.join(missing) or '84'})")
    curve = _match_curve(fields[0x81], fields[0x82], fields[0x83], point, fields[0x85])
    if 0x87 in fields and fields[0x87] != curve.h:
        raise EncodingError("EC private key: the cofactor does not match the curve")
    d = fields[0x86]
    if not 0 < d < curve.n:
        raise EncodingError("EC private key: the private value is out of range [1, n-1]")
    return EcKey(curve.name, d)


def _match_curve(p: int, a: int, b: int, generator: bytes, n: int) -> Curve:
    for curve in CURVES:
        if (curve.p, curve.a % curve.p, curve.b, curve.n) != (p, a % p, b, n):
            continue
        try:
            if ecmath.decode_point(curve, generator) == (curve.gx, curve.gy):
                return curve
        except EncodingError:
            break
    raise EncodingError("EC private key: the domain parameters are not a known prime curve")


def curve_of(key: EcKey) -> Curve:
    return ecmath.curve_by_name(key.curve)


def ca_private_key(key: EcKey) -> ca.EcPrivateKey:
    """The chip-authentication key in the form :func:`cardkit.protocol.ca.key_agreement` takes."""
    return ca.EcPrivateKey(curve_of(key), key.d)


def aa_ec_private_key(key: EcKey) -> ec.EllipticCurvePrivateKey:
    """The ECDSA active-authentication key (on a curve ``cryptography`` signs on)."""
    library = ecmath.library_curve(curve_of(key))
    if library is None:
        raise EncodingError(f"ECDSA active authentication is not available on {key.curve}")
    return ec.derive_private_key(key.d, library)


def rsa_private_key(modulus: int, private_exponent: int, public_exponent: int) -> rsa.RSAPrivateKey:
    """The RSA key from n and d (what PUT DATA 60/61 deliver) and e (from DG15): the primes are
    recovered (NIST SP 800-56B Appendix C) so that ``cryptography`` can sign. EncodingError when
    the three numbers are not one key."""
    try:
        p, q = rsa.rsa_recover_prime_factors(modulus, public_exponent, private_exponent)
        numbers = rsa.RSAPrivateNumbers(
            p,
            q,
            private_exponent,
            rsa.rsa_crt_dmp1(private_exponent, p),
            rsa.rsa_crt_dmq1(private_exponent, q),
            rsa.rsa_crt_iqmp(p, q),
            rsa.RSAPublicNumbers(public_exponent, modulus),
        )
        return numbers.private_key()
    except (ValueError, TypeError):
        raise EncodingError("the RSA modulus and exponents do not form one key") from None


# --- What the access protocols need from the chip's files -----------------------------------


class ChipFiles(Protocol):
    """Parsed views of the chip's own files (cached by the card, re-parsed only after a write)."""

    def card_access(self) -> CardAccess | None: ...

    def dg14(self) -> Dg14 | None: ...

    def dg15(self) -> Dg15 | None: ...


@dataclass
class _CaPending:
    protocol: str


class AccessSession:
    """The access-control state of one power-on session (mutable; reset by power-on).

    ``sm`` is the current secure-messaging session (None: plain); ``method`` says how it was
    established; ``next_sm`` is installed by the card once the current response has been sent.
    """

    def __init__(
        self,
        state: CardState,
        chip_files: ChipFiles,
        rng: Rng = os.urandom,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._state = state
        self._files = chip_files
        self._rng = rng
        self._rsa_cache: tuple[tuple[int, int, int], rsa.RSAPrivateKey] | None = None
        self.ta = TerminalAuthenticationChip(state, today)
        self.reset()

    def reset(self) -> None:
        self.sm: SecureMessaging | None = None
        self.method: Method | None = None
        self.chip_authenticated = False
        self.next_sm: SecureMessaging | None = None
        self._next_method: Method | None = None
        self._next_chip_authenticated = False
        self._challenge: bytes | None = None
        self._pace: PaceChip | None = None
        self._ca: _CaPending | None = None
        self._forget_eac()

    def _forget_eac(self) -> None:
        """A new (or no) secure channel: terminal authentication starts over."""
        self.ta.reset()
        #: The terminal's ephemeral CA public key (Comp() of it is signed in TA).
        self.ca_terminal_key: bytes | None = None
        #: The chip's ephemeral PACE public key of this session (ID_PICC after PACE).
        self.pace_chip_key: bytes | None = None
        self._pace_eph: bytes | None = None
        self._next_ca_terminal_key: bytes | None = None

    @property
    def secure(self) -> bool:
        """Whether a secure channel (BAC or PACE) protects this command."""
        return self.sm is not None and self.sm.active

    def drop_sm(self) -> None:
        """End secure messaging (an SM error or a plain command): access rights are lost."""
        if self.sm is not None:
            self.sm.end("the session was dropped by the chip")
        self.sm = None
        self.method = None
        self.chip_authenticated = False
        self._forget_eac()

    def install_next(self) -> None:
        """Switch to the session a handler prepared (after its response was sent)."""
        if self.next_sm is not None:
            if self.sm is not None and self.sm is not self.next_sm:
                self.sm.end("replaced by a new session")
            self.sm = self.next_sm
            if self._next_method is not None:  # BAC or PACE: a new session
                pace_eph = self._pace_eph
                self._forget_eac()
                self.method = self._next_method
                self.pace_chip_key = pace_eph if self._next_method == "PACE" else None
            self.chip_authenticated = self._next_chip_authenticated
            if self._next_ca_terminal_key is not None:
                self.ta.reset()  # CA again: a new TA (its signature covers the new key)
                self.ca_terminal_key = self._next_ca_terminal_key
        self.next_sm = None
        self._next_method = None
        self._next_chip_authenticated = False
        self._next_ca_terminal_key = None

    # ------------------------------------------------------------------ BAC

    def get_challenge(self, command: Command) -> Response:
        """GET CHALLENGE (ISO/IEC 7816-4 §7.5.3): Ne random bytes; 8 of them serve BAC."""
        if command.p1 or command.p2 or command.data:
            return status(SW.INCORRECT_P1P2 if command.p1 or command.p2 else SW.WRONG_LENGTH)
        if command.ne is None or command.ne > 256:
            return status(SW.WRONG_LENGTH)
        challenge = self._rng(command.ne)
        self._challenge = challenge if len(challenge) == BAC_CHALLENGE_LENGTH else None
        if self.ta.pending and self.secure:
            ok = len(challenge) == ta_protocol.CHALLENGE_LENGTH
            self.ta.challenge = challenge if ok else None
        return Response(challenge, SW.OK)

    def external_authenticate(self, command: Command) -> Response:
        """BAC mutual authentication, chip side (9303-11 §4.3.3.2); terminal authentication's
        last step once MSE:Set AT (TA) named the terminal (TR-03110-3 §B.11.7)."""
        if command.p1 or command.p2:
            return status(SW.INCORRECT_P1P2)
        if self.secure and (self.ta.pending or self.ta.granted is not None):
            return self._ta_external_authenticate(command.data)
        if self._state.mrz is None:
            return status(REFERENCED_DATA_NOT_FOUND)
        challenge, self._challenge = self._challenge, None  # a challenge is used once
        if challenge is None:
            return status(SW.CONDITIONS_NOT_SATISFIED)
        if len(command.data) != bac.AUTH_DATA_LENGTH:
            return status(SW.WRONG_LENGTH)
        try:
            k_enc, k_mac = bac.bac_keys(bac.MrzKey(*self._state.mrz).key_seed())
            answer, sm = bac.card_mutual_authenticate(
                k_enc, k_mac, challenge, self._rng(bac.KEY_MATERIAL_LENGTH), command.data
            )
        except ProtocolError:
            return status(SW.VERIFICATION_FAILED)
        self._prepare(sm, "BAC", False)
        return Response(answer, SW.OK)

    # ------------------------------------------------------------------ MSE

    def manage_security_environment(self, command: Command) -> Response:
        """MSE:Set AT for PACE (C1A4) or CA (41A4), MSE:Set KAT for 3DES CA (41A6)."""
        try:
            children = tlv.decode_all(command.data)
        except EncodingError:
            return status(SW.WRONG_DATA)
        p1p2 = (command.p1 << 8) | command.p2
        if p1p2 == 0xC1A4:
            return self._mse_pace(children)
        if p1p2 == 0x41A4:
            return self._mse_ca(children)
        if p1p2 == 0x41A6:
            return self._mse_kat(children)
        if p1p2 in (0x81B6, 0x81A4):
            return self._mse_ta(p1p2, children)
        return status(SW.INCORRECT_P1P2)

    # ------------------------------------------------------------------ TA

    def _ta_ready(self) -> Response | None:
        if not self.secure:
            return status(SW.SECURITY_STATUS_NOT_SATISFIED)
        if self.ca_terminal_key is None:
            return status(SW.CONDITIONS_NOT_SATISFIED)  # TA v1 follows chip authentication
        return None

    def _mse_ta(self, p1p2: int, children: list[tlv.Tlv]) -> Response:
        refused = self._ta_ready()
        if refused is not None:
            return refused
        reference = tlv.find(children, ta_protocol.TAG_REFERENCE)
        if reference is None or len(children) != 1:
            return status(SW.WRONG_DATA)
        if p1p2 == 0x81B6:
            return status(self.ta.set_dst(reference.value))
        return status(self.ta.set_at(reference.value))

    def verify_certificate(self, data: bytes) -> Response:
        """PSO:Verify Certificate (the whole data field, chained commands joined)."""
        refused = self._ta_ready()
        if refused is not None:
            return refused
        return status(self.ta.verify_certificate(data))

    def _id_picc(self) -> bytes | None:
        if self.method == "PACE":
            if self.pace_chip_key is None:
                return None
            return ta_protocol.id_picc_pace(self.pace_chip_key)
        if self.method == "BAC" and self._state.mrz is not None:
            return ta_protocol.id_picc_bac(self._state.mrz[0])
        return None

    def _ta_external_authenticate(self, signature: bytes) -> Response:
        refused = self._ta_ready()
        if refused is not None:
            return refused
        id_picc = self._id_picc()
        if id_picc is None or self.ca_terminal_key is None:
            return status(SW.CONDITIONS_NOT_SATISFIED)
        return status(self.ta.external_authenticate(signature, id_picc, self.ca_terminal_key))

    def _mse_pace(self, children: list[tlv.Tlv]) -> Response:
        self._pace = None
        self._ca = None
        protocol = _oid(tlv.find(children, 0x80))
        reference = tlv.find(children, 0x83)
        if protocol is None or reference is None or len(reference.value) != 1:
            return status(SW.WRONG_DATA)
        parameter = tlv.find(children, 0x84)
        parameter_id = int.from_bytes(parameter.value, "big") if parameter else None
        card_access = self._files.card_access()
        if card_access is None:
            return status(SW.CONDITIONS_NOT_SATISFIED)  # this chip offers no PACE
        info = _matching_pace_info(card_access, protocol, parameter_id)
        if info is None:
            return status(SW.WRONG_DATA)
        password = self._password(reference.value[0])
        if password is None:
            return status(REFERENCED_DATA_NOT_FOUND)
        ca_key: int | None = None
        if info.algorithm.mapping == "CAM":
            if self._state.ca_key is None:
                return status(REFERENCED_DATA_NOT_FOUND)
            ca_key = self._state.ca_key.d
        try:
            self._pace = PaceChip(password, info, self._rng, ca_private_key=ca_key)
        except (ValueError, EncodingError):
            return status(SW.WRONG_DATA)
        return status(SW.OK)

    def _password(self, reference: int) -> PacePassword | None:
        if reference == 0x01 and self._state.mrz is not None:
            return PacePassword.from_mrz_key(bac.MrzKey(*self._state.mrz))
        if reference == 0x02 and self._state.can is not None:
            return PacePassword.from_can(self._state.can)
        return None

    def _mse_ca(self, children: list[tlv.Tlv]) -> Response:
        self._pace = None
        self._ca = None
        if not self.secure:
            return status(SW.SECURITY_STATUS_NOT_SATISFIED)  # CA follows BAC or PACE
        protocol = _oid(tlv.find(children, 0x80))
        if protocol is None:
            return status(SW.WRONG_DATA)
        try:
            algorithm = oids.CaAlgorithm.from_oid(protocol)
        except ValueError:
            return status(SW.WRONG_DATA)
        if algorithm.key_agreement != "ECDH":
            return status(SW.WRONG_DATA)  # this chip's CA keys are EC keys
        refused = self._check_ca_key(tlv.find(children, 0x84))
        if refused is not None:
            return refused
        self._ca = _CaPending(protocol)
        return status(SW.OK)

    def _mse_kat(self, children: list[tlv.Tlv]) -> Response:
        self._pace = None
        self._ca = None
        if not self.secure:
            return status(SW.SECURITY_STATUS_NOT_SATISFIED)
        ephemeral = tlv.find(children, 0x91)
        if ephemeral is None:
            return status(SW.WRONG_DATA)
        refused = self._check_ca_key(tlv.find(children, 0x84))
        if refused is not None:
            return refused
        return self._chip_authentication(ephemeral.value, oids.ID_CA_ECDH_3DES_CBC_CBC, b"")

    def _check_ca_key(self, reference: tlv.Tlv | None) -> Response | None:
        if self._state.ca_key is None:
            return status(REFERENCED_DATA_NOT_FOUND)
        expected = self._state.ca_key_id
        if reference is not None and expected is not None:
            return (
                None
                if int.from_bytes(reference.value, "big") == expected
                else (status(REFERENCED_DATA_NOT_FOUND))
            )
        return None

    def _chip_authentication(self, terminal_key: bytes, protocol: str, answer: bytes) -> Response:
        assert self._state.ca_key is not None and self.sm is not None
        try:
            k_enc, k_mac = ca.card_chip_authentication(
                ca_private_key(self._state.ca_key), terminal_key, protocol
            )
        except (ProtocolError, ValueError, EncodingError):
            return status(SW.WRONG_DATA)
        algorithm = oids.CaAlgorithm.from_oid(protocol)
        # The response still travels under the old keys; the new session starts at SSC 0 and
        # keeps the access rights of the BAC/PACE session it replaces (method unchanged).
        self._prepare(SecureMessaging(algorithm.cipher, k_enc, k_mac, 0), None, True)
        self._next_ca_terminal_key = bytes(terminal_key)
        return Response(answer, SW.OK)

    # ------------------------------------------------------------------ GENERAL AUTHENTICATE

    def general_authenticate(self, command: Command) -> Response:
        """PACE's four steps, or CA's key agreement (after MSE:Set AT 41A4)."""
        if command.p1 or command.p2:
            return status(SW.INCORRECT_P1P2)
        if self._ca is not None:
            pending, self._ca = self._ca, None
            try:
                inner = tlv.decode_single(command.data, 0x7C, what="GENERAL AUTHENTICATE")
                key = tlv.require(inner.children(), 0x80, "GENERAL AUTHENTICATE").value
            except EncodingError:
                return status(SW.WRONG_DATA)
            return self._chip_authentication(key, pending.protocol, b"\x7c\x00")
        chip = self._pace
        if chip is None:
            return status(SW.CONDITIONS_NOT_SATISFIED)
        try:
            answer = chip.general_authenticate(command.data)
        except ProtocolError:
            self._pace = None
            return status(SW.VERIFICATION_FAILED)  # e.g. the terminal's token: a wrong password
        except (EncodingError, ValueError):
            self._pace = None
            return status(SW.WRONG_DATA)
        self._record_pace_key(answer)
        if chip.completed:
            self._pace = None
            assert chip.session_keys is not None
            k_enc, k_mac = chip.session_keys
            sm = SecureMessaging(chip.algorithm.cipher, k_enc, k_mac, 0)
            # PACE-CAM authenticates the chip as part of PACE (9303-11 §4.4.3.3.3).
            self._prepare(sm, "PACE", chip.algorithm.mapping == "CAM")
        return Response(answer, SW.OK)

    def _record_pace_key(self, answer: bytes) -> None:
        """Keep the chip's ephemeral PACE key (DO'84' of step 3's answer): ID_PICC for TA."""
        try:
            inner = tlv.decode_single(answer, 0x7C, what="GENERAL AUTHENTICATE").children()
        except EncodingError:
            return
        key = tlv.find(inner, 0x84)
        if key is not None:
            self._pace_eph = key.value

    def _prepare(self, sm: SecureMessaging, method: Method | None, chip_auth: bool) -> None:
        self.next_sm = sm
        self._next_method = method
        self._next_chip_authenticated = chip_auth

    # ------------------------------------------------------------------ AA

    def internal_authenticate(self, command: Command) -> Response:
        """Active authentication (9303-11 §6.1): sign the terminal's challenge."""
        if command.p1 or command.p2:
            return status(SW.INCORRECT_P1P2)
        if not command.data:
            return status(SW.WRONG_LENGTH)
        try:
            key, algorithm = self._aa_key()
        except EncodingError:
            return status(REFERENCED_DATA_NOT_FOUND)
        if key is None:
            return status(REFERENCED_DATA_NOT_FOUND)
        try:
            signature = aa.sign_aa_challenge(key, command.data, algorithm, self._rng)
        except (ProtocolError, ValueError, EncodingError):
            return status(SW.WRONG_DATA)
        return Response(signature, SW.OK)

    def _aa_key(self) -> tuple[aa.PrivateKey | None, str | None]:
        state = self._state
        if state.aa_ec_key is not None:
            dg14 = self._files.dg14()
            info = dg14.security_infos.active_authentication_info if dg14 else None
            return aa_ec_private_key(state.aa_ec_key), info.signature_algorithm if info else None
        if state.aa_rsa_modulus is None or state.aa_rsa_exponent is None:
            return None, None
        e = _public_exponent(self._files.dg15(), state.aa_rsa_modulus)
        numbers = (state.aa_rsa_modulus, state.aa_rsa_exponent, e)
        if self._rsa_cache is None or self._rsa_cache[0] != numbers:
            self._rsa_cache = (numbers, rsa_private_key(*numbers))
        # ISO/IEC 9796-2 with SHA-256 and the explicit trailer 34 CC: the chip names its hash
        # in the trailer (9303-11 §6.1), and SHA-1 no longer meets the default verification
        # policy (BSI TR-03116-2). The original JMRTD applet signs with SHA-1 (trailer BC).
        return self._rsa_cache[1], oids.SHA256_WITH_RSA


def _public_exponent(dg15: Dg15 | None, modulus: int) -> int:
    """e from DG15 when it holds this modulus; 65537 (F4, the usual choice) otherwise."""
    if dg15 is not None:
        try:
            key = dg15.public_key()
        except EncodingError:
            return 65537
        if isinstance(key, rsa.RSAPublicKey) and key.public_numbers().n == modulus:
            return key.public_numbers().e
    return 65537


def _oid(do: tlv.Tlv | None) -> str | None:
    """The dotted OID of a DO'80' holding the content octets of an OBJECT IDENTIFIER."""
    if do is None or not do.value or len(do.value) > 127:
        return None
    try:
        return oids.from_der(bytes((0x06, len(do.value))) + do.value)
    except EncodingError:
        return None


def _matching_pace_info(
    card_access: CardAccess, protocol: str, parameter_id: int | None
) -> PaceInfo | None:
    for info in card_access.pace_infos:
        if info.protocol != protocol:
            continue
        if parameter_id is None or info.parameter_id == parameter_id:
            return info
    return None
