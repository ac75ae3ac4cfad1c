"""Terminal authentication version 1 (EAC1 for eMRTDs: BSI TR-03110-1 §2.5 / TR-03110-3 §B.2,
§B.11; ICAO 9303-11 §7.1), both sides' pure pieces and the terminal-side flow.

After chip authentication (TA v1 needs CA first: its signature covers the terminal's ephemeral
CA key), the terminal proves to the chip that it holds the private key of an inspection-system
certificate whose chain leads to the chip's trust point (the CVCA)::

    for each certificate (CVCA link certificates first when the chip's trust point is older,
    then the DV certificate, then the IS certificate):
        MSE:Set DST           0C 22 81 B6  {83 CAR}              select the verifying key
        PSO:Verify Certificate 0C 2A 00 BE {7F4E body}{5F37 signature}
    MSE:Set AT                0C 22 81 A4  {83 CHR of the IS certificate}
    GET CHALLENGE             0C 84 00 00  Le 8                   r_PICC
    EXTERNAL AUTHENTICATE     0C 82 00 00  {signature}

The data field of PSO:Verify Certificate is the certificate's body and signature data objects,
not the ``7F21`` wrapper (TR-03110-3 §B.11.5; JMRTD's EACTAProtocol sends exactly that). When it
does not fit a short command the chip's extended length carries it, else command chaining
(CLA b5, ISO/IEC 7816-4 §5.1.1.1), each link protected by secure messaging on its own.

The signature (TR-03110-1 §2.5.3 / 9303-11 §7.1.4) is over::

    ID_PICC ‖ r_PICC ‖ Comp(PK~_PCD)

- ``ID_PICC``: after BAC the document number as in the MRZ (9 characters with ``<`` fillers for
  a short number) followed by its check digit; after PACE ``Comp`` of the chip's ephemeral PACE
  public key (:func:`id_picc_bac`, :func:`id_picc_pace`);
- ``r_PICC``: the chip's 8-byte challenge;
- ``Comp(PK~_PCD)``: the terminal's ephemeral chip-authentication public key compressed
  (TR-03110-3 §A.2.2.3): the x-coordinate for ECDH, SHA-1 of the public value for DH.

The signature algorithm is the ``id-TA-*`` OID of the IS certificate's own public key; ECDSA
signatures are plain ``r ‖ s`` (TR-03111 §5.2.1), made through any
:class:`~cardkit.pki.signer.Signer` (file, PKCS#12, JKS or a PKCS#11 token) by
:func:`cardkit.pki.cvc.sign_body`. Pure: the connection and the challenge come from outside.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding import tlv
from cardkit.encoding.mrz import check_digit
from cardkit.errors import CardError, EncodingError, PkiError, ProtocolError
from cardkit.iso7816.apdu import SW, Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.lds.dg14 import Dg14
from cardkit.pki import cvc
from cardkit.pki.signer import Signer
from cardkit.protocol import ca
from cardkit.protocol.sm import SecureConnection

Rng = Callable[[int], bytes]

STEP = "terminal authentication"

INS_MSE = 0x22
INS_PSO = 0x2A
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
#: MSE:Set DST for verification (P1 81: set for verification; P2 B6: digital signature template).
MSE_SET_DST = (0x81, 0xB6)
#: MSE:Set AT for external authentication (P1 81, P2 A4: authentication template).
MSE_SET_AT = (0x81, 0xA4)
#: PSO:Verify Certificate (P1 00, P2 BE: the data field is a certificate to verify).
PSO_VERIFY_CERTIFICATE = (0x00, 0xBE)
TAG_REFERENCE = 0x83  # DO'83': reference of a public key (CAR in Set DST, CHR in Set AT)
CHALLENGE_LENGTH = 8
#: The largest data field of one short command APDU.
SHORT_MAX_DATA = 255
CLA_CHAINING = 0x10
#: Status words of TA named by TR-03110-3 §B.11 (beyond :class:`~cardkit.iso7816.apdu.SW`).
REFERENCE_NOT_FOUND = 0x6A88


# --- What is signed -------------------------------------------------------------------------


def compress(public_key: bytes) -> bytes:
    """``Comp()`` of TR-03110-3 §A.2.2.3: the x-coordinate of an uncompressed EC point
    (``04 ‖ x ‖ y``), SHA-1 of a DH public value (as encoded: y padded to |p|)."""
    if len(public_key) >= 3 and public_key[0] == 0x04 and len(public_key) % 2 == 1:
        return public_key[1 : 1 + (len(public_key) - 1) // 2]
    if not public_key:
        raise ValueError("an empty public key cannot be compressed")
    return hashlib.sha1(public_key).digest()  # the specification's Comp() for DH (SHA-1)


def id_picc_bac(document_number: str) -> bytes:
    """ID_PICC after BAC (9303-11 §7.1.4; TR-03110-1 §2.5.3): the document number as the MRZ
    prints it (padded with ``<`` to 9 characters) followed by its check digit, ASCII."""
    number = document_number.upper().rstrip("<")
    if not number:
        raise ValueError("document number is empty")
    field = number.ljust(9, "<")
    return (field + check_digit(field)).encode("ascii")


def id_picc_pace(chip_ephemeral_public_key: bytes) -> bytes:
    """ID_PICC after PACE: ``Comp`` of the chip's ephemeral PACE public key."""
    return compress(chip_ephemeral_public_key)


