"""A wrong CAN or MRZ is not a forgery (issue 11, item 6), on cardkit's in-process emulated chip.

The chip refuses the key — BAC's EXTERNAL AUTHENTICATE (ICAO 9303-11 §4.3.3.2) or PACE's last
GENERAL AUTHENTICATE, the terminal token (§4.4.3.4) — or a CAN meets a chip without a PACE that
takes it: :func:`read_card` raises :class:`AccessDeniedError` naming the key kind, and
:func:`verify_card` answers INCOMPLETE (never INVALID) with ``chip.access`` SKIP. A chip that
*accepts* the terminal but whose own answer does not verify does not know the key: that stays a
plain ProtocolError (a forgery), never "enter it again".
"""

from __future__ import annotations

import dataclasses
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest

from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.encoding import tlv
from cardkit.errors import AccessDeniedError, ProtocolError
from cardkit.iso7816.apdu import Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.report import Status, Verdict
from cardkit.services.read import AccessKey, read_card
from cardkit.services.verify import verify_card

DENIED_CAN = "access denied: the CAN does not open this card \u2014 enter it again"
DENIED_MRZ = "access denied: the MRZ does not open this card \u2014 enter it again"
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_GENERAL_AUTHENTICATE = 0x86
INS_MSE = 0x22


class Recording:
    """Records every command sent to the chip."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner
        self.sent: list[Command] = []

    def send(self, command: Command) -> Response:
        self.sent.append(command)
        return self.inner.send(command)

    def ins(self) -> list[int]:
        return [c.ins for c in self.sent]


@pytest.fixture(scope="module")
def chip(genuine: Any) -> EmulatedCard:
    """One locked genuine chip (PACE with CAN and MRZ; reads never change it)."""
    card: EmulatedCard = forgery.emulated(genuine)
    return card


@pytest.fixture(scope="module")
def bac_only(genuine: Any) -> tuple[Any, EmulatedCard]:
    """The same citizen on a chip without EF.CardAccess and without a CAN: BAC only."""
    card = dataclasses.replace(
        genuine,
        name="bac-only",
        files={s: d for s, d in genuine.files.items() if s != files.CARD_ACCESS},
        secrets=dataclasses.replace(genuine.secrets, can=None),
    )
    return card, forgery.emulated(card)


@pytest.fixture(scope="module")
def pace_without_can(genuine: Any) -> EmulatedCard:
    """EF.CardAccess (PACE) but no CAN stored: MSE:Set AT for the CAN is refused (6A88)."""
    card = dataclasses.replace(
        genuine, name="pace-mrz-only", secrets=dataclasses.replace(genuine.secrets, can=None)
    )
    chip: EmulatedCard = forgery.emulated(card)
    return chip


def wrong_can(card: Any) -> AccessKey:
    right = card.secrets.can
    assert right
    wrong = "".join(str((int(c) + 1) % 10) for c in right)
    return AccessKey.from_can(wrong)


def wrong_mrz(card: Any) -> AccessKey:
    s = card.secrets
    other_birth = s.date_of_birth[:4] + ("01" if s.date_of_birth[4:] != "01" else "02")
    return AccessKey.from_mrz_fields(s.document_number, other_birth, s.date_of_expiry)


def _assert_no_secret(exc: BaseException, card: Any) -> None:
    text = str(exc)
    s = card.secrets
    for secret in (s.can, s.document_number, s.date_of_birth, s.date_of_expiry):
        if secret:
            assert secret not in text


# --- read_card ----------------------------------------------------------------------------------


def test_wrong_can_on_pace_is_access_denied(genuine: Any, chip: EmulatedCard) -> None:
    conn = Recording(EmulatorConnection(chip))
    with pytest.raises(AccessDeniedError) as info:
        read_card(conn, wrong_can(genuine))
    assert info.value.key_kind == "CAN"
    assert info.value.step == "PACE mutual authentication"
    assert str(info.value) == DENIED_CAN
    _assert_no_secret(info.value, genuine)
    # The refusal came at the terminal token, the fourth GENERAL AUTHENTICATE (§4.4.3.4).
    assert conn.ins().count(INS_GENERAL_AUTHENTICATE) == 4
    assert conn.sent[-1].ins == INS_GENERAL_AUTHENTICATE


def test_wrong_mrz_with_pace_is_access_denied(genuine: Any, chip: EmulatedCard) -> None:
    conn = Recording(EmulatorConnection(chip))
    with pytest.raises(AccessDeniedError) as info:
        read_card(conn, wrong_mrz(genuine))
    assert info.value.key_kind == "MRZ"
    assert str(info.value) == DENIED_MRZ
    _assert_no_secret(info.value, genuine)
    # No BAC after PACE refused the MRZ: the same MRZ cannot open BAC either.
    assert INS_EXTERNAL_AUTHENTICATE not in conn.ins()


def test_wrong_mrz_on_a_bac_only_chip_is_access_denied(bac_only: tuple[Any, EmulatedCard]) -> None:
    card, chip = bac_only
    conn = Recording(EmulatorConnection(chip))
    with pytest.raises(AccessDeniedError) as info:
        read_card(conn, wrong_mrz(card))
    assert info.value.key_kind == "MRZ"
    assert info.value.step == "BAC mutual authentication"
    assert str(info.value) == DENIED_MRZ
    assert conn.sent[-1].ins == INS_EXTERNAL_AUTHENTICATE
    _assert_no_secret(info.value, card)


def test_right_mrz_on_the_bac_only_chip_reads(bac_only: tuple[Any, EmulatedCard]) -> None:
    card, chip = bac_only
    assert read_card(EmulatorConnection(chip), card.mrz_key()).access == "BAC"


def test_can_on_a_bac_only_chip_is_access_denied(
    genuine: Any, bac_only: tuple[Any, EmulatedCard]
) -> None:
    _, chip = bac_only
    with pytest.raises(AccessDeniedError) as info:
        read_card(EmulatorConnection(chip), genuine.key())  # the right CAN, but no PACE
    assert info.value.key_kind == "CAN" and str(info.value) == DENIED_CAN


def test_can_refused_by_mse_set_at_is_access_denied(
    genuine: Any, pace_without_can: EmulatedCard
) -> None:
    conn = Recording(EmulatorConnection(pace_without_can))
    with pytest.raises(AccessDeniedError) as info:
        read_card(conn, genuine.key())
    assert info.value.key_kind == "CAN" and str(info.value) == DENIED_CAN
    assert conn.sent[-1].ins == INS_MSE  # PACE could not start
    # The MRZ still opens it (PACE-MRZ): "enter it again" was the right advice.
    assert read_card(EmulatorConnection(pace_without_can), genuine.mrz_key()).access == "PACE-MRZ"


class ForgedToken:
    """Flips one bit of the chip's authentication token T_IC (DO'86' in the last GENERAL
    AUTHENTICATE answer): the chip *accepted* the terminal's token, then answered wrongly."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner

    def send(self, command: Command) -> Response:
        response = self.inner.send(command)
        if command.ins == INS_GENERAL_AUTHENTICATE and command.cla == 0x00 and response.ok:
            outer = tlv.decode_single(response.data, 0x7C, what="test")
            children = outer.children()
            forged = b"".join(
                tlv.encode(c.tag, bytes([c.value[0] ^ 0x01]) + c.value[1:])
                if c.tag == 0x86
                else c.raw
                for c in children
            )
            return Response(tlv.encode(0x7C, forged), response.sw)
        return response


