"""Personalization in the `jmrtd` dialect onto JMRTD's passport applet as its source defines it
(cardkit.emulator.jmrtd.JmrtdApplet, in process): every APDU short, no SFI, no CAN and no
cardkit extensions sent; the check before LOCK runs under BAC (the applet reads nothing in
clear); an image the applet cannot hold is refused before any APDU; a card of the other dialect
is refused before anything is written; and the card verifies VALID (BAC + AA) under the
profile's legacy policy."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cards
import pytest

from cardkit.applet.dialect import CARDKIT, JMRTD, UnsupportedImageError, WrongAppletError
from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.emulator.jmrtd import JmrtdApplet
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds import files
from cardkit.report import Status, Verdict
from cardkit.services.personalize import PersonalizeResult, personalize
from cardkit.services.read import AccessKey
from cardkit.services.verify import verify_card


class Recorder:
    """Records every command; ``alter`` may change one before the card sees it."""

    def __init__(self, inner: EmulatorConnection, alter: Any = None) -> None:
        self.inner = inner
        self.alter = alter
        self.sent: list[Command] = []

    def send(self, command: Command) -> Response:
        if self.alter is not None:
            command = self.alter(command)
        self.sent.append(command)
        return self.inner.send(command)

    def reconnect(self, reset: bool = True) -> None:
        self.inner.reconnect(reset=reset)


@pytest.fixture(scope="module")
def station() -> Any:
    return cards.Station()


@pytest.fixture(scope="module")
def jmrtd_image(station: Any) -> Any:
    image = station.image(cards.jmrtd_profile(), 1)
    return image, station.secrets(image)


def run(
    station: Any, connection: Any, image: Any, secrets: Any, **kwargs: Any
) -> PersonalizeResult:
    profile = kwargs.pop("profile", cards.jmrtd_profile())
    return personalize(
        connection, image, secrets, profile, trust=station.trust,
        clock=lambda: cards.VERIFIED_AT, **kwargs,
    )  # fmt: skip


def test_the_jmrtd_profile_makes_an_image_the_applet_holds(jmrtd_image: Any) -> None:
    image, secrets = jmrtd_image
    assert {spec.name for spec in image.files} == {"EF.COM", "EF.SOD", "DG1", "DG2", "DG13", "DG15"}
    assert secrets.chip_authentication_key is None


def test_personalize_and_verify_on_jmrtds_applet(station: Any, jmrtd_image: Any) -> None:
    image, secrets = jmrtd_image
    card = JmrtdApplet()
    connection = Recorder(EmulatorConnection(card))
    result = run(station, connection, image, secrets)
    assert result.status == "ok", result.detail
    assert card.life_cycle == "locked"
    verdict = result.verdict
    assert verdict.access == "BAC" and verdict.active_authentication == "verified"
    assert set(verdict.files_checked) == {spec.name for spec in image.files}
    assert not result.extended_length
    plain = [c for c in connection.sent if c.cla & 0x0C == 0]
    assert all(len(bytes(c)) <= 4 + 1 + 255 + 1 for c in connection.sent)  # short APDUs only
    assert not any(c.ins == 0xB0 and c.p1 & 0x80 for c in connection.sent)  # never an SFI
    put = [c for c in plain if c.ins == 0xDA]
    assert [(c.p1, c.p2) for c in put] == [(0, 0x62), (0, 0x60), (0, 0x61), (0xDE, 0xAD)]
    assert put[1].data[:5] == bytes.fromhex("60 00 04 81 80")  # processPutData's layout
    # The check before LOCK ran under BAC, then LOCK, then a reset and a second BAC.
    lock_at = next(i for i, c in enumerate(connection.sent) if (c.p1, c.p2) == (0xDE, 0xAD))
    assert any(c.cla & 0x0C for c in connection.sent[:lock_at])  # protected reads before LOCK
    challenges = [i for i, c in enumerate(connection.sent) if c.ins == 0x84 and not c.cla & 0x0C]
    assert len(challenges) == 2 and challenges[0] < lock_at < challenges[1]

    inspection = verify_card(
        EmulatorConnection(card),
        AccessKey.from_mrz_fields(
            secrets.document_number, secrets.date_of_birth, secrets.date_of_expiry
        ),
        station.trust,
        at=cards.VERIFIED_AT,
        today=cards.TODAY,
    )
    report = inspection.report
    checks = {c.id: c for c in report.checks}
    assert report.verdict is Verdict.VALID, [(c.id, c.status, c.detail) for c in report.checks]
    # Inferred among the installed profiles by its data groups: the jmrtd one, legacy policy.
    assert "vn-cccd-jmrtd" in checks["profile.document"].title
    assert checks["chip.access"].status is Status.WARN and "skimmed" in checks["chip.access"].detail
    assert checks["algorithm.aa"].status is Status.WARN  # RSA-1024 / SHA-1, tolerated


def test_an_image_the_applet_cannot_hold_is_refused_before_any_apdu(station: Any) -> None:
    image = station.image(cards.vn_profile(), 0)  # PACE, CA, ECDSA AA: cardkit's applet
    secrets = station.secrets(image)
    connection = Recorder(EmulatorConnection(JmrtdApplet()))
    with pytest.raises(UnsupportedImageError) as info:
        run(station, connection, image, secrets, profile=cards.vn_profile(), dialect=JMRTD)
    assert connection.sent == []
    features = " | ".join(info.value.features)
    for missing in ("PACE (EF.CardAccess)", "chip authentication on brainpoolP256r1",
                    "ECDSA active authentication"):  # fmt: skip
        assert missing in features
    assert "use profile vn-cccd-jmrtd" in str(info.value)


def test_a_card_of_the_other_dialect_is_refused_before_anything_is_written(
    station: Any, jmrtd_image: Any
) -> None:
    image, secrets = jmrtd_image
    connection = Recorder(EmulatorConnection(EmulatedCard()))
    with pytest.raises(WrongAppletError, match="'cardkit' dialect"):
        run(station, connection, image, secrets)
    assert not any(c.ins in (0xE0, 0xD6, 0xDA) for c in connection.sent)
    cardkit_image = station.image(cards.vn_profile(), 0)
    connection = Recorder(EmulatorConnection(JmrtdApplet()))
    with pytest.raises(WrongAppletError, match="--applet jmrtd"):
        run(station, connection, cardkit_image, station.secrets(cardkit_image),
            profile=cards.vn_profile(), dialect=CARDKIT)  # fmt: skip
    assert not any(c.ins in (0xE0, 0xD6, 0xDA) for c in connection.sent)


def test_a_mismatch_before_lock_leaves_the_card_unlocked_and_rewritable(
    station: Any, jmrtd_image: Any
) -> None:
    image, secrets = jmrtd_image
    done: list[bool] = []

    def flip(command: Command) -> Command:
        if command.ins == 0xD6 and not done and (command.p1, command.p2) == (0, 0):
            done.append(True)  # the first chunk of the first file (EF.COM) arrives damaged
            data = bytearray(command.data)
            data[-1] ^= 0x01
            return replace(command, data=bytes(data))
        return command

    card = JmrtdApplet()
    result = run(station, Recorder(EmulatorConnection(card), flip), image, secrets)
    assert result.status == "unlocked"
    assert "before LOCK: EF.COM read back differs from the image" in result.detail
    assert card.life_cycle == "personalization"
    again = run(station, EmulatorConnection(card), image, secrets, rewrite=True)
    assert again.status == "ok", again.detail
    assert card.life_cycle == "locked"


def test_a_locked_jmrtd_card_is_refused_before_any_write(station: Any, jmrtd_image: Any) -> None:
    image, secrets = jmrtd_image
    card = JmrtdApplet()
    assert run(station, EmulatorConnection(card), image, secrets).status == "ok"
    connection = Recorder(EmulatorConnection(card))
    from cardkit.applet.writer import AppletLockedError

    with pytest.raises(AppletLockedError):
        run(station, connection, image, secrets)
    assert not any(c.ins in (0xE0, 0xD6, 0xDA) for c in connection.sent)
    assert files.dg(3).fid_bytes not in [c.data for c in connection.sent]


def test_jmrtds_protected_011c_is_not_taken_for_ef_cardaccess(
    station: Any, jmrtd_image: Any
) -> None:
    """JMRTD's applet answers SELECT 011C with 6982 once locked (processSelectFile) and keeps
    its EF.CVCA there: the read notes it and opens the chip with BAC, not an error."""
    from cardkit.services.read import read_card

    image, secrets = jmrtd_image
    card = JmrtdApplet()
    assert run(station, EmulatorConnection(card), image, secrets).status == "ok"
    connection = EmulatorConnection(card)
    # The applet as the card's default application: selected before the reader looks for 011C.
    assert connection.send(Command(0x00, 0xA4, 0x04, 0x0C, files.LDS1_AID)).sw == 0x9000
    key = AccessKey.from_mrz_fields(
        secrets.document_number, secrets.date_of_birth, secrets.date_of_expiry
    )
    read = read_card(connection, key)
    assert read.access == "BAC" and not any("CardAccess" in e for e in read.errors)
    assert any("not an EF.CardAccess" in note for note in read.notes)
    assert read.aa is not None and read.aa.verified