def signed_data(id_picc: bytes, challenge: bytes, terminal_ephemeral_public_key: bytes) -> bytes:
    """``ID_PICC ‖ r_PICC ‖ Comp(PK~_PCD)``: what the IS key signs (module docstring)."""
    return bytes(id_picc) + bytes(challenge) + compress(terminal_ephemeral_public_key)


def sign_challenge(
    signer: Signer,
    terminal_certificate: cvc.Certificate,
    id_picc: bytes,
    challenge: bytes,
    terminal_ephemeral_public_key: bytes,
) -> bytes:
    """The IS signature for EXTERNAL AUTHENTICATE, under the algorithm the IS certificate's
    public key names (plain ``r ‖ s`` for ECDSA). PkiError when the signer is not that key."""
    algorithm = terminal_certificate.public_key.oid
    data = signed_data(id_picc, challenge, terminal_ephemeral_public_key)
    return cvc.sign_body(data, signer, algorithm=algorithm)


def verify_challenge_signature(
    signature: bytes,
    terminal_certificate: cvc.Certificate,
    domain: cvc.EcDomainParameters | None,
    id_picc: bytes,
    challenge: bytes,
    terminal_ephemeral_public_key: bytes,
) -> bool:
    """The chip's check of EXTERNAL AUTHENTICATE: ``signature`` by the IS certificate's key
    (with the CVCA's EC ``domain`` parameters, which IS keys inherit)."""
    data = signed_data(id_picc, challenge, terminal_ephemeral_public_key)
    try:
        return cvc.verify_data(data, signature, terminal_certificate.public_key, domain=domain)
    except PkiError:
        return False


# --- APDUs -----------------------------------------------------------------------------------


def mse_set_dst(car: cvc.CertificateReference) -> Command:
    """MSE:Set DST with the CAR of the next certificate (TR-03110-3 §B.11.4)."""
    return Command(0x00, INS_MSE, *MSE_SET_DST, tlv.encode(TAG_REFERENCE, bytes(car)))


def certificate_data(certificate: cvc.Certificate) -> bytes:
    """PSO:Verify Certificate's data field: ``7F4E body ‖ 5F37 signature`` (§B.11.5)."""
    return certificate.body.raw + tlv.encode(cvc.TAG_SIGNATURE, certificate.signature)


def pso_verify_certificate(
    certificate: cvc.Certificate, *, max_data: int | None = None
) -> list[Command]:
    """PSO:Verify Certificate as one command, or — when ``max_data`` (the largest data field
    one command may carry) is smaller than the data — a chain of commands, CLA b5 set on all
    but the last (ISO/IEC 7816-4 §5.1.1.1). ``max_data`` None: one command, extended length
    when the data exceeds 255 bytes."""
    data = certificate_data(certificate)
    p1, p2 = PSO_VERIFY_CERTIFICATE
    if max_data is None or len(data) <= max_data:
        return [Command(0x00, INS_PSO, p1, p2, data)]
    if max_data < 1:
        raise ValueError("max_data must be positive")
    chunks = [data[i : i + max_data] for i in range(0, len(data), max_data)]
    return [
        Command(CLA_CHAINING if i < len(chunks) - 1 else 0x00, INS_PSO, p1, p2, chunk)
        for i, chunk in enumerate(chunks)
    ]


def mse_set_at(chr: cvc.CertificateReference) -> Command:
    """MSE:Set AT for external authentication with the IS certificate's CHR (§B.11.1)."""
    return Command(0x00, INS_MSE, *MSE_SET_AT, tlv.encode(TAG_REFERENCE, bytes(chr)))


def get_challenge() -> Command:
    return Command(0x00, INS_GET_CHALLENGE, 0x00, 0x00, ne=CHALLENGE_LENGTH)


