"""Fixtures for the batch tests: in-memory keys, a small records file, a station that hands out
in-process emulated cards (with a CPLC serial each), able to tear a card or crash the run, and
the exactly-once invariants every fault test checks (:func:`check_invariants`)."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from testpki import in_memory_issuer

from cardkit.batch.runner import BatchSettings
from cardkit.emulator.card import EmulatedCard
from cardkit.errors import TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds import files
from cardkit.profile import Profile, load_profile

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands for kill -9: nothing after it runs (not even the runner's error handling)."""


class Keys:
    def __init__(self) -> None:
        pki = in_memory_issuer("batch test")
        self.csca, self.dsc = pki.csca, pki.issuer.dsc_certificate
        self.transport, self.issuer, self.trust = pki.transport, pki.issuer, pki.trust


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="session")
def profile() -> Profile:
    return load_profile("vn-cccd-2021")


def write_records(path: Path, rows: int, broken: int = 0) -> Path:
    """The first ``rows`` sample citizens (absolute image paths), then ``broken`` rows of
    broken.csv."""

    def read(name: str, n: int) -> tuple[list[str], list[dict[str, str]]]:
        with (SAMPLES / name).open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            return list(reader.fieldnames or ()), [
                r for _, r in zip(range(n), reader, strict=False)
            ]

    fields, records = read("citizens.csv", rows)
    _, bad = read("broken.csv", broken)
    for row in [*records, *bad]:
        for key in ("photo_path", "fingerprint_paths"):
            parts = [p for p in (row.get(key) or "").split(";") if p]
            row[key] = ";".join(str(SAMPLES / p) for p in parts)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([*records, *bad])
    return path


def cplc(serial: int) -> bytes:
    """A 42-byte CPLC (GlobalPlatform Card Specification v2.3 §H.6) with this IC serial."""
    body = bytearray(42)
    body[0:2] = b"\x47\x90"  # IC fabricator
    body[2:4] = b"\xd3\x21"  # IC type
    body[12:16] = serial.to_bytes(4, "big")
    body[16:18] = b"\x00\x01"  # IC batch
    return b"\x9f\x7f\x2a" + bytes(body)


class MemoryConnection:
    def __init__(self, card: EmulatedCard, serial: int, tear_after: int | None,
                 crash_after: int | None) -> None:  # fmt: skip
        self.card = card
        self.serial = serial
        self.sent = 0
        self.tear_after = tear_after
        self.crash_after = crash_after
        self.gone = False
        card.power_on()

    def send(self, command: Command) -> Response:
        if self.gone:
            raise TransportError("the card was removed", reader="memory")
        self.sent += 1
        if self.crash_after is not None and self.sent > self.crash_after:
            raise Crash
        if self.tear_after is not None and self.sent > self.tear_after:
            self.gone = True
            raise TransportError("the card was removed", reader="memory")
        if (command.cla, command.ins, command.p1, command.p2) == (0x80, 0xCA, 0x9F, 0x7F):
            return Response(cplc(self.serial), 0x9000)
        return Response.from_bytes(self.card.transmit(bytes(command)))


@dataclass
class MemoryStation:
    """Hands out a fresh blank emulated card each time (an instant card feeder). ``tear[i]`` /
    ``crash[i]``: the i-th card (0-based) is pulled / the process "dies" after that many APDUs.
    ``offer_used``: card indexes at which the previous card is offered again first."""

    tear: dict[int, int] = field(default_factory=dict)
    crash: dict[int, int] = field(default_factory=dict)
    offer_used: set[int] = field(default_factory=set)
    cards: list[tuple[int, EmulatedCard]] = field(default_factory=list)
    next_serial: int = 1
    handed: int = 0

    @property
    def name(self) -> str:
        return "memory"

    def wait_for_card(self, stop: threading.Event) -> MemoryConnection | None:
        if stop.is_set():
            return None
        index = self.handed
        self.handed += 1
        if index in self.offer_used and self.cards:
            serial, card = self.cards[-1]
        else:
            serial, card = self.next_serial, EmulatedCard()
            self.next_serial += 1
            self.cards.append((serial, card))
        return MemoryConnection(card, serial, self.tear.get(index), self.crash.get(index))

    def release(self, connection: object) -> None:
        pass


SettingsFactory = Callable[..., BatchSettings]


