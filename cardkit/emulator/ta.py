"""The chip's side of terminal authentication version 1 (BSI TR-03110-1 §2.5, TR-03110-3 §B.11;
ICAO 9303-11 §7.1): trust points, the certificate chain, the chip's current date, the challenge
and the effective authorization that opens DG3/DG4.

The signature and encoding work is the protocol layer's (:mod:`cardkit.protocol.ta`,
:mod:`cardkit.pki.cvc`); what lives here is the chip's bookkeeping, per power-on session:

- **Trust points**: up to two CVCA certificates, loaded at personalization by PUT DATA
  ``00 DA 01 64`` (and ``02`` for a second one during a CVCA rollover) and kept in the state.
  A CVCA *link* certificate that verifies under a trust point becomes trust point 1; the one it
  was verified under is kept as trust point 2.
- **The current date** (TR-03110-1 §2.5.1): initially the day of personalization (at least the
  CVCA's effective date); raised to the effective date of every verified CVCA, domestic DV and
  domestic IS certificate. A certificate whose expiration date lies before it is refused.
- **MSE:Set DST** ``81 B6 {83 CAR}`` selects a trust point, or the certificate verified last in
  this session, by its CHR (6A88 when there is none; 6985 before chip authentication).
- **PSO:Verify Certificate** ``00 2A 00 BE {7F4E …}{5F37 …}``: the CAR must be the selected
  key's, the issuer's role may certify the subject's (CVCA → CVCA link / DV, DV → IS), the
  signature verifies with the selected key (EC domain parameters from the trust point), the
  certificate has not expired at the current date; the CHAT is narrowed along the chain (6300
  otherwise; 6A80 for a data field that is not a certificate; 6985 without MSE:Set DST).
- **MSE:Set AT** ``81 A4 {83 CHR}`` names the inspection-system certificate just verified (6A88
  otherwise); **GET CHALLENGE** gives r_PICC; **EXTERNAL AUTHENTICATE** verifies the IS
  signature over ``ID_PICC ‖ r_PICC ‖ Comp(PK~_PCD)``: 9000 grants the effective CHAT, 6300
  refuses; the challenge is used once (a replay: 6985).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from cardkit.emulator.state import CardState
from cardkit.errors import EncodingError, PkiError
from cardkit.iso7816.apdu import SW
from cardkit.pki import cvc
from cardkit.protocol import ta

REFERENCE_NOT_FOUND = ta.REFERENCE_NOT_FOUND
MAX_TRUST_POINTS = 2


@dataclass(frozen=True)
class _Key:
    """A public key the chip can verify with: a trust point or a certificate verified in this
    session, with the effective CHAT of its holder and the chain's EC domain parameters."""

    certificate: cvc.Certificate
    chat: cvc.Chat
    domain: cvc.EcDomainParameters | None
    domestic: bool  # issued under a domestic DV (or a CVCA / domestic DV itself)


def trust_points(state: CardState) -> list[cvc.Certificate]:
    """The state's trust points that decode (a broken one is skipped, never trusted)."""
    out = []
    for raw in state.trust_points:
        try:
            out.append(cvc.Certificate.from_bytes(raw))
        except EncodingError:
            continue
    return out


def load_trust_point(state: CardState, number: int, data: bytes, today: date) -> None:
    """PUT DATA ``00 DA <number> 64 <CVCA certificate>`` at personalization. ValueError /
    EncodingError for a number other than 1 or 2, or a certificate that is not a CVCA's with
    domain parameters."""
    if number not in (1, 2):
        raise ValueError("trust point 1 or 2")
    certificate = cvc.Certificate.from_bytes(bytes(data))
    if certificate.role is not cvc.Role.CVCA:
        raise EncodingError("a trust point is a CVCA certificate")
    key = certificate.public_key
    if isinstance(key, cvc.EcPublicKey) and key.domain is None:
        raise EncodingError("a CVCA certificate carries its domain parameters")
    points = list(state.trust_points)
    if len(points) < number - 1:
        raise ValueError("trust point 2 needs trust point 1")
    if len(points) >= number:
        points[number - 1] = certificate.raw
    else:
        points.append(certificate.raw)
    state.trust_points = points
    start = max(today, certificate.effective)
    state.chip_date = start if state.chip_date is None else max(state.chip_date, start)