def external_authenticate(signature: bytes) -> Command:
    return Command(0x00, INS_EXTERNAL_AUTHENTICATE, 0x00, 0x00, bytes(signature))


def parse_certificate_data(data: bytes) -> cvc.Certificate:
    """The chip's reading of PSO:Verify Certificate's data field (``7F4E … 5F37 …``, or a whole
    ``7F21`` certificate, which some terminals send). EncodingError when malformed."""
    data = bytes(data)
    if data[:2] == b"\x7f\x21":
        return cvc.Certificate.from_bytes(data)
    items = tlv.decode_all(data)
    if [t.tag for t in items] != [cvc.TAG_CERTIFICATE_BODY, cvc.TAG_SIGNATURE]:
        raise EncodingError("PSO:Verify Certificate: expected 7F4E and 5F37")
    return cvc.Certificate.from_bytes(tlv.encode(cvc.TAG_CV_CERTIFICATE, data))


# --- The chain to send -----------------------------------------------------------------------


@dataclass(frozen=True)
class TerminalKey:
    """What an inspection system needs for TA: its private key (any Signer), its IS certificate
    and the rest of its chain (its DV certificate, CVCA link certificates; a self-signed CVCA
    certificate may be among them and is never sent)."""

    signer: Signer
    certificate: cvc.Certificate
    chain: tuple[cvc.Certificate, ...] = ()

    def __post_init__(self) -> None:
        if self.certificate.role is not cvc.Role.INSPECTION_SYSTEM:
            raise PkiError(
                f"{self.certificate.chr}: a {self.certificate.role.label} certificate, not an "
                "inspection-system certificate"
            )

    @classmethod
    def from_certificates(
        cls, signer: Signer, certificates: Iterable[cvc.Certificate]
    ) -> TerminalKey:
        """Find the IS certificate among ``certificates``: the one of ``signer``'s key (or the
        only inspection-system certificate). PkiError when there is none or several."""
        certificates = list(certificates)
        terminals = [c for c in certificates if c.role is cvc.Role.INSPECTION_SYSTEM]
        if not terminals:
            raise PkiError("no inspection-system certificate in the terminal chain")
        own = [c for c in terminals if _is_key_of(c, signer)]
        if len(own) != 1 and len(terminals) != 1:
            raise PkiError(
                "the terminal chain holds several inspection-system certificates and none "
                "(or more than one) is of the terminal key"
            )
        chosen = own[0] if len(own) == 1 else terminals[0]
        rest = tuple(c for c in certificates if c is not chosen)
        return cls(signer, chosen, rest)


def _is_key_of(certificate: cvc.Certificate, signer: Signer) -> bool:
    key = certificate.public_key
    public = signer.public_key()
    if isinstance(key, cvc.EcPublicKey) and isinstance(public, ec.EllipticCurvePublicKey):
        point = public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return point == key.point
    if isinstance(key, cvc.RsaPublicKey) and isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return (numbers.n, numbers.e) == (key.modulus, key.exponent)
    return False


def chain_for(
    terminal: TerminalKey, trust_points: Sequence[cvc.CertificateReference] = ()
) -> list[cvc.Certificate]:
    """The certificates to send, in order: CVCA link certificates (oldest first), the DV, the IS.

    Walks from the IS certificate up through CARs (IS → DV → link certificates → …). With the
    chip's ``trust_points`` known (PACE's DO'87'/'88', EF.CVCA), the walk stops at the first CAR
    the chip knows; without them it goes as far as the chain reaches, and the chip skips link
    certificates whose CAR it does not know (:func:`perform_ta`). PkiError for a chain with no
    DV certificate for the IS certificate.
    """
    by_chr: dict[str, cvc.Certificate] = {}
    for certificate in terminal.chain:
        if certificate.is_self_signed:
            continue  # the CVCA certificate itself: the chip has it (or not) as a trust point
        by_chr.setdefault(str(certificate.chr), certificate)
    known = {str(t) for t in trust_points}
    path = [terminal.certificate]
    seen = {str(terminal.certificate.chr)}
    current = terminal.certificate
    while str(current.car) not in known:
        issuer = by_chr.get(str(current.car))
        if issuer is None or str(issuer.chr) in seen:
            break
        path.append(issuer)
        seen.add(str(issuer.chr))
        current = issuer
    if len(path) < 2 and str(terminal.certificate.car) not in known:
        raise PkiError(
            f"the terminal chain has no DV certificate {terminal.certificate.car} for the "
            f"inspection-system certificate {terminal.certificate.chr}"
        )
    path.reverse()
    return path


