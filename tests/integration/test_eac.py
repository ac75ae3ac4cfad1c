"""EAC over a real pcscd + vpcd with the terminal key on a SoftHSM2 token (issue 15): a CV PKI
whose keys live on the token (``init_eac(store="pkcs11:token=…")``), a vn-cccd-2021 card image
carrying its CVCA as the chip's trust point, personalized onto ``cardkit emulator start``, then
read as an inspection system: PACE-CAN, chip authentication, terminal authentication signed
on the token, DG3 (the fingerprints) read and equal to the image's. Without the terminal key
DG3 stays protected.

Fixtures (conftest.py): ``pcscd``, ``emulator``, ``softhsm_token``. Under CI=true a missing
component fails instead of skipping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cards
import pytest

from cardkit.lds import files
from cardkit.lds.build import fit_face_for
from cardkit.protocol.ta import TerminalKey
from cardkit.services.eac_admin import init_eac
from cardkit.services.personalize import personalize
from cardkit.services.prepare import prepare_card
from cardkit.services.read import AccessKey, read_card
from cardkit.transport.pcsc import open_reader

pytestmark = pytest.mark.integration


def test_terminal_authentication_with_a_softhsm_key_reads_dg3_over_pcsc(
    emulator: Any, softhsm_token: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARDKIT_TEST_PIN", softhsm_token.pin.decode())
    eac = init_eac(
        tmp_path / "keys",
        country="VN",
        secret_spec="env:CARDKIT_TEST_PIN",
        secret=softhsm_token.pin,
        now=datetime.now(UTC),  # the chip's date is today: the IS certificate lives 3 days
        store=f"pkcs11:token={softhsm_token.label}",
    )
    assert eac.config.key("is").startswith("pkcs11:")
    station = cards.Station()
    profile = cards.vn_profile()
    record = cards.sample_records()[0]
    image = prepare_card(
        record, profile, station.issuer, card_id="eac-hsm",
        photo=fit_face_for(record.photo_path.read_bytes(), profile),
        fingerprints=cards.fitted_finger(0), signing_time=cards.SIGNED_AT,
        cvca_certificate=eac.certificate("cvca").raw,
    )  # fmt: skip
    assert files.dg(3) in image.files
    secrets = station.secrets(image)
    assert secrets.can is not None
    emu = emulator(0)
    terminal = TerminalKey.from_certificates(
        eac.signer("is"), [eac.certificate("dv"), eac.certificate("is")]
    )
    with open_reader(emu.reader, timeout=10) as connection:
        result = personalize(
            connection, image, secrets, profile, trust=station.trust,
            clock=lambda: cards.VERIFIED_AT,
        )  # fmt: skip
        assert result.status == "ok", result.detail

        connection.reconnect(reset=True)
        plain = read_card(connection, AccessKey.from_can(secrets.can))
        assert plain.terminal_authentication == "not performed" and 3 in plain.protected

        connection.reconnect(reset=True)
        read = read_card(connection, AccessKey.from_can(secrets.can), terminal=terminal)
        assert read.access == "PACE-CAN" and read.chip_authentication == "CA"
        assert read.terminal_authentication == "passed", read.ta_error
        assert read.files[files.dg(3)] == image.files[files.dg(3)]
        assert read.aa is not None and read.aa.verified
