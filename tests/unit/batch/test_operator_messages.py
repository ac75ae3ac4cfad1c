"""What a plain (non-TTY) ``batch run`` tells the operator, line by line (issue 14 §5): where to
place and when to remove a card, a rejected record's reason, a torn card and what to do with its
chip (destroy it when it may be locked with the holder's data, write it again when it is not),
a refused chip; pcscd not running. Never a secret (MRZ, CAN) in a line."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cardkit.batch.journal import SqliteJournal
from cardkit.batch.report import card_action
from cardkit.batch.runner import PcscStation, load_batch, run_batch
from cardkit.cli.batch import Progress
from cardkit.services.card_image import ChipSecrets, read_card_image
from cardkit.transport import pcsc

READER = "ACS ACR39U 00 00"
REWRITE = "not locked: it can be written again with cardkit personalize --rewrite"
# The in-process cards answer GET DATA 9F7F with these serials (tests/unit/batch/conftest.py).
CHIP1, CHIP2, CHIP3 = (f"4790-D321-0001-{n:08X}" for n in (1, 2, 3))
# tests/unit/batch/conftest.py's cards: APDU 69 of a card is its LOCK (PUT DATA DE AD).
LOCK_APDU = 69


@dataclass
class ReaderStation:
    """The in-process feeder as a reader the operator serves: it still holds a card after the
    station lets it go, unless that card was pulled out mid-write."""

    feeder: Any
    last: Any = None
    released: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return READER

    def wait_for_card(self, stop: threading.Event) -> Any:
        self.last = self.feeder.wait_for_card(stop)
        return self.last

    def release(self, connection: Any) -> None:
        self.released.append(connection)

    def holds_card(self) -> bool:
        return self.last is not None and not self.last.gone


def one_file(record: object, image: object, profile: object, out_dir: Path) -> Sequence[Path]:
    face = out_dir / "front.png"
    face.write_bytes(b"png")
    return [face]


def run(
    tmp_path: Path, kit: Any, make_settings: Any, capsys: pytest.CaptureFixture[str], *,
    rows: int, broken: int = 0, **feeder: Any,
) -> tuple[list[str], SqliteJournal, str]:  # fmt: skip
    records = kit.write_records(tmp_path / "batch.csv", rows=rows, broken=broken)
    settings = make_settings(records, printer=one_file)
    journal = SqliteJournal(tmp_path / "work" / "journal.sqlite")
    station = ReaderStation(kit.MemoryStation(**feeder))
    run_batch(journal, settings, station, on_event=Progress(live=False, quiet=False))
    out = capsys.readouterr()
    assert out.out == ""  # the operator's lines go to stderr, the command's summary to stdout
    batch = load_batch(records, settings.profile, kit.TODAY)[0].batch
    no_secrets(out.err, settings.workdir / "cards", settings.transport)
    return out.err.splitlines(), journal, batch


def no_secrets(text: str, cards: Path, transport: Any) -> None:
    """No CAN, no MRZ key (document number, date of birth) of any card image in the output."""
    for folder in cards.iterdir():
        image = read_card_image(folder)
        secrets = ChipSecrets.from_bytes(transport.decrypt(image.sealed, image.secrets_aad))
        if secrets.can:
            assert secrets.can not in text
        assert secrets.document_number not in text
        assert secrets.date_of_birth not in text


def loaded(batch: str, n: int) -> str:
    return f"loaded: {n} new record(s) in batch {batch}"


def test_a_good_card(tmp_path: Path, kit: Any, make_settings: Any, capsys: Any) -> None:
    lines, _, batch = run(tmp_path, kit, make_settings, capsys, rows=1)
    assert lines == [
        loaded(batch, 1),
        f"place a blank card on {READER}",
        f"row 2 verified: chip {CHIP1}",
        f"remove the card from {READER}",
        "row 2 printed: 1 file(s) in printed/batch-00002",
    ]


def test_a_rejected_record_shows_its_reason(
    tmp_path: Path, kit: Any, make_settings: Any, capsys: Any
) -> None:
    lines, journal, batch = run(tmp_path, kit, make_settings, capsys, rows=1, broken=1)
    reason = "id_number: id_number must be exactly 12 digits [id.format]"
    assert lines[:2] == [loaded(batch, 2), f"row 3 rejected: {reason}"]
    assert [r.reason for r in journal.records(batch) if r.state == "rejected"] == [reason]
    # A station started again says it again: the record is still rejected.
    again, _, _ = run(tmp_path, kit, make_settings, capsys, rows=1, broken=1)
    assert again == [loaded(batch, 0), f"row 3 rejected: {reason}"]


def test_a_card_torn_before_lock_can_be_written_again(
    tmp_path: Path, kit: Any, make_settings: Any, capsys: Any
) -> None:
    lines, journal, batch = run(tmp_path, kit, make_settings, capsys, rows=1, tear={0: 20})
    assert lines == [
        loaded(batch, 1),
        f"place a blank card on {READER}",
        # the card left the reader: no "remove" line for it
        "row 2: the card left the reader during step 20 (CREATE FILE DG1 (95 bytes)) — put it "
        f"aside: chip {CHIP1} is spoiled ({REWRITE})",
        f"place a blank card on {READER}",
        f"row 2 verified: chip {CHIP2}",
        f"remove the card from {READER}",
        "row 2 printed: 1 file(s) in printed/batch-00002-1",
    ]
    (spoiled,) = [c for c in journal.cards(batch) if c.state == "spoiled"]
    assert spoiled.reason == "not locked (rewritable): torn at step 20 (files)"
    assert card_action(spoiled) == "rewritable"


def test_a_card_torn_after_lock_is_to_destroy(
    tmp_path: Path, kit: Any, make_settings: Any, capsys: Any
) -> None:
    lines, journal, batch = run(tmp_path, kit, make_settings, capsys, rows=1, tear={0: LOCK_APDU})
    (spoiled,) = [c for c in journal.cards(batch) if c.state == "spoiled"]
    assert spoiled.reason is not None and spoiled.reason.startswith(
        "locked (destroy): torn at step "
    )
    assert spoiled.reason.endswith(" (read-back)") and card_action(spoiled) == "destroy"
    step = spoiled.reason.removeprefix("locked (destroy): torn at step ").split()[0]
    assert lines == [
        loaded(batch, 1),
        f"place a blank card on {READER}",
        f"row 2: the card left the reader during step {step} (read back through secure "
        f"messaging, CA and AA) — put it aside: chip {CHIP1} is spoiled (destroy it)",
        f"place a blank card on {READER}",
        f"row 2 verified: chip {CHIP2}",
        f"remove the card from {READER}",
        "row 2 printed: 1 file(s) in printed/batch-00002-1",
    ]


def test_a_refused_chip_is_put_aside(
    tmp_path: Path, kit: Any, make_settings: Any, capsys: Any
) -> None:
    # The first (issued) card is offered again for the second record.
    lines, _, batch = run(tmp_path, kit, make_settings, capsys, rows=2, offer_used={1})
    assert lines == [
        loaded(batch, 2),
        f"place a blank card on {READER}",
        f"row 2 verified: chip {CHIP1}",
        f"remove the card from {READER}",
        "row 2 printed: 1 file(s) in printed/batch-00002",
        f"place a blank card on {READER}",
        f"row 3: chip {CHIP1} was written before: put it aside",
        f"remove the card from {READER}",
        f"place a blank card on {READER}",
        f"row 3 verified: chip {CHIP2}",
        f"remove the card from {READER}",
        "row 3 printed: 1 file(s) in printed/batch-00003",
    ]


def test_a_station_without_pcscd_says_so_once_and_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    told: list[str] = []
    stop = threading.Event()
    calls = 0

    def statuses() -> list[pcsc.ReaderStatus]:
        nonlocal calls
        calls += 1
        if calls >= 4:
            stop.set()
        raise pcsc.PcscError(pcsc.NO_PCSCD, pcsc_code=0x8010001D)

    monkeypatch.setattr(pcsc, "reader_statuses", statuses)
    station = PcscStation(READER, poll=0.001, on_notice=told.append)
    assert station.wait_for_card(stop) is None
    assert told == [f"{pcsc.NO_PCSCD}; waiting"]
    assert told[0].startswith("pcscd is not running: start it with `systemctl start pcscd`")
    # pcscd back, the reader empty: the operator hears that it goes on.
    empty = pcsc.ReaderStatus(READER, card_present=False, atr=None, in_use=False, mute=False)
    monkeypatch.setattr(pcsc, "reader_statuses", lambda: [empty])
    assert not station.holds_card()
    assert told[1:] == [f"reader {READER} answers again: going on"]