@pytest.fixture
def make_settings(keys: Keys, profile: Profile, tmp_path: Path) -> SettingsFactory:
    def make(records: Path, station: str = "st-1", **extra: object) -> BatchSettings:
        values: dict[str, object] = {
            "records_file": records,
            "profile": profile,
            "issuer": keys.issuer,
            "transport": keys.transport,
            "workdir": tmp_path / "work",
            "station": station,
            "today": TODAY,
            "clock": lambda: SIGNED_AT,
            "trust": keys.trust,
        }
        values.update(extra)
        return BatchSettings(**values)  # type: ignore[arg-type]

    return make


# --- the exactly-once invariants (issue 14) ---------------------------------------------------


def audit_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def check_invariants(
    journal: Any,
    batch: str,
    *,
    cards_dirs: list[Path],
    audit: Path | None,
    chips: list[tuple[int, EmulatedCard]],
    final: tuple[str, ...] = ("verified",),
    settled: tuple[str, ...] = ("written", "destroyed"),
) -> None:
    """``settled``: the image states allowed at the end (``released`` too while a stopped
    station whose records were handed over has not come back to destroy its images)."""
    records = journal.records(batch)
    cards = journal.cards(batch)
    images = {i.image_id: i for i in journal.images(batch)}
    serials = [c.chip_serial for c in cards if c.chip_serial is not None]
    assert len(serials) == len(set(serials)), "a chip was written twice"
    serial_of = {f"4790-D321-0001-{s:08X}": card for s, card in chips}
    for rec in records:
        if rec.state == "rejected":
            assert not [c for c in cards if c.row == rec.row]
            continue
        assert rec.state in final, f"record {rec.row} is {rec.state}: lost"
        live = [c for c in cards if c.row == rec.row and c.state != "spoiled"]
        assert len(live) == 1 and live[0].state == "verified", f"record {rec.row}: {live}"
        chip = serial_of[live[0].chip_serial or ""]
        assert chip.life_cycle == "locked"
        sod = chip._state.files.get(files.SOD.fid)  # the test looks inside the chip
        assert sod is not None and hashlib.sha256(bytes(sod)).hexdigest() == rec.sod_digest
        assert images[rec.image_id or ""].state == "written"
    accounted = {c.chip_serial for c in cards}
    for serial, card in chips:
        if card._state.files or card.life_cycle == "locked":
            assert f"4790-D321-0001-{serial:08X}" in accounted, f"chip {serial} not journaled"
    # Every signature maps to a journal image; a written image holds the audited EF.SOD.
    lines = [a for a in audit_lines(audit) if a["card_id"] in images] if audit else []
    if audit is not None:
        for line in audit_lines(audit):
            assert line["card_id"] in images, f"signature of {line['card_id']} not in the journal"
        for line in lines:
            image = images[line["card_id"]]
            if image.state == "written":
                assert image.sod_digest == line["sod_sha256"]
        # Signed once, unless a card was spoiled or signing was interrupted (destroyed).
        per_row = Counter(images[line["card_id"]].row for line in lines)
        for rec in records:
            if rec.state == "rejected":
                continue
            spoiled = sum(1 for c in cards if c.row == rec.row and c.state == "spoiled")
            lost = sum(1 for i in images.values() if i.row == rec.row and i.state != "written")
            assert per_row[rec.row] <= 1 + spoiled + lost, f"record {rec.row} signed too often"
    # No orphan image: every folder is a written image of the journal; nothing destroyed left.
    for cards_dir in cards_dirs:
        if not cards_dir.exists():
            continue
        for entry in cards_dir.iterdir():
            assert not entry.name.startswith("."), f"left-over temporary folder {entry.name}"
            image = images.get(entry.name)
            assert image is not None, f"orphan card image {entry.name}"
            assert image.state in ("written", "released"), f"{entry.name} is {image.state}"
    for image in images.values():
        if image.state == "destroyed":
            assert all(not (d / image.image_id).exists() for d in cards_dirs)
        assert image.state in settled, f"{image.image_id} left {image.state}"


def copy_samples_to(folder: Path) -> None:
    shutil.copytree(SAMPLES / "photos", folder / "photos")


@pytest.fixture(scope="session")
def kit() -> object:
    """This module (tests cannot import a conftest in importlib mode): ``kit.MemoryStation``,
    ``kit.write_records``, ``kit.Crash``, ``kit.TODAY``, ``kit.check_invariants``."""
    import sys

    return sys.modules[__name__]