class TerminalAuthenticationChip:
    """TA v1 of one power-on session (reset with the session). ``changed`` tells the card to
    save the state (current date or trust points moved)."""

    def __init__(self, state: CardState, today: Callable[[], date]) -> None:
        self._state = state
        self._today = today
        self.reset()

    def reset(self) -> None:
        self._selected: _Key | None = None
        self._last: _Key | None = None
        self._terminal: _Key | None = None
        self.challenge: bytes | None = None
        self.granted: cvc.Chat | None = None
        self.changed = False

    @property
    def pending(self) -> bool:
        """Whether EXTERNAL AUTHENTICATE now belongs to TA (MSE:Set AT named the terminal)."""
        return self._terminal is not None

    def may_read(self, data_group: int) -> bool:
        """DG3 / DG4 after TA, as the effective CHAT allows (TR-03110-3 C.4.1)."""
        chat = self.granted
        if chat is None:
            return False
        return (data_group == 3 and chat.read_dg3) or (data_group == 4 and chat.read_dg4)

    def _current_date(self) -> date:
        if self._state.chip_date is not None:
            return self._state.chip_date
        return self._today()

    # -- MSE:Set DST

    def set_dst(self, car: bytes) -> int:
        self._selected = None
        self._terminal = None
        self.challenge = None
        if self._last is not None and bytes(self._last.certificate.chr) == car:
            self._selected = self._last
            return SW.OK
        for certificate in trust_points(self._state):
            if bytes(certificate.chr) == car:
                key = certificate.public_key
                domain = key.domain if isinstance(key, cvc.EcPublicKey) else None
                self._selected = _Key(certificate, certificate.chat, domain, True)
                return SW.OK
        return REFERENCE_NOT_FOUND

    # -- PSO:Verify Certificate

    def verify_certificate(self, data: bytes) -> int:
        issuer, self._selected = self._selected, None
        if issuer is None:
            return SW.CONDITIONS_NOT_SATISFIED
        try:
            certificate = ta.parse_certificate_data(data)
        except EncodingError:
            return SW.WRONG_DATA
        if certificate.car != issuer.certificate.chr:
            return SW.VERIFICATION_FAILED
        if not issuer.certificate.role.may_certify(certificate.role):
            return SW.VERIFICATION_FAILED
        try:
            chat = issuer.chat.narrowed_by(certificate.chat)
            if not cvc.verify_signature(certificate, issuer.certificate, domain=issuer.domain):
                return SW.VERIFICATION_FAILED
        except PkiError:
            return SW.VERIFICATION_FAILED
        key = certificate.public_key
        domain = key.domain if isinstance(key, cvc.EcPublicKey) else None
        if certificate.role is cvc.Role.CVCA and isinstance(key, cvc.EcPublicKey) and not domain:
            return SW.VERIFICATION_FAILED  # a CVCA key carries its domain parameters
        current = self._current_date()
        if certificate.expiration < current:
            return SW.VERIFICATION_FAILED  # expired at the chip's current date
        role = certificate.role
        domestic = role is cvc.Role.DV_DOMESTIC or (
            role is cvc.Role.INSPECTION_SYSTEM
            and issuer.domestic
            and issuer.certificate.role is cvc.Role.DV_DOMESTIC
        )
        # TR-03110-1 §2.5.1: the date advances from CVCA, domestic DV and domestic IS
        # certificates only (a foreign DV could move it at will).
        if (role is cvc.Role.CVCA or domestic) and certificate.effective > current:
            self._state.chip_date = certificate.effective
            self.changed = True
        if role is cvc.Role.CVCA:
            self._roll_over(certificate, issuer.certificate)
            self._last = _Key(certificate, certificate.chat, domain, True)
            return SW.OK
        self._last = _Key(certificate, chat, issuer.domain, domestic)
        return SW.OK

    def _roll_over(self, link: cvc.Certificate, previous: cvc.Certificate) -> None:
        """A verified CVCA link certificate becomes trust point 1, the one it was verified
        under trust point 2 (TR-03110-1 §2.5.2: the chip keeps both until the old expires)."""
        points = [link.raw, previous.raw]
        if points != list(self._state.trust_points[:MAX_TRUST_POINTS]):
            self._state.trust_points = points
            self.changed = True

    # -- MSE:Set AT, GET CHALLENGE, EXTERNAL AUTHENTICATE

    def set_at(self, chr: bytes) -> int:
        self._terminal = None
        self.challenge = None
        last = self._last
        if (
            last is None
            or last.certificate.role is not cvc.Role.INSPECTION_SYSTEM
            or bytes(last.certificate.chr) != chr
        ):
            return REFERENCE_NOT_FOUND
        self._terminal = last
        return SW.OK

    def external_authenticate(
        self, signature: bytes, id_picc: bytes, terminal_ephemeral_public_key: bytes
    ) -> int:
        terminal, challenge = self._terminal, self.challenge
        self.challenge = None  # a challenge is used once: a replay finds none
        if terminal is None or challenge is None:
            return SW.CONDITIONS_NOT_SATISFIED
        self._terminal = None
        if not ta.verify_challenge_signature(
            signature,
            terminal.certificate,
            terminal.domain,
            id_picc,
            challenge,
            terminal_ephemeral_public_key,
        ):
            return SW.VERIFICATION_FAILED
        self.granted = terminal.chat
        return SW.OK
