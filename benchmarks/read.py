"""How much a full chip read costs (``python benchmarks/read.py -n 50``).

A complete vn-cccd-2021 card (EF.CardAccess, EF.COM, DG1, DG2 of about 20 KB, DG3 refused by
EAC, DG13, DG14, DG15, EF.SOD) is prepared once, loaded into cardkit's in-process emulated chip
(:class:`cardkit.emulator.card.EmulatorConnection`, no PC/SC, no socket), then read N times
with :func:`cardkit.services.read.read_card`: PACE-CAN, chip authentication, every file, active
authentication. The photo is a noisy synthetic image so that its JPEG fills the profile's
20 000-byte budget (a smooth sample photo compresses to a few KB).

Printed per full read: APDUs, bytes exchanged (commands + responses, status words included) and
host CPU time — ``time.process_time`` of the whole read MINUS the emulator's own CPU time, which
is measured separately around every ``transmit`` (the chip's work is not the reader's cost).

Two chips: one that advertises extended length (ATR card capabilities and EF.ATR/INFO, as the
emulator does) and a short-only one. The emulator cannot be told to refuse extended length, so the
short-only chip is emulated by passing ``extended_length=False`` to ``read_card``.

Targets (the issue): ≤ 30 APDUs for a full read with CA when extended length is available,
≤ 20 ms of host CPU per full read. The figures are printed as measured, met or not.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from PIL import Image

from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds import files
from cardkit.profile import load_profile
from cardkit.services.read import AccessKey, CardRead, read_card

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))  # the test helpers import testpki
# The card-image and personalization helpers of the read tests (one place for that protocol).
HELPERS = ROOT / "tests" / "unit" / "services" / "test_read.py"
TARGET_APDUS = 30
TARGET_CPU_MS = 20.0


def _load_helpers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("read_test_helpers", HELPERS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def noisy_photo(width: int = 480, height: int = 640) -> bytes:
    """A PNG of random noise: its JPEG does not compress, so DG2 fills the profile's budget."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class TimedEmulator:
    """An EmulatorConnection that adds up the CPU time spent inside the emulated chip."""

    def __init__(self, card: EmulatedCard) -> None:
        self.inner = EmulatorConnection(card)
        self.card = card
        self.emulator_cpu = 0.0

    def send(self, command: Command) -> Response:
        start = time.process_time()
        try:
            return self.inner.send(command)
        finally:
            self.emulator_cpu += time.process_time() - start


@dataclass(frozen=True)
class Figures:
    label: str
    apdus: int
    bytes_exchanged: int
    host_ms: list[float]
    emulator_ms: list[float]


def run(card: EmulatedCard, key: AccessKey, n: int, extended: bool | None, label: str) -> Figures:
    host: list[float] = []
    chip: list[float] = []
    result: CardRead | None = None
    for _ in range(n):
        connection = TimedEmulator(card)
        start = time.process_time()
        result = read_card(connection, key, extended_length=extended)
        total = time.process_time() - start
        host.append((total - connection.emulator_cpu) * 1000)
        chip.append(connection.emulator_cpu * 1000)
    assert result is not None and result.aa is not None and result.aa.verified
    assert result.ca is not None and not result.errors, result.errors
    return Figures(label, result.apdu_count, result.bytes_exchanged, host, chip)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=50, help="reads per chip (default 50)")
    args = parser.parse_args(argv)

    helpers = _load_helpers()
    profile = load_profile("vn-cccd-2021")
    chip = helpers.make_chip(profile, photo=noisy_photo())
    dg2 = len(chip.image.files[files.dg(2)])
    total = sum(len(d) for d in chip.image.files.values())
    print(f"card: vn-cccd-2021, DG2 {dg2} bytes, {total} bytes in {len(chip.image.files)} files")
    print(f"reads per chip: {args.n}; host CPU = process time of read_card minus the emulator's")
    print()
    key = AccessKey.from_can(chip.can)
    rows = [
        run(chip.card(), key, args.n, None, "extended length (ATR + EF.ATR/INFO)"),
        run(chip.card(), key, args.n, False, "short only (extended_length=False)"),
    ]
    header = f"{'chip':<38} {'APDUs':>5} {'bytes':>7} {'host CPU ms':>22} {'emulator ms':>12}"
    print(header)
    print("-" * len(header))
    for row in rows:
        med = statistics.median(row.host_ms)
        spread = f"{med:6.2f} (min {min(row.host_ms):5.2f})"
        print(
            f"{row.label:<38} {row.apdus:>5} {row.bytes_exchanged:>7} {spread:>22} "
            f"{statistics.median(row.emulator_ms):>12.2f}"
        )
    print()
    extended = rows[0]
    worst = max(statistics.median(r.host_ms) for r in rows)
    print(
        f"target ≤ {TARGET_APDUS} APDUs with extended length: {extended.apdus} — "
        f"{'met' if extended.apdus <= TARGET_APDUS else 'NOT met'}"
    )
    print(
        f"target ≤ {TARGET_CPU_MS:g} ms host CPU per full read (median): {worst:.2f} ms — "
        f"{'met' if worst <= TARGET_CPU_MS else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
