"""A card feeder for cardkit's emulator: plays the operator of a personalization station.

``python scripts/card_feeder.py --slot 0 --dir out/feeder`` serves a blank emulated card in the
vpcd reader of that slot ("Virtual PCD 00 00"; pcscd must run: scripts/virtual-reader.sh start).
As soon as a station has *used* the current card (it sent the card at least one APDU) and has
let go of it (the reader is no longer in use), the feeder pulls it (ends its emulator process,
which removes the card from the reader), waits like a hand would (pcscd polls every ~400 ms)
and, once pcscd reports the slot empty, inserts the next blank card. This matches what
``cardkit batch run`` expects: after each card it waits for the card to be removed, then takes
the next one.

Every card is a state file ``DIR/card-NNNN.state`` (kept afterwards: the tests inspect them to
check exactly-once issuance). Each card answers GET DATA 9F7F with a CPLC whose IC serial number
is NNNN, so the batch journal can name the chip. ``--tear N:K`` pulls card N after its K-th APDU
(a torn card). ``--first N`` numbers the cards from N (default: after the last card in DIR,
else 1): give each feeder of a multi-station line its own range (``--first 1000``,
``--first 2000``, …), since a chip serial is written once, ever, across the whole journal —
two feeders serving the same serial is two stations offered the same chip, and one of them
refuses it ("chip … was written before: put it aside"). Stop with Ctrl-C or SIGTERM.

Used by tests/integration/test_batch.py and benchmarks (import it by path), and by hand.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cardkit.emulator.vpcd import port_for_slot, reader_name_for_slot
from cardkit.errors import TransportError
from cardkit.transport.pcsc import reader_statuses

REINSERT_DELAY = 1.0  # seconds out of the reader: more than two pcscd polls
EMPTY_TIMEOUT = 15.0  # seconds to wait for pcscd to report the slot empty before a new card

# The emulated card, with a CPLC (GlobalPlatform Card Specification v2.3 §H.6: IC fabricator,
# IC type, ..., IC serial number at bytes 12..15, IC batch at 16..17), a "used" marker written
# at the first APDU, and an optional tear (the process dies after K APDUs).
CARD_SCRIPT = r"""
import os, sys
from pathlib import Path
from cardkit.emulator.card import EmulatedCard
from cardkit.emulator.vpcd import VpcdBridge
port, state, serial, tear = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
card = EmulatedCard.open(state)
marker = state.with_suffix(".used")
cplc = bytearray(42)
cplc[0:4] = bytes.fromhex("4790D321")
cplc[12:16] = serial.to_bytes(4, "big")
cplc[16:18] = b"\x00\x01"
class FedCard:
    count = 0
    @property
    def atr(self): return card.atr
    def power_on(self): return card.power_on()
    def power_off(self): card.power_off()
    def transmit(self, apdu):
        self.count += 1
        if self.count == 1:
            marker.touch()
        if 0 <= tear < self.count:
            os._exit(9)
        if bytes(apdu[:4]) == bytes.fromhex("80CA9F7F"):
            return b"\x9f\x7f\x2a" + bytes(cplc) + b"\x90\x00"
        return card.transmit(apdu)
print(f"card {serial} on port {port}", flush=True)
VpcdBridge(FedCard(), port=port).run_forever()
"""


def chip_serial(number: int) -> str:
    """The serial ``cardkit batch`` reads from card ``number`` (see read_chip_serial)."""
    return f"4790-D321-0001-{number:08X}"


class CardFeeder:
    """Feeds blank cards to one vpcd slot in a background thread (see the module docstring)."""

    def __init__(
        self,
        slot: int,
        folder: Path,
        *,
        tear: dict[int, int] | None = None,
        first: int = 1,
        poll: float = 0.05,
    ) -> None:
        self.slot = slot
        self.folder = folder
        self.tear = dict(tear or {})
        self.number = first - 1
        self.poll = poll
        self.process: subprocess.Popen[bytes] | None = None
        self.fed: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def reader(self) -> str:
        return reader_name_for_slot(self.slot)

    def state_file(self, number: int) -> Path:
        return self.folder / f"card-{number:04d}.state"

    def _status(self) -> tuple[bool, bool]:
        try:
            for status in reader_statuses():
                if status.name == self.reader:
                    return status.card_present, status.in_use
        except TransportError:
            pass
        return False, False

    def _wait_until_empty(self) -> None:
        """Wait until pcscd reports no card in the reader (DOMAIN.md §13): until its next poll
        it still reports the card just pulled, and a card started in the slot before that is
        reached through the old card's state — its first transmit fails with 0x80100016. Also
        covers a card left in the slot by another process (an earlier test's emulator)."""
        deadline = time.monotonic() + EMPTY_TIMEOUT
        while self._status()[0] and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(self.poll)

    def _insert(self) -> None:
        self._wait_until_empty()
        self.number += 1
        number = self.number
        log = (self.folder / f"card-{number:04d}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", CARD_SCRIPT, str(port_for_slot(self.slot)),
             str(self.state_file(number)), str(number), str(self.tear.get(number, -1))],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self.fed.append(number)
        deadline = time.monotonic() + 15
        while not self._status()[0] and time.monotonic() < deadline and not self._stop.is_set():
            if self.process.poll() is not None:
                break
            time.sleep(self.poll)

    def _pull(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        # Stay out long enough for pcscd to notice, like a hand would.
        self._stop.wait(REINSERT_DELAY)

    def _loop(self) -> None:
        self._insert()
        free_since: float | None = None
        while not self._stop.is_set():
            process = self.process
            if process is None or process.poll() is not None:  # torn: the card is gone
                self._pull()
                if not self._stop.is_set():
                    self._insert()
                continue
            used = self.state_file(self.number).with_suffix(".used").exists()
            present, in_use = self._status()
            if used and present and not in_use:
                # Not in use for two polls in a row: the station has let go of the card.
                now = time.monotonic()
                free_since = free_since or now
                if now - free_since >= 2 * self.poll:
                    free_since = None
                    self._pull()
                    if not self._stop.is_set():
                        self._insert()
                    continue
            else:
                free_since = None
            self._stop.wait(self.poll)

    def start(self) -> CardFeeder:
        self._thread = threading.Thread(target=self._loop, name=f"feeder-{self.slot}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slot", type=int, default=0, help="vpcd slot (reader) number")
    parser.add_argument("--dir", type=Path, required=True, help="folder for the card states")
    parser.add_argument("--tear", action="append", default=[], metavar="N:K",
                        help="pull card N after its K-th APDU")  # fmt: skip
    parser.add_argument("--first", type=int, default=None, metavar="N",
                        help="number (and chip serial) of the first card; one range per feeder "
                        "(default: after the last card in DIR, else 1)")  # fmt: skip
    args = parser.parse_args()
    tear = {int(n): int(k) for n, k in (item.split(":") for item in args.tear)}
    if args.first is not None and not 1 <= args.first < 2**32:
        parser.error("--first must be between 1 and 4294967295 (a 4-byte IC serial number)")
    existing = sorted(args.dir.glob("card-*.state")) if args.dir.exists() else []
    if args.first is not None:
        first = args.first
    else:
        first = max((int(p.stem.split("-")[1]) for p in existing), default=0) + 1
    feeder = CardFeeder(args.slot, args.dir, tear=tear, first=first).start()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"card feeder: blank cards for '{feeder.reader}' in {args.dir}", flush=True)
    done.wait()
    feeder.stop()


if __name__ == "__main__":
    main()
