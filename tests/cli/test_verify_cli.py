"""`cardkit verify` end to end with click's CliRunner, the PC/SC reader replaced by cardkit's
in-process emulated chip: verdict and table, JSON, the face saved (as is and converted), exit
codes 0/1/2/3, secrets never echoed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from PIL import Image

import cardkit.cli.verify as verify_cli
from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.errors import TransportError
from cardkit.services.verify import verify_card


def use_chip(monkeypatch: pytest.MonkeyPatch, chip: EmulatedCard | None) -> None:
    @contextmanager
    def fake_open(name: str, *, timeout: float = 0, exclusive: bool = True) -> Iterator[Any]:
        if chip is None:
            raise TransportError(f"no card in {name}", reader=name)
        yield forgery.ChipReader(chip)

    monkeypatch.setattr(verify_cli, "open_reader", fake_open)


def run(args: list[str], can: str, **env: str) -> Any:
    return CliRunner().invoke(
        verify_cli.verify, ["--reader", "Virtual PCD 00 00", *args], env={"CAN": can, **env}
    )


def test_valid_card_table_photo_and_exit_0(
    lab: Any, trust_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    card = lab.genuine()
    use_chip(monkeypatch, forgery.emulated(card))
    photo = tmp_path / "face.png"
    result = run(
        ["--can-from", "env:CAN", "--trust", str(trust_dir), "--photo-out", str(photo)],
        card.secrets.can,
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "card: VALID"
    assert any("dsc.chain" in line for line in lines)
    assert any("Võ Văn Hiếu" in line for line in lines)
    assert card.secrets.can not in result.output
    with Image.open(photo) as image:
        assert image.format == "PNG" and image.size[0] > 0


def test_json_and_face_kept_as_on_the_chip(
    lab: Any, trust_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    card = lab.genuine()
    chip = forgery.emulated(card)
    use_chip(monkeypatch, chip)
    probe = verify_card(EmulatorConnection(chip), card.key(), lab.trust)
    assert probe.face is not None
    photo = tmp_path / f"face{probe.face.extension}"
    result = run(
        ["--can-from", "env:CAN", "--trust", str(trust_dir), "--json", "--photo-out", str(photo)],
        card.secrets.can,
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["verdict"] == "VALID" and out["photo"] == str(photo)
    assert out["person"]["id_number"] == forgery.sample_records()[0].id_number
    assert photo.read_bytes() == probe.face.data


def test_forged_card_exit_1_with_reason(
    lab: Any, trust_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = forgery.forge_dg_byte_changed(lab)
    use_chip(monkeypatch, forgery.emulated(card))
    result = run(["--can-from", "env:CAN", "--trust", str(trust_dir)], card.secrets.can)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "card: INVALID (failed: dg.hash.2)"
    assert "dg.hash.2" in result.output


def test_deny_list_and_qr(
    lab: Any, trust_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    card = lab.genuine()
    use_chip(monkeypatch, forgery.emulated(card))
    deny = tmp_path / "deny.csv"
    deny.write_text(f"document_number,reason\n{card.secrets.document_number},stolen\n")
    result = run(
        ["--can-from", "env:CAN", "--trust", str(trust_dir), "--deny-list", str(deny),
         "--qr", "garbage"],
        card.secrets.can,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "stolen" in result.output and "qr.chip" in result.output


def test_usage_errors_exit_2(trust_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_chip(monkeypatch, None)
    assert run(["--can-from", "env:CAN"], "123456").exit_code == 2  # no trust
    both = run(["--can-from", "env:CAN", "--mrz-from", "env:CAN", "--trust", str(trust_dir)], "1")
    assert both.exit_code == 2


def test_no_card_exit_3(trust_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_chip(monkeypatch, None)
    result = run(["--can-from", "env:CAN", "--trust", str(trust_dir)], "123456")
    assert result.exit_code == 3 and "no card" in result.output


# --- issue 11: policy, profile, CRL requirement, access denied ------------------------------------


def test_a_sha1_card_is_invalid_by_default_and_valid_with_a_warning_under_legacy(
    monkeypatch: pytest.MonkeyPatch, lab: Any, trust_dir: Path
) -> None:
    card = forgery.forge_sha1_data_group_hashes(lab)
    use_chip(monkeypatch, forgery.emulated(card))
    strict = run(["--can-from", "env:CAN", "--trust", str(trust_dir)], card.secrets.can)
    assert strict.exit_code == 1, strict.output
    assert strict.output.splitlines()[0] == "card: INVALID (failed: algorithm.dg_hash)"
    use_chip(monkeypatch, forgery.emulated(card))
    legacy = run(
        ["--can-from", "env:CAN", "--trust", str(trust_dir), "--policy", "legacy"],
        card.secrets.can,
    )
    assert legacy.exit_code == 0, legacy.output
    first = legacy.output.splitlines()[0]
    assert first.startswith("card: VALID (with warnings: ") and "algorithm.dg_hash" in first


def test_require_crl_without_a_crl_is_incomplete(
    monkeypatch: pytest.MonkeyPatch, lab: Any, tmp_path: Path
) -> None:
    (tmp_path / "csca.pem").write_bytes(lab.csca.public_bytes(serialization.Encoding.PEM))
    card = lab.genuine()
    use_chip(monkeypatch, forgery.emulated(card))
    warned = run(["--can-from", "env:CAN", "--trust", str(tmp_path)], card.secrets.can)
    assert warned.exit_code == 0
    assert warned.output.splitlines()[0] == "card: VALID (with warnings: dsc.revocation)"
    use_chip(monkeypatch, forgery.emulated(card))
    required = run(
        ["--can-from", "env:CAN", "--trust", str(tmp_path), "--require-crl"], card.secrets.can
    )
    assert required.exit_code == 1
    assert required.output.splitlines()[0] == "card: INCOMPLETE (not checked: dsc.revocation)"


def test_an_unknown_profile_is_a_usage_error_before_the_card(
    monkeypatch: pytest.MonkeyPatch, lab: Any, trust_dir: Path
) -> None:
    use_chip(monkeypatch, None)  # the reader is never opened
    result = run(
        ["--can-from", "env:CAN", "--trust", str(trust_dir), "--profile", "no-such"], "123456"
    )
    assert result.exit_code == 2
    assert "no-such" in result.output and "Traceback" not in result.output


def test_a_wrong_can_is_incomplete_exit_3_with_one_line(
    monkeypatch: pytest.MonkeyPatch, lab: Any, trust_dir: Path
) -> None:
    card = lab.genuine()
    use_chip(monkeypatch, forgery.emulated(card))
    wrong = "000000" if card.secrets.can != "000000" else "111111"
    result = CliRunner().invoke(
        verify_cli.verify,
        ["--reader", "Virtual PCD 00 00", "--can-from", "env:CAN", "--trust", str(trust_dir)],
        env={"CAN": wrong},
    )
    assert result.exit_code == 3
    assert result.stdout.splitlines()[0] == "card: INCOMPLETE (not checked: chip.access)"
    assert result.stderr.strip() == (
        "error: access denied: the CAN does not open this card \u2014 enter it again"
    )
    assert wrong not in result.stdout + result.stderr