def test_forged_chip_token_is_a_protocol_error_not_access_denied(
    genuine: Any, chip: EmulatedCard
) -> None:
    with pytest.raises(ProtocolError) as info:
        read_card(ForgedToken(EmulatorConnection(chip)), genuine.key())
    assert not isinstance(info.value, AccessDeniedError)
    assert info.value.step == "PACE mutual authentication"
    assert "enter it again" not in str(info.value)


class ForgedBacAnswer:
    """Answers EXTERNAL AUTHENTICATE with 9000 and 40 bytes that are not the chip's: a chip that
    lets any terminal in without holding the BAC keys."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner

    def send(self, command: Command) -> Response:
        if command.ins == INS_EXTERNAL_AUTHENTICATE:
            return Response(bytes(range(40)), 0x9000)
        return self.inner.send(command)


def test_bac_chip_answer_that_does_not_verify_is_not_access_denied(
    bac_only: tuple[Any, EmulatedCard],
) -> None:
    card, chip = bac_only
    with pytest.raises(ProtocolError) as info:
        read_card(ForgedBacAnswer(EmulatorConnection(chip)), wrong_mrz(card))
    assert not isinstance(info.value, AccessDeniedError)
    assert info.value.step == "BAC mutual authentication"


def test_the_right_key_still_reads(genuine: Any, chip: EmulatedCard) -> None:
    assert read_card(EmulatorConnection(chip), genuine.key()).access == "PACE-CAN"
    assert read_card(EmulatorConnection(chip), genuine.mrz_key()).access == "PACE-MRZ"


# --- verify_card: INCOMPLETE, never INVALID (the contract of cardkit.services.verify) -----------


def _verify(lab: Any, chip: EmulatedCard, key: AccessKey) -> Any:
    return verify_card(
        EmulatorConnection(chip), key, lab.trust, at=forgery.VERIFIED_AT, today=forgery.TODAY
    )


@pytest.mark.parametrize("kind", ["CAN", "MRZ"])
def test_verify_with_a_wrong_key_is_incomplete_not_invalid(
    lab: Any, genuine: Any, chip: EmulatedCard, kind: str
) -> None:
    key = wrong_can(genuine) if kind == "CAN" else wrong_mrz(genuine)
    inspection = _verify(lab, chip, key)
    assert inspection.verdict is Verdict.INCOMPLETE
    assert inspection.access_denied is True
    access = inspection.report.get("chip.access")
    assert access.status is Status.SKIP
    assert access.detail == (DENIED_CAN if kind == "CAN" else DENIED_MRZ)
    assert not inspection.failures()


def test_verify_with_a_wrong_mrz_on_a_bac_only_chip_is_incomplete(
    lab: Any, bac_only: tuple[Any, EmulatedCard]
) -> None:
    card, chip = bac_only
    inspection = _verify(lab, chip, wrong_mrz(card))
    assert inspection.verdict is Verdict.INCOMPLETE and inspection.access_denied is True
    assert inspection.report.get("chip.access").detail == DENIED_MRZ


def test_verify_forged_chip_token_is_invalid_not_access_denied(
    lab: Any, genuine: Any, chip: EmulatedCard
) -> None:
    inspection = verify_card(
        ForgedToken(EmulatorConnection(chip)),
        genuine.key(),
        lab.trust,
        at=forgery.VERIFIED_AT,
        today=forgery.TODAY,
    )
    assert inspection.verdict is Verdict.INVALID
    assert not getattr(inspection, "access_denied", False)


def test_verify_with_the_right_key_is_still_valid(
    lab: Any, genuine: Any, chip: EmulatedCard
) -> None:
    inspection = _verify(lab, chip, genuine.key())
    assert inspection.verdict is Verdict.VALID
    assert getattr(inspection, "access_denied", False) is False