# --- The terminal-side flow ------------------------------------------------------------------


@dataclass(frozen=True)
class TaResult:
    """What terminal authentication did: the certificates the chip verified (in order), those
    it skipped (link certificates whose CAR it did not know: its trust point is newer), and the
    CHAT of the IS certificate narrowed by the certificates verified before it (the chip's
    effective CHAT is this narrowed by its trust point's too, TR-03110-3 C.4)."""

    verified: tuple[str, ...]
    skipped: tuple[str, ...]
    terminal: str
    chat: cvc.Chat


def _sent(connection: Connection, command: Command, what: str) -> Response:
    response = connection.send(command)
    if response.sw != SW.OK:
        raise CardError(f"terminal authentication: {what} refused", sw=response.sw)
    return response


def perform_ta(
    connection: Connection,
    terminal: TerminalKey,
    *,
    id_picc: bytes,
    terminal_ephemeral_public_key: bytes,
    trust_points: Sequence[cvc.CertificateReference] = (),
    max_data: int | None = None,
) -> TaResult:
    """Run TA v1 over ``connection`` (secure messaging after chip authentication).

    ``id_picc`` from :func:`id_picc_bac` or :func:`id_picc_pace`; the terminal's ephemeral CA
    public key as sent in chip authentication; ``max_data`` the largest data field one command
    may carry (None: extended length). Errors: CardError (``sw``) naming the step the chip
    refused — 6300 a certificate or signature that did not verify, 6A88 an unknown reference —;
    ProtocolError(step="terminal authentication") for a malformed challenge; PkiError for a
    chain or key that cannot be used.
    """
    chain = chain_for(terminal, trust_points)
    verified: list[str] = []
    skipped: list[str] = []
    for index, certificate in enumerate(chain):
        response = connection.send(mse_set_dst(certificate.car))
        is_link = certificate.role is cvc.Role.CVCA
        if response.sw == REFERENCE_NOT_FOUND and is_link and index < len(chain) - 1:
            skipped.append(str(certificate.chr))  # the chip's trust point is newer
            continue
        if response.sw != SW.OK:
            raise CardError(
                f"terminal authentication: MSE:Set DST {certificate.car} refused", sw=response.sw
            )
        for command in pso_verify_certificate(certificate, max_data=max_data):
            _sent(connection, command, f"PSO:Verify Certificate of {certificate.chr}")
        verified.append(str(certificate.chr))
    _sent(connection, mse_set_at(terminal.certificate.chr), "MSE:Set AT")
    challenge = _sent(connection, get_challenge(), "GET CHALLENGE").data
    if len(challenge) != CHALLENGE_LENGTH:
        raise ProtocolError(
            f"GET CHALLENGE answered {len(challenge)} bytes, not {CHALLENGE_LENGTH}", step=STEP
        )
    signature = sign_challenge(
        terminal.signer,
        terminal.certificate,
        id_picc,
        challenge,
        terminal_ephemeral_public_key,
    )
    _sent(connection, external_authenticate(signature), "EXTERNAL AUTHENTICATE")
    chat = terminal.certificate.chat
    for certificate in chain:
        if str(certificate.chr) in verified and certificate is not terminal.certificate:
            try:
                chat = certificate.chat.narrowed_by(chat)
            except PkiError:
                continue
    return TaResult(tuple(verified), tuple(skipped), str(terminal.certificate.chr), chat)


def perform_ca_for_ta(
    connection: SecureConnection,
    dg14: Dg14,
    rng: Rng = os.urandom,
    key_id: int | None = None,
) -> tuple[ca.CaResult, bytes]:
    """:func:`cardkit.protocol.ca.perform_ca`, also returning the terminal's ephemeral public key
    that TA v1 signs (``Comp(PK~_PCD)``). The key is regenerated from the very random bytes
    chip authentication drew (:func:`cardkit.protocol.ca.generate_ephemeral_key` is a pure
    function of them), so nothing of CA changes."""
    drawn: list[bytes] = []

    def recording(count: int) -> bytes:
        value = rng(count)
        drawn.append(value)
        return value

    result = ca.perform_ca(connection, dg14, recording, key_id)
    _, public_key_info, _ = ca.choose_ca(dg14, key_id)
    replay = iter(drawn)
    try:
        ephemeral = ca.generate_ephemeral_key(
            ca.chip_key(public_key_info.public_key_info), lambda _count: next(replay)
        )
    except (StopIteration, EncodingError) as exc:
        raise ProtocolError("the CA ephemeral key cannot be recovered", step=STEP) from exc
    return result, ca.public_key_bytes(ephemeral)
