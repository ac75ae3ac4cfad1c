"""Real chips that are not cardkit's, through a real pcscd + vpcd: JMRTD's passport applet
(``cardkit emulator start --applet jmrtd``) personalized in the `jmrtd` dialect and verified
VALID (BAC + AA, legacy policy); a reader that tries SFI first falls back (reset, BAC again,
SELECT + READ BINARY) over PC/SC; an image the applet cannot hold is refused by the CLI before
any card is touched; and a 40 KiB file on cardkit's applet, written with odd-INS UPDATE BINARY
and read back.

Fixtures (conftest.py): ``pcscd`` and ``emulator(slot, state, applet)``. Under CI=true a
missing pcscd fails instead of skipping.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cards
import pytest
from click.testing import CliRunner

from cardkit.applet.writer import AppletWriter
from cardkit.encoding import tlv
from cardkit.lds import files
from cardkit.report import Verdict
from cardkit.services.card_image import write_card_image
from cardkit.services.personalize import personalize
from cardkit.services.read import AccessKey, read_card
from cardkit.services.read_binary import ReadLimits, read_file
from cardkit.services.verify import verify_card
from cardkit.transport.pcsc import open_reader

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def station() -> Any:
    return cards.Station()


def _mrz_key(secrets: Any) -> AccessKey:
    return AccessKey.from_mrz_fields(
        secrets.document_number, secrets.date_of_birth, secrets.date_of_expiry
    )


def test_jmrtd_applet_personalized_and_verified_over_pcsc(emulator: Any, station: Any) -> None:
    emu = emulator(0, applet="jmrtd")
    image = station.image(cards.jmrtd_profile(), 3, card_id="it-jmrtd")
    secrets = station.secrets(image)
    with open_reader(emu.reader, timeout=10) as connection:
        result = personalize(
            connection, image, secrets, cards.jmrtd_profile(), trust=station.trust,
            clock=lambda: cards.VERIFIED_AT,
        )  # fmt: skip
        assert result.status == "ok", result.detail
        assert not result.extended_length
        assert result.verdict.access == "BAC"
        assert result.verdict.active_authentication == "verified"

        # A reader that does not know the applet tries SFI, gets a plain 6F00 (the applet takes
        # P1-P2 as an offset), resets the card through PC/SC and reads by SELECT. (Each read
        # is a new session: the applet refuses a second BAC until the card is reset.)
        connection.reconnect(reset=True)
        read = read_card(connection, _mrz_key(secrets))
        assert not read.sfi
        assert any("short EF identifier" in note for note in read.notes)
        for spec, data in image.files.items():
            assert read.files[spec] == data, spec.name
        assert read.aa is not None and read.aa.verified

        connection.reconnect(reset=True)
        inspection = verify_card(
            connection, _mrz_key(secrets), station.trust, at=cards.VERIFIED_AT,
            today=cards.TODAY,
        )  # fmt: skip
        assert inspection.verdict is Verdict.VALID, [
            (c.id, c.status, c.detail) for c in inspection.report.checks
        ]
        assert inspection.profile == "vn-cccd-jmrtd"


def test_cli_refuses_an_image_the_applet_cannot_hold_before_any_card(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardkit.cli.personalize import personalize_command
    from cardkit.services.pki_admin import init_pki
    from cardkit.services.prepare import prepare_card

    monkeypatch.setenv("CARDKIT_TEST_KEY_PASSWORD", "correct horse battery")
    keys = tmp_path / "keys"
    pki = init_pki(
        keys, country="VN", secret_spec="env:CARDKIT_TEST_KEY_PASSWORD",
        secret=b"correct horse battery", now=datetime(2026, 11, 1, tzinfo=UTC),
    )  # fmt: skip
    record = cards.sample_records()[0]
    image = prepare_card(
        record, cards.vn_profile(), pki.issuer(), card_id="cli-pace",
        photo=record.photo_path.read_bytes(), signing_time=datetime(2026, 11, 1, 12, tzinfo=UTC),
    )  # fmt: skip
    folder = write_card_image(image, tmp_path / "cards")
    emu = emulator(1, applet="jmrtd")
    args = [str(folder), "--reader", emu.reader, "--keys", str(keys), "--yes", "--applet", "jmrtd"]
    result = CliRunner().invoke(personalize_command, args)
    assert result.exit_code == 2, result.output
    assert "PACE (EF.CardAccess)" in result.output and "vn-cccd-jmrtd" in result.output
    emu.stop()
    assert "0 APDUs" in emu.log.read_text()  # the card never saw a command


def test_a_40_kib_file_is_written_and_read_back_over_pcsc(emulator: Any) -> None:
    emu = emulator(2)
    data = tlv.encode(0x75, os.urandom(40_000))  # a DG2 the size of a large JPEG 2000 face
    with open_reader(emu.reader, timeout=10) as connection:
        for extended in (True, False):
            writer = AppletWriter(connection, extended=extended)
            writer.detect_extended()
            writer.select_applet()
            fid = files.dg(2).fid if extended else files.dg(3).fid
            writer.write_file("DG2", fid, data)
            writer.select_file("DG2", fid)
            limits = ReadLimits(True, 4096) if extended else ReadLimits()
            assert read_file(connection, files.dg(2), limits, use_sfi=False) == data
