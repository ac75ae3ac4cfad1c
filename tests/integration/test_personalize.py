"""Personalization through a real pcscd + vpcd onto ``cardkit emulator start`` subprocesses.

Fixtures (conftest.py): ``pcscd`` (pcscd with vpcd readers) and ``emulator(slot, state)``.
Under CI=true a missing pcscd fails instead of skipping.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cards
import pytest
from click.testing import CliRunner

from cardkit.applet.writer import AppletLockedError
from cardkit.errors import TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.services.card_image import CardImage, ChipSecrets, write_card_image
from cardkit.services.personalize import (
    PersonalizeResult,
    TornCardError,
    access_key_for,
    personalize,
)
from cardkit.services.read import AccessKey, read_card
from cardkit.transport.pcsc import open_reader

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def station() -> Any:
    return cards.Station()


def _image(station: Any, row: int) -> tuple[CardImage, ChipSecrets]:
    image = station.image(cards.vn_profile(), row, card_id=f"it-{row:05d}")
    return image, station.secrets(image)


def _personalize(
    station: Any, connection: Connection, image: CardImage, secrets: ChipSecrets
) -> PersonalizeResult:
    return personalize(
        connection, image, secrets, cards.vn_profile(), trust=station.trust,
        clock=lambda: cards.VERIFIED_AT,
    )  # fmt: skip


class NoPace:
    """A BAC-only inspection system: it does not look for EF.CardAccess."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner

    def send(self, command: Command) -> Response:
        if command.ins == 0xA4 and command.data == files.CARD_ACCESS.fid_bytes:
            return Response(b"", 0x6A82)
        return self.inner.send(command)


def _mrz_key(secrets: ChipSecrets) -> AccessKey:
    return AccessKey.from_mrz_fields(
        secrets.document_number, secrets.date_of_birth, secrets.date_of_expiry
    )


def test_personalize_lock_then_read_with_bac_and_pace_can(emulator: Any, station: Any) -> None:
    emu = emulator(0)
    image, secrets = _image(station, 0)
    with open_reader(emu.reader, timeout=10) as connection:
        result = _personalize(station, connection, image, secrets)
        assert result.status == "ok", result.detail
        assert result.extended_length  # the emulator's ATR advertises it, pcscd carries it
        assert result.verdict.access == "PACE-CAN"

        # Reads without secure messaging are refused once the applet is locked.
        assert connection.send(Command(0x00, 0xA4, 0x04, 0x0C, files.LDS1_AID)).sw == 0x9000
        assert connection.send(Command(0x00, 0xB0, 0x81, 0x00, ne=8)).sw == 0x6982  # DG1 by SFI

        assert secrets.can is not None
        for key, wrap, access in (
            (AccessKey.from_can(secrets.can), lambda c: c, "PACE-CAN"),
            (_mrz_key(secrets), NoPace, "BAC"),
        ):
            read = read_card(wrap(connection), key)
            assert read.access == access
            assert read.chip_authentication == "CA"
            assert read.aa is not None and read.aa.verified
            for spec, data in image.files.items():
                if spec.dg not in (3, 4) and not (access == "BAC" and spec == files.CARD_ACCESS):
                    assert read.files[spec] == data, spec.name

        with pytest.raises(AppletLockedError):
            _personalize(station, connection, image, secrets)


def test_state_file_survives_an_emulator_restart(
    emulator: Any, station: Any, tmp_path: Path
) -> None:
    state = tmp_path / "kept.state"
    emu = emulator(1, state)
    image, secrets = _image(station, 1)
    with open_reader(emu.reader, timeout=10) as connection:
        assert _personalize(station, connection, image, secrets).status == "ok"
    emu.kill()
    emu.start()
    with open_reader(emu.reader, timeout=10) as connection:
        read = read_card(connection, access_key_for(cards.vn_profile(), secrets, image))
    assert read.access in ("PACE-CAN", "PACE-MRZ") and read.chip_authentication == "CA"
    assert read.aa is not None and read.aa.verified
    assert read.files[files.SOD] == image.files[files.SOD]
    assert read.files[files.dg(2)] == image.files[files.dg(2)]


class Killer:
    """Forwards APDUs and kills the emulator process just before APDU number ``at``."""

    def __init__(self, inner: Connection, emu: Any, at: int) -> None:
        self.inner = inner
        self.emu = emu
        self.at = at
        self.count = 0

    def send(self, command: Command) -> Response:
        self.count += 1
        if self.count == self.at:
            self.emu.kill()
        return self.inner.send(command)


def test_card_pulled_at_a_random_point_is_reported_torn(emulator: Any, station: Any) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    image, secrets = _image(station, 2)
    # The number of APDUs of a whole personalization, from an in-process run of the same image.
    from cardkit.emulator.card import EmulatedCard, EmulatorConnection

    whole = _personalize(station, EmulatorConnection(EmulatedCard()), image, secrets)
    total = whole.apdu_count + whole.verdict.apdu_count
    at = rng.randint(1, whole.apdu_count)  # somewhere while writing
    emu = emulator(2)
    with open_reader(emu.reader, timeout=10) as connection, pytest.raises(TornCardError) as info:
        _personalize(station, Killer(connection, emu, at), image, secrets)
    error = info.value
    assert error.step_number == at, f"seed {seed}, APDU {at} of {total}"
    assert f"step {at} (" in str(error) and error.step in str(error)
    assert isinstance(error.__cause__, TransportError)


def test_two_readers_personalized_in_parallel(emulator: Any, station: Any) -> None:
    emus = [emulator(slot) for slot in (0, 1)]
    jobs = [_image(station, row) for row in (3, 4)]
    results: dict[int, PersonalizeResult | BaseException] = {}

    def work(index: int) -> None:
        try:
            with open_reader(emus[index].reader, timeout=10) as connection:
                image, secrets = jobs[index]
                results[index] = _personalize(station, connection, image, secrets)
        except BaseException as exc:  # reported below, in the test's thread
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for index in range(2):
        result = results[index]
        assert isinstance(result, PersonalizeResult), repr(result)
        assert result.status == "ok" and result.card_id == jobs[index][0].card_id


def test_cli_personalizes_a_card_image_folder(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardkit.cli.personalize import personalize_command
    from cardkit.services.pki_admin import init_pki
    from cardkit.services.prepare import prepare_card

    monkeypatch.setenv("CARDKIT_TEST_KEY_PASSWORD", "correct horse")
    keys = tmp_path / "keys"
    pki = init_pki(
        keys,
        country="VN",
        secret_spec="env:CARDKIT_TEST_KEY_PASSWORD",
        secret=b"correct horse",
        now=datetime(2026, 11, 1, tzinfo=UTC),
    )
    record = cards.sample_records()[0]
    image = prepare_card(
        record,
        cards.vn_profile(),
        pki.issuer(),
        card_id="cli-00001",
        photo=record.photo_path.read_bytes(),
        signing_time=datetime(2026, 11, 1, 12, tzinfo=UTC),
    )
    folder = write_card_image(image, tmp_path / "cards")
    emu = emulator(3)
    runner = CliRunner()
    args = [str(folder), "--reader", emu.reader, "--keys", str(keys), "--yes", "--json"]
    result = runner.invoke(personalize_command, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "cardkit.personalize"
    [summary] = document["cards"]  # a list, also for one card image
    assert summary["status"] == "ok" and summary["card_id"] == "cli-00001"
    assert summary["read_back"]["access"] == "PACE-CAN"
    again = runner.invoke(personalize_command, args)
    assert again.exit_code == 3 and "locked" in again.output
