"""`cardkit.services.personalize` on the in-process emulator: full personalization and
read-back (PACE-CAN, BAC, RSA AA), refusal of non-blank cards before any write, a card torn at a
chosen step, a corrupted write detected by the read-back, no secrets in the result."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import cards
import pytest

from cardkit.applet.writer import AlreadyPersonalizedError, AppletLockedError
from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.errors import TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds import files
from cardkit.profile import Profile
from cardkit.services.card_image import CardImage, ChipSecrets
from cardkit.services.personalize import (
    PersonalizeResult,
    TornCardError,
    access_key_for,
    personalize,
    write_order,
)

WRITES = {0xE0, 0xD6, 0xDA}


@pytest.fixture(scope="module")
def station() -> Any:
    return cards.Station()


@pytest.fixture(scope="module")
def vn_image(station: Any) -> tuple[CardImage, ChipSecrets, Profile]:
    profile = cards.vn_profile()
    image = station.image(profile, 0)
    return image, station.secrets(image), profile


def run(
    station: Any,
    connection: Any,
    image: CardImage,
    secrets: ChipSecrets,
    profile: Profile,
    **kwargs: Any,
) -> PersonalizeResult:
    return personalize(
        connection,
        image,
        secrets,
        profile,
        trust=station.trust,
        clock=lambda: cards.VERIFIED_AT,
        **kwargs,
    )


class Wrapper:
    """A connection around the emulator: records commands, can pull the card after N APDUs or
    change one command on its way."""

    def __init__(
        self,
        inner: EmulatorConnection,
        *,
        pull_after: int | None = None,
        alter: Callable[[Command], Command] | None = None,
    ) -> None:
        self.inner = inner
        self.card = inner.card
        self.sent: list[Command] = []
        self.pull_after = pull_after
        self.alter = alter

    def send(self, command: Command) -> Response:
        if self.pull_after is not None and len(self.sent) >= self.pull_after:
            raise TransportError("card removed from Virtual PCD 00 00", reader="Virtual PCD 00 00")
        self.sent.append(command)
        if self.alter is not None:
            command = self.alter(command)
        return self.inner.send(command)


# --- success ------------------------------------------------------------------------------------


def test_personalize_pace_can_profile(station: Any, vn_image: Any) -> None:
    image, secrets, profile = vn_image
    card = EmulatedCard()
    result = run(station, EmulatorConnection(card), image, secrets, profile)
    assert result.status == "ok", result.detail
    verdict = result.verdict
    assert verdict.access == "PACE-CAN"
    assert verdict.chip_authentication == "CA"
    assert verdict.active_authentication == "verified"
    assert set(verdict.files_checked) == {spec.name for spec in image.files}
    assert all(c.status.value in ("PASS", "WARN", "SKIP") for c in verdict.passive)
    assert card.life_cycle == "locked"
    assert result.extended_length and result.file_bytes == sum(map(len, image.files.values()))
    assert set(result.durations) == {"check", "files", "secrets", "verify", "lock", "read-back"}
    # After LOCK a read without secure messaging is refused (6982).
    plain = EmulatorConnection(card)
    assert plain.send(Command(0x00, 0xA4, 0x04, 0x0C, files.LDS1_AID)).sw == 0x9000
    assert plain.send(Command(0x00, 0xB0, 0x81, 0x00, ne=4)).sw == 0x6982


def test_personalize_bac_profile(station: Any) -> None:
    profile = cards.bac_only_profile()
    image = station.image(profile, 1)
    assert files.CARD_ACCESS not in image.files
    result = run(
        station, EmulatorConnection(EmulatedCard()), image, station.secrets(image), profile
    )
    assert result.status == "ok", result.detail
    assert result.verdict.access == "BAC"
    assert result.verdict.chip_authentication == "CA"


def test_personalize_rsa_active_authentication(station: Any) -> None:
    profile = cards.rsa_aa_profile()
    image = station.image(profile, 2)
    connection = Wrapper(EmulatorConnection(EmulatedCard()))
    result = run(station, connection, image, station.secrets(image), profile)
    assert result.status == "ok", result.detail
    assert result.verdict.active_authentication == "verified"
    put_data = [c.p2 for c in connection.sent if c.ins == 0xDA and c.p1 == 0x00]
    assert 0x60 in put_data and 0x61 in put_data and 0x66 not in put_data


def test_short_apdus_need_more_commands_and_still_verify(station: Any, vn_image: Any) -> None:
    image, secrets, profile = vn_image
    extended = run(station, EmulatorConnection(EmulatedCard()), image, secrets, profile)
    short = run(
        station, EmulatorConnection(EmulatedCard()), image, secrets, profile, extended_length=False
    )
    assert short.status == "ok" and not short.extended_length
    dg2 = len(image.files[files.dg(2)])
    assert short.apdu_count - extended.apdu_count >= -(-dg2 // 255) - -(-dg2 // 4096) - 2


def test_result_has_no_secrets(station: Any, vn_image: Any) -> None:
    image, secrets, profile = vn_image
    result = run(station, EmulatorConnection(EmulatedCard()), image, secrets, profile)
    text = json.dumps(result.describe()) + repr(result)
    assert secrets.can is not None and secrets.can not in text
    assert secrets.document_number not in text
    assert secrets.date_of_birth not in text


def test_access_key_choice(vn_image: Any) -> None:
    image, secrets, profile = vn_image
    assert access_key_for(profile, secrets, image).kind == "CAN"
    assert access_key_for(cards.bac_only_profile(), secrets, image).kind == "MRZ"


def test_write_order_puts_the_sod_last(vn_image: Any) -> None:
    image, _, _ = vn_image
    order = write_order(image)
    assert order[0] == files.CARD_ACCESS and order[1] == files.COM and order[-1] == files.SOD


# --- refusals -----------------------------------------------------------------------------------


def test_second_personalization_of_a_locked_card_is_refused_before_any_write(
    station: Any,
    vn_image: Any,
) -> None:
    image, secrets, profile = vn_image
    card = EmulatedCard()
    assert run(station, EmulatorConnection(card), image, secrets, profile).status == "ok"
    again = Wrapper(EmulatorConnection(card))
    with pytest.raises(AppletLockedError, match="locked"):
        run(station, again, image, secrets, profile)
    assert not [c for c in again.sent if c.ins in WRITES]


def test_torn_card_cannot_be_personalized_again(station: Any, vn_image: Any) -> None:
    image, secrets, profile = vn_image
    card = EmulatedCard()
    with pytest.raises(TornCardError):
        run(station, Wrapper(EmulatorConnection(card), pull_after=20), image, secrets, profile)
    again = Wrapper(EmulatorConnection(card))
    with pytest.raises(AlreadyPersonalizedError, match="perhaps partially"):
        run(station, again, image, secrets, profile)
    assert not [c for c in again.sent if c.ins in WRITES]


# --- a card pulled mid-way ----------------------------------------------------------------------


def _steps(station: Any, image: CardImage, secrets: ChipSecrets, profile: Profile) -> list[str]:
    names: list[str] = []
    run(
        station,
        EmulatorConnection(EmulatedCard()),
        image,
        secrets,
        profile,
        progress=lambda number, name: names.append(name),
    )
    return names


def test_torn_at_update_binary_dg2_offset_4096(station: Any, vn_image: Any) -> None:
    image, secrets, profile = vn_image
    names = _steps(station, image, secrets, profile)
    target = next(
        i for i, n in enumerate(names) if n.startswith("UPDATE BINARY DG2 at offset 4096")
    )
    connection = Wrapper(EmulatorConnection(EmulatedCard()), pull_after=target)
    with pytest.raises(TornCardError) as info:
        run(station, connection, image, secrets, profile)
    error = info.value
    assert error.step_number == target + 1 and error.phase == "files"
    assert "UPDATE BINARY DG2 at offset 4096" in str(error)
    assert f"step {target + 1}" in str(error) and "is not locked" in str(error)
    assert error.reader == "Virtual PCD 00 00"


@pytest.mark.parametrize(
    ("prefix", "phase"),
    [
        ("SELECT eMRTD applet", "check"),
        ("CREATE FILE EF.SOD", "files"),
        ("PUT DATA chip-authentication key", "secrets"),
        ("READ BINARY DG2 before LOCK", "verify"),
        ("LOCK", "lock"),
        ("read back", "read-back"),
    ],
)
def test_torn_in_every_phase(
    station: Any,
    vn_image: Any,
    prefix: str,
    phase: str,
) -> None:
    image, secrets, profile = vn_image
    names = _steps(station, image, secrets, profile)
    target = next(i for i, n in enumerate(names) if n.startswith(prefix))
    with pytest.raises(TornCardError) as info:
        run(
            station,
            Wrapper(EmulatorConnection(EmulatedCard()), pull_after=target),
            image,
            secrets,
            profile,
        )
    assert info.value.phase == phase and prefix in info.value.step
    assert "123456" not in str(info.value) and secrets.document_number not in str(info.value)


# --- a corrupted write --------------------------------------------------------------------------


@pytest.mark.parametrize("dg", [2, 13])
def test_corrupted_data_group_is_detected_and_named(
    station: Any,
    vn_image: Any,
    dg: int,
) -> None:
    image, secrets, profile = vn_image
    selected: list[int] = []

    def flip(command: Command) -> Command:
        if command.ins == 0xA4 and command.p1 == 0x02 and len(command.data) == 2:
            selected.append(int.from_bytes(command.data, "big"))
        if command.ins == 0xD6 and selected and selected[-1] == files.dg(dg).fid:
            data = bytearray(command.data)
            data[len(data) // 2] ^= 0x01
            selected.append(-1)  # once
            return Command(command.cla, command.ins, command.p1, command.p2, bytes(data))
        return command

    card = EmulatedCard()
    connection = Wrapper(EmulatorConnection(card), alter=flip)
    result = run(station, connection, image, secrets, profile)
    # Found before LOCK: the card is left unlocked, not spoiled ...
    assert result.status == "unlocked"
    assert f"before LOCK: DG{dg} read back differs from the image" in result.detail
    assert "left unlocked and can be written again" in result.detail
    assert card.life_cycle == "personalization"
    assert not any(command.ins == 0xDA and command.p1 == 0xDE for command in connection.sent)
    # ... refused as it is (it holds files), then written again with rewrite=True.
    with pytest.raises(AlreadyPersonalizedError, match="personalized"):
        run(station, EmulatorConnection(card), image, secrets, profile)
    again = run(station, EmulatorConnection(card), image, secrets, profile, rewrite=True)
    assert again.status == "ok", again.detail
    assert card.life_cycle == "locked"


def test_image_that_does_not_match_its_sod_fails_the_read_back_after_lock(
    station: Any, vn_image: Any
) -> None:
    image, secrets, profile = vn_image
    dg13 = bytearray(image.files[files.dg(13)])
    dg13[len(dg13) // 2] ^= 0x01  # changed after signing: the chip holds what it was given
    forged = replace(image, files={**image.files, files.dg(13): bytes(dg13)})
    card = EmulatedCard()
    result = run(station, EmulatorConnection(card), forged, secrets, profile)
    assert result.status == "failed" and card.life_cycle == "locked"
    assert "passive authentication dg.hash.13" in result.detail
