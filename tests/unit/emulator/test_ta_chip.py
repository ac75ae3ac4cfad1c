"""The emulated chip's terminal authentication v1 (cardkit.emulator.ta; TR-03110-1 §2.5,
TR-03110-3 §B.11, ICAO 9303-11 §7.1): trust point at personalization, the chain, the chip's
current date, the CHAT, the challenge; what it refuses and with which status word."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cards import TODAY
from eacpki import (
    Personalized,
    can_key,
    cvca_certificate,
    issue,
    make_pki,
    mrz_key,
    new_signer,
    personalized,
    pki,
)

from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.emulator.state import CardState
from cardkit.iso7816.apdu import Command
from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.dg14 import Dg14
from cardkit.pki.cvc import Role
from cardkit.protocol import ta
from cardkit.protocol.bac import perform_bac
from cardkit.protocol.pace import choose_pace_info, perform_pace
from cardkit.protocol.sm import SecureConnection
from cardkit.services.read import read_card


@dataclass
class Session:
    secure: SecureConnection
    id_picc: bytes
    ca_ephemeral: bytes | None


def open_session(chip: EmulatedCard, p: Personalized, *, ca: bool = True) -> Session:
    """PACE with the CAN, SELECT of the application, then (optionally) chip authentication."""
    connection = EmulatorConnection(chip)
    card_access = CardAccess.from_bytes(p.image.files[files.CARD_ACCESS])
    info = choose_pace_info(card_access)
    assert info is not None
    pace = perform_pace(connection, can_key(p).pace_password(), info, os.urandom)
    secure = SecureConnection(connection, pace.sm)
    assert secure.send(Command(0x00, 0xA4, 0x04, 0x0C, files.LDS1_AID)).sw == 0x9000
    ephemeral = None
    if ca:
        dg14 = Dg14.from_bytes(p.image.files[files.dg(14)])
        _, ephemeral = ta.perform_ca_for_ta(secure, dg14)
    return Session(secure, ta.id_picc_pace(pace.chip_public_key), ephemeral)


def read_dg3(session: Session) -> int:
    return session.secure.send(Command(0x00, 0xB0, 0x83, 0x00, ne=16)).sw


def run_ta(session: Session, terminal: ta.TerminalKey) -> ta.TaResult:
    assert session.ca_ephemeral is not None
    return ta.perform_ta(
        session.secure,
        terminal,
        id_picc=session.id_picc,
        terminal_ephemeral_public_key=session.ca_ephemeral,
    )


# --- Tests ---------------------------------------------------------------------------------------


def test_trust_point_is_loaded_and_persisted() -> None:
    p = personalized()
    state = CardState.from_json(p.state)
    assert state.trust_points == [pki().cvca.raw]
    assert state.chip_date == TODAY  # the day of personalization (after the CVCA's effective)
    assert CardState.from_json(state.to_json()).trust_points == state.trust_points


def test_ta_opens_dg3() -> None:
    p = personalized()
    session = open_session(p.chip(), p)
    assert read_dg3(session) == 0x6982  # DG3 before TA
    result = run_ta(session, pki().terminal())
    assert result.verified == ("VNDV000001", "VNIS00001")
    assert read_dg3(session) == 0x9000


def test_dg3_refused_without_ta_and_ta_refused_before_ca() -> None:
    p = personalized()
    session = open_session(p.chip(), p, ca=False)
    assert read_dg3(session) == 0x6982
    sw = session.secure.send(ta.mse_set_dst(pki().dv.car)).sw
    assert sw == 0x6985  # TA v1 follows chip authentication


def test_expired_is_certificate_is_refused() -> None:
    p = personalized()
    session = open_session(p.chip(), p)
    expired = pki().new_terminal("VNIS00003", effective=TODAY - timedelta(days=40), days=10)
    with pytest.raises(Exception) as caught:
        run_ta(session, expired)
    assert getattr(caught.value, "sw", None) == 0x6300
    assert read_dg3(session) == 0x6982


def test_chain_from_another_cvca_is_refused() -> None:
    p = personalized()
    session = open_session(p.chip(), p)
    foreign = make_pki("XX")
    with pytest.raises(Exception) as caught:
        run_ta(session, foreign.terminal())
    assert getattr(caught.value, "sw", None) == 0x6A88  # no such trust point
    # A DV certificate claiming our CVCA's CAR but signed by another key: 6300.
    forged_dv = issue(
        foreign.cvca_signer, pki().cvca, foreign.dv_signer, "VNDV000009", Role.DV_DOMESTIC,
        effective=TODAY - timedelta(days=5), days=90,
    )  # fmt: skip
    session = open_session(p.chip(), p)
    assert session.secure.send(ta.mse_set_dst(forged_dv.car)).sw == 0x9000
    (command,) = ta.pso_verify_certificate(forged_dv)
    assert session.secure.send(command).sw == 0x6300


def test_chat_without_dg3_bit_keeps_dg3_closed() -> None:
    p = personalized()
    session = open_session(p.chip(), p)
    run_ta(session, pki().new_terminal("VNIS00004", read_dg3=False, read_dg4=True))
    assert read_dg3(session) == 0x6982


def test_replayed_external_authenticate_is_refused() -> None:
    p = personalized()
    session = open_session(p.chip(), p)
    terminal = pki().terminal()
    for certificate in ta.chain_for(terminal):
        assert session.secure.send(ta.mse_set_dst(certificate.car)).sw == 0x9000
        for command in ta.pso_verify_certificate(certificate):
            assert session.secure.send(command).sw == 0x9000
    assert session.secure.send(ta.mse_set_at(terminal.certificate.chr)).sw == 0x9000
    challenge = session.secure.send(ta.get_challenge()).data
    assert session.ca_ephemeral is not None
    signature = ta.sign_challenge(
        terminal.signer, terminal.certificate, session.id_picc, challenge, session.ca_ephemeral
    )
    assert session.secure.send(ta.external_authenticate(signature)).sw == 0x9000
    assert session.secure.send(ta.external_authenticate(signature)).sw == 0x6985  # replay
    # A fresh challenge does not make the old signature good again.
    assert session.secure.send(ta.mse_set_at(terminal.certificate.chr)).sw == 0x9000
    assert len(session.secure.send(ta.get_challenge()).data) == 8
    assert session.secure.send(ta.external_authenticate(signature)).sw == 0x6300


def test_wrong_signature_is_refused() -> None:
    p = personalized()
    session = open_session(p.chip(), p)
    impostor = ta.TerminalKey(new_signer("impostor"), pki().is_cert, (pki().dv,))
    with pytest.raises(Exception) as caught:
        run_ta(session, impostor)
    assert getattr(caught.value, "sw", None) == 0x6300


def test_cvca_rollover_through_a_link_certificate() -> None:
    old = pki()
    p = personalized()
    chip = p.chip()
    new_cvca_signer = new_signer("VN CVCA 2")
    link = issue(
        old.cvca_signer, old.cvca, new_cvca_signer, "VNCVCA00002", Role.CVCA,
        effective=TODAY, days=3 * 365,
    )  # fmt: skip
    new_dv_signer = new_signer("VN DV 2")
    new_cvca_self = cvca_certificate(new_cvca_signer, "VNCVCA00002", TODAY, 3 * 365)
    new_dv = issue(
        new_cvca_signer, new_cvca_self, new_dv_signer, "VNDV000002", Role.DV_DOMESTIC,
        effective=TODAY, days=365,
    )  # fmt: skip
    is_signer = new_signer("VN IS 2")
    is_cert = issue(
        new_dv_signer, new_dv, is_signer, "VNIS00010", Role.INSPECTION_SYSTEM, effective=TODAY,
        days=30,
    )  # fmt: skip
    terminal = ta.TerminalKey(is_signer, is_cert, (new_dv, link, new_cvca_self))
    assert [str(c.chr) for c in ta.chain_for(terminal)] == [
        "VNCVCA00002",
        "VNDV000002",
        "VNIS00010",
    ]

    session = open_session(chip, p)
    result = run_ta(session, terminal)
    assert result.verified == ("VNCVCA00002", "VNDV000002", "VNIS00010")
    assert read_dg3(session) == 0x9000
    state = CardState.from_json(chip._state.to_json())
    assert state.trust_points[0] == link.raw  # the new trust point
    assert state.trust_points[1] == old.cvca.raw  # the old one kept
    # The old trust point stays until it is dropped: the link verifies again, nothing moves.
    session = open_session(chip, p)
    assert run_ta(session, terminal).verified[0] == "VNCVCA00002"
    assert chip._state.trust_points == [link.raw, old.cvca.raw]
    # A chip that knows only the new CVCA: the link certificate is skipped (6A88 on its CAR).
    chip._state.trust_points = [link.raw]
    session = open_session(chip, p)
    result = run_ta(session, terminal)
    assert result.skipped == ("VNCVCA00002",)
    assert read_dg3(session) == 0x9000
    # Known trust points (PACE's DO'87'): the walk stops there and sends no link certificate.
    assert [str(c.chr) for c in ta.chain_for(terminal, [link.chr])] == ["VNDV000002", "VNIS00010"]


def test_current_date_advances_from_domestic_certificates() -> None:
    p = personalized()
    chip = p.chip()
    later = TODAY + timedelta(days=20)
    terminal = pki().new_terminal("VNIS00005", effective=later, days=30)
    session = open_session(chip, p)
    run_ta(session, terminal)
    assert chip._state.chip_date == later
    # An IS certificate that expired before the new current date is refused from now on.
    session = open_session(chip, p)
    with pytest.raises(Exception) as caught:
        run_ta(session, pki().new_terminal("VNIS00006", effective=TODAY, days=10))
    assert getattr(caught.value, "sw", None) == 0x6300


def test_pso_verify_certificate_by_command_chaining() -> None:
    p = personalized()
    session = open_session(p.chip(), p)
    terminal = pki().terminal()
    for certificate in ta.chain_for(terminal):
        assert session.secure.send(ta.mse_set_dst(certificate.car)).sw == 0x9000
        commands = ta.pso_verify_certificate(certificate, max_data=64)
        assert len(commands) > 1 and all(c.cla == 0x10 for c in commands[:-1])
        for command in commands:
            assert session.secure.send(command).sw == 0x9000


def test_ta_after_bac_signs_the_document_number() -> None:
    p = personalized()
    connection = EmulatorConnection(p.chip())
    assert connection.send(Command(0x00, 0xA4, 0x04, 0x0C, files.LDS1_AID)).sw == 0x9000
    key = mrz_key(p).mrz_key
    assert key is not None
    secure = SecureConnection(connection, perform_bac(connection, key, os.urandom))
    _, ephemeral = ta.perform_ca_for_ta(secure, Dg14.from_bytes(p.image.files[files.dg(14)]))
    session = Session(secure, ta.id_picc_bac(key.document_number), ephemeral)
    wrong = Session(secure, ta.id_picc_pace(b"\x04" + bytes(64)), ephemeral)
    with pytest.raises(Exception) as caught:
        run_ta(wrong, pki().terminal())  # ID_PICC of PACE after BAC: the signature fails
    assert getattr(caught.value, "sw", None) == 0x6300
    run_ta(session, pki().terminal())
    assert read_dg3(session) == 0x9000


def test_read_card_with_ta_in_short_apdus() -> None:
    p = personalized()
    chip = p.chip()
    read = read_card(
        EmulatorConnection(chip),
        mrz_key(p),
        terminal=pki().terminal(),
        data_groups=(1, 3, 14),
        active_authentication=False,
        extended_length=False,
    )
    assert read.access == "PACE-MRZ"
    assert read.terminal_authentication == "passed", read.errors
    assert files.dg(3) in read.files
    assert read.files[files.dg(3)] == p.image.files[files.dg(3)]
