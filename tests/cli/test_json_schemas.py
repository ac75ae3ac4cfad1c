"""Issue 12 §4: machine output scripts can rely on. Every ``--json`` output is one object that
starts with ``"schema": "cardkit.<kind>"`` and ``"version"``, dates are ISO 8601, a command
that can take several inputs always answers with a list, and docs/SCHEMAS.md documents every
kind the CLI prints."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest
from click.testing import CliRunner, Result
from requirements import need_fonts

import cardkit.cli.verify as verify_cli
from cardkit.batch.journal import BatchInfo, NewRecord, open_journal
from cardkit.cli import prepare as prepare_module
from cardkit.cli import readers as readers_cli
from cardkit.cli.main import cli
from cardkit.cli.render import SCHEMAS, envelope, json_text
from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.services.pki_admin import init_pki
from cardkit.transport import pcsc

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "profiles" / "samples"
PASSWORD_VAR = "CARDKIT_SCHEMA_TEST_PASSWORD"
PASSWORD = "schema-test-password"
READER = "Virtual PCD 00 00"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def invoke(*args: str | Path, input: str | None = None, **env: str) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env or None)


def document(result: Result, kind: str) -> dict[str, Any]:
    """The one JSON document on standard output, checked to be a ``cardkit.<kind>``."""
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    assert list(doc)[:2] == ["schema", "version"]
    assert doc["schema"] == f"cardkit.{kind}" and doc["version"] == SCHEMAS[kind]
    return doc


# --- the envelope itself -----------------------------------------------------------------------


def test_envelope_puts_schema_and_version_first() -> None:
    doc = envelope("readers", {"readers": []})
    assert doc == {"schema": "cardkit.readers", "version": 1, "readers": []}
    assert list(doc) == ["schema", "version", "readers"]


def test_envelope_refuses_unknown_kinds_and_a_payload_with_its_own_schema() -> None:
    with pytest.raises(ValueError, match="unknown"):
        envelope("no-such-kind", {})
    with pytest.raises(ValueError, match="schema"):
        envelope("readers", {"schema": "x"})


def test_json_text_iso_dates_hex_bytes_and_utf8_text() -> None:
    text = json_text(
        {
            "day": date(2033, 1, 5),
            "at": datetime(2026, 11, 1, 10, tzinfo=UTC),
            "raw": b"\x61\x01",
            "name": "Võ Văn Hiếu",
            "path": Path("a/b"),
        },
        line=True,
    )
    assert "\n" not in text and "Võ Văn Hiếu" in text
    assert json.loads(text) == {
        "day": "2033-01-05",
        "at": "2026-11-01T10:00:00+00:00",
        "raw": "6101",
        "name": "Võ Văn Hiếu",
        "path": "a/b",
    }


def test_every_kind_is_documented_in_docs_schemas() -> None:
    text = (ROOT / "docs" / "SCHEMAS.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## `cardkit\.([a-z.-]+)`", text, flags=re.MULTILINE))
    assert headings == set(SCHEMAS)
    for kind, version in SCHEMAS.items():
        assert f'"schema": "cardkit.{kind}",\n  "version": {version}' in text, kind


def test_every_cli_module_with_json_output_uses_the_envelope() -> None:
    """A command module offering ``--json`` builds its documents with cardkit.cli.render."""
    for module in sorted((ROOT / "cardkit" / "cli").glob("*.py")):
        source = module.read_text(encoding="utf-8")
        if '"--json"' in source:
            assert re.search(r"\b(envelope|echo_json)\(", source), module.name


# --- commands without a PKI --------------------------------------------------------------------


def test_mrz_build_and_check() -> None:
    built = invoke(
        "mrz", "build", "--id-number", "001093047064", "--name", "Võ Văn Hiếu",
        "--dob", "1993-01-05", "--sex", "M", "--expiry", "2033-01-05", "--json",
    )  # fmt: skip
    assert built.exit_code == 0, built.output
    doc = document(built, "mrz.build")
    assert doc["format"] == "TD1" and len(doc["lines"]) == 3
    checked = invoke("mrz", "check", "--json", "-", input="\n".join(doc["lines"]) + "\n")
    assert document(checked, "mrz.check")["valid"] is True


def test_records_check() -> None:
    result = invoke("records", "check", SAMPLES / "citizens.csv", "--today", "2026-11-01", "--json")
    doc = document(result, "records.check")
    assert doc["today"] == "2026-11-01" and isinstance(doc["records"], list)


def test_lds_dump_is_a_list_of_files_even_for_one_file(tmp_path: Path) -> None:
    out = tmp_path / "lds"
    built = invoke(
        "lds", "build", SAMPLES / "citizens.csv", "--id-number", "001093047064", "--out", out
    )
    assert built.exit_code == 0, built.output
    one = document(invoke("lds", "dump", out / "DG1.bin", "--json"), "lds.dump")
    assert [f["file"] for f in one["files"]] == ["DG1"]
    folder = document(invoke("lds", "dump", out, "--json"), "lds.dump")
    assert len(folder["files"]) > 1 and folder["path"] == str(out)


def test_readers_is_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        readers_cli,
        "reader_statuses",
        lambda: [pcsc.ReaderStatus(READER, False, None, in_use=False, mute=False)],
    )
    doc = document(invoke("readers", "--json"), "readers")
    assert [r["name"] for r in doc["readers"]] == [READER]
    monkeypatch.setattr(readers_cli, "reader_statuses", lambda: [])
    assert document(invoke("readers", "--json"), "readers")["readers"] == []


# --- a PKI, a prepared batch -------------------------------------------------------------------


class _SamplesDay(date):
    @classmethod
    def today(cls) -> _SamplesDay:
        return cls(2026, 11, 1)


@dataclass(frozen=True)
class Batch:
    keys: Path
    records: Path
    cards: Path
    prepared: dict[str, Any]


def _small_csv(path: Path, rows: int) -> Path:
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        records = [row for _, row in zip(range(rows), reader, strict=False)]
    for row in records:
        row["photo_path"] = str(SAMPLES / row["photo_path"])
        fingers = [p for p in row["fingerprint_paths"].split(";") if p]
        row["fingerprint_paths"] = ";".join(str(SAMPLES / p) for p in fingers)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
    return path


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    base = tmp_path_factory.mktemp("schemas")
    keys = base / "keys"
    init_pki(
        keys, country="VN", secret_spec=f"env:{PASSWORD_VAR}", secret=PASSWORD.encode(),
        now=datetime.now(UTC).replace(microsecond=0),
    )  # fmt: skip
    records = _small_csv(base / "citizens.csv", 2)
    cards = base / "cards"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_VAR, PASSWORD)
        patch.setattr(prepare_module, "date", _SamplesDay)
        result = invoke("prepare", records, "--keys", keys, "--out", cards, "--json")
        assert result.exit_code == 0, result.output
        yield Batch(keys, records, cards, document(result, "prepare"))


def test_prepare(batch: Batch) -> None:
    doc = batch.prepared
    assert doc["file"] == str(batch.records) and doc["out"] == str(batch.cards)
    assert doc["counts"]["prepared"] == 2
    assert all(isinstance(r["problems"], list) for r in doc["records"])


def test_verify_files_is_a_list_of_cards_even_for_one_card_image(batch: Batch) -> None:
    one = sorted(batch.cards.iterdir())[0]
    doc = document(
        invoke("verify-files", one, "--trust", batch.keys / "trust", "--json"), "verify-files"
    )
    assert [Path(c["path"]).name for c in doc["cards"]] == [one.name]
    assert doc["cards"][0]["verdict"] == "VALID"
    every = document(
        invoke("verify-files", batch.cards, "--trust", batch.keys / "trust", "--json"),
        "verify-files",
    )
    assert len(every["cards"]) == 2


def test_pki_show_dates_are_iso_8601(batch: Batch) -> None:
    cert = document(invoke("pki", "show", batch.keys / "dsc.crt.pem", "--json"), "pki.show")
    assert cert["type"] == "certificate" and cert["file"].endswith("dsc.crt.pem")
    crl = document(invoke("pki", "show", batch.keys / "trust" / "csca.crl", "--json"), "pki.show")
    ml = document(invoke("pki", "show", batch.keys / "masterlist.der", "--json"), "pki.show")
    for value in (cert["not_before"], cert["not_after"], crl["this_update"], ml["signing_time"]):
        assert datetime.fromisoformat(value).tzinfo is not None


def test_pki_lint(batch: Batch) -> None:
    doc = document(invoke("pki", "lint", batch.keys / "dsc.crt.pem", "--json"), "pki.lint")
    assert doc["conforms"] is True and doc["errors"] == 0
    assert doc["warnings"] == len(doc["findings"])


def test_print(batch: Batch, tmp_path: Path) -> None:
    need_fonts()
    result = invoke("print", batch.cards, "--out", tmp_path / "cards.pdf", "--json")
    assert result.exit_code == 0, result.output
    doc = document(result, "print")
    assert len(doc["printed"]) == 2 and doc["skipped"] == []


def test_batch_status(tmp_path: Path) -> None:
    journal = open_journal(str(tmp_path / "journal.sqlite"))
    try:
        journal.load(
            BatchInfo("b-1", "b.csv", "00" * 32, "vn-cccd-2021", 2),
            [
                NewRecord(2, "b-00002", "pending", document_number="093047064"),
                NewRecord(3, "b-00003", "rejected", reason="sex: sex must be M or F"),
            ],
        )
    finally:
        journal.close()
    doc = document(invoke("batch", "status", "--workdir", tmp_path, "--json"), "batch.status")
    assert doc["batch"] == "b-1" and doc["counts"]["rejected"] == 1


def test_personalize_is_a_list_even_for_one_card(
    batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    chip = EmulatedCard()

    @contextmanager
    def fake_open(name: str | None = None, **_: Any) -> Iterator[EmulatorConnection]:
        yield EmulatorConnection(chip)

    monkeypatch.setattr(pcsc, "open_reader", fake_open)
    monkeypatch.setattr(pcsc, "select_reader", lambda spec=None: spec or READER, raising=False)
    one = sorted(batch.cards.iterdir())[0]
    result = invoke(
        "personalize", one, "--reader", READER, "--keys", batch.keys, "--yes", "--json",
        **{PASSWORD_VAR: PASSWORD},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = document(result, "personalize")
    assert [c["card_id"] for c in doc["cards"]] == [one.name]
    assert doc["cards"][0]["status"] == "ok"


# --- a chip: read and verify -------------------------------------------------------------------


def _use_chip(monkeypatch: pytest.MonkeyPatch, module: Any, chip: EmulatedCard) -> None:
    @contextmanager
    def fake_open(name: str | None = None, **_: Any) -> Iterator[forgery.ChipReader]:
        yield forgery.ChipReader(chip)

    monkeypatch.setattr(module, "open_reader", fake_open)


def test_verify_person_dates_iso_and_sex_enum(
    lab: Any, trust_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = lab.genuine()
    _use_chip(monkeypatch, verify_cli, forgery.emulated(card))
    result = invoke(
        "verify", "--reader", READER, "--can-from", "env:CAN", "--trust", trust_dir, "--json",
        CAN=card.secrets.can,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1  # one line: the same as a --watch line
    doc = document(result, "verify")
    assert doc["card"] == 1 and doc["verdict"] == "VALID" and doc["photo"] is None
    person = doc["person"]
    record = forgery.sample_records()[0]
    assert person["source"] == "DG13" and person["id_number"] == record.id_number
    assert person["date_of_birth"] == record.date_of_birth.isoformat()
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", person["date_of_birth_raw"])
    assert ISO_DATE.match(person["date_of_issue"]) and person["sex"] in ("M", "F")
    if person["never_expires"]:
        assert person["date_of_expiry"] is None
    else:
        assert ISO_DATE.match(person["date_of_expiry"])


def test_verify_access_denied_keeps_the_shape(
    lab: Any, trust_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = lab.genuine()
    _use_chip(monkeypatch, verify_cli, forgery.emulated(card))
    wrong = "000000" if card.secrets.can != "000000" else "111111"
    result = invoke(
        "verify", "--reader", READER, "--can-from", "env:CAN", "--trust", trust_dir, "--json",
        CAN=wrong,
    )  # fmt: skip
    assert result.exit_code == 3
    doc = document(result, "verify")
    assert doc["verdict"] == "INCOMPLETE" and doc["access_denied"] is True
    assert doc["person"] is None and doc["photo"] is None and doc["card"] == 1


def test_read_json_and_read_json_file_are_the_same_document(
    lab: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cardkit.cli import read as read_cli

    card = lab.genuine()
    _use_chip(monkeypatch, read_cli, forgery.emulated(card))
    out = tmp_path / "read"
    result = invoke(
        "read", "--reader", READER, "--can-from", "env:CAN", "--out", out, "--json",
        CAN=card.secrets.can,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = document(result, "read")
    assert doc == json.loads((out / "read.json").read_text(encoding="utf-8"))
    assert doc["out"] == str(out) and doc["access"] == "PACE-CAN"
