"""pcscd + vpcd + cardkit's emulator for integration tests.

pcscd is started with ``scripts/virtual-reader.sh`` itself (one implementation, so the tests
exercise what users run), in a private run directory. pcscd's socket is compiled in
(/run/pcscd/pcscd.comm), so there is one pcscd per machine: when one already lists the readers we
need (a developer ran the script, or another test session is using it) it is reused and left
running. A shared ``flock`` on :data:`USERS_LOCK` is held by every session using pcscd, so the
session that started it stops it only when no other session still holds the lock.

Emulators run as real subprocesses (``cardkit emulator start --slot N --state FILE``) so that a test
can kill one to pull the card.

CI semantics: when pcscd or the vpcd driver is missing the caller fails under ``CI=true`` and skips
elsewhere, naming the apt packages.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cardkit.emulator.vpcd import reader_name_for_slot
from cardkit.errors import TransportError
from cardkit.transport.pcsc import list_readers, reader_statuses

APT_PACKAGES = "pcscd vsmartcard-vpcd pcsc-tools"
REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "virtual-reader.sh"
DRIVER_GLOBS = (
    "/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/lib/*/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
)
USERS_LOCK = Path(tempfile.gettempdir()) / "cardkit-pcscd-users.lock"
REINSERT_DELAY = 1.0  # seconds a pulled card stays out before it may come back
# When each slot last lost its card, across Emulator objects (tests reuse slots back to back).
_slot_emptied: dict[int, float] = {}
START_LOCK = Path(tempfile.gettempdir()) / "cardkit-pcscd-start.lock"


def find_driver() -> str | None:
    for pattern in DRIVER_GLOBS:
        matches = sorted(Path("/").glob(pattern.lstrip("/")))
        if matches:
            return str(matches[0])
    return None


def missing_reason() -> str | None:
    """Why pcscd + vpcd cannot run here, or None when they can."""
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        return f"pcscd not found (apt install {APT_PACKAGES})"
    if find_driver() is None:
        return f"the vpcd driver libifdvpcd.so not found (apt install {APT_PACKAGES})"
    if not os.access("/run", os.W_OK) and not os.access("/run/pcscd", os.W_OK):
        return "pcscd needs a writable /run/pcscd (run the integration tests as root)"
    try:
        list_readers()
    except TransportError as exc:
        if "cannot be loaded" in str(exc):
            return f"pyscard cannot load libpcsclite ({exc})"
    return None


def reader_names(count: int) -> list[str]:
    return [reader_name_for_slot(slot) for slot in range(count)]


def listed_readers() -> list[str]:
    try:
        return list_readers()
    except TransportError:
        return []


@dataclass
class Pcscd:
    """A pcscd with at least ``readers`` vpcd readers; ``started`` when this session owns it."""

    readers: int
    run_dir: Path
    started: bool
    _users: IO[bytes] | None = field(default=None, repr=False)

    @property
    def names(self) -> list[str]:
        return reader_names(self.readers)

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_script(self.run_dir, *args)

    def close(self) -> None:
        users, self._users = self._users, None
        if users is None:
            return
        try:
            if not self.started:
                return
            # Another session still using pcscd holds a shared lock: leave pcscd to it.
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            self.script("stop")
        finally:
            users.close()


def run_script(run_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, "CARDKIT_RUN_DIR": str(run_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_pcscd(run_dir: Path, readers: int) -> Pcscd:
    """Reuse a pcscd that lists the readers, else start one with virtual-reader.sh."""
    users = USERS_LOCK.open("ab")
    fcntl.flock(users, fcntl.LOCK_SH)
    try:
        with START_LOCK.open("ab") as start_lock:
            fcntl.flock(start_lock, fcntl.LOCK_EX)  # one session starts pcscd at a time
            wanted = reader_names(readers)
            if all(name in listed_readers() for name in wanted):
                return Pcscd(readers, run_dir, started=False, _users=users)
            result = run_script(run_dir, "start", "--readers", str(readers))
            if result.returncode != 0:
                raise RuntimeError(
                    f"virtual-reader.sh start failed ({result.returncode}):\n"
                    f"{result.stdout}{result.stderr}"
                )
            return Pcscd(readers, run_dir, started=True, _users=users)
    except BaseException:
        users.close()
        raise


def card_atr(reader: str) -> bytes | None:
    """The ATR of the card pcscd sees in ``reader``, None when no card (or no pcscd)."""
    try:
        statuses = reader_statuses()
    except TransportError:
        return None
    for status in statuses:
        if status.name == reader and status.card_present:
            return status.atr
    return None


def wait_for_card(reader: str, timeout: float = 10.0) -> bytes:
    """Wait until pcscd sees a card in ``reader`` (it polls every ~400 ms); returns its ATR."""
    deadline = time.monotonic() + timeout
    while True:
        atr = card_atr(reader)
        if atr is not None:
            return atr
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no card in {reader!r} after {timeout:g} s")
        time.sleep(0.05)


def wait_for_no_card(reader: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while card_atr(reader) is not None:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the card is still in {reader!r} after {timeout:g} s")
        time.sleep(0.05)


def emulator_command(slot: int, state: Path, applet: str = "cardkit") -> list[str]:
    """`cardkit emulator start`, run as users run it (a real process a test can kill)."""
    args = ["emulator", "start", "--slot", str(slot), "--state", str(state), "--applet", applet]
    return [sys.executable, "-m", "cardkit.cli.main", *args]


@dataclass
class Emulator:
    """One ``cardkit emulator start`` subprocess serving a card in ``reader``."""

    slot: int
    state: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    applet: str = "cardkit"  # the applet dialect: cardkit's, or JMRTD's passport applet

    @property
    def reader(self) -> str:
        return reader_name_for_slot(self.slot)

    def start(self, timeout: float = 15.0) -> bytes:
        """Start the process and wait until pcscd sees the card; returns the ATR."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"the emulator for slot {self.slot} is already running")
        # pcscd polls every ~400 ms: a card back before its next poll was never seen leaving,
        # and pcscd then keeps the reader marked empty (SCardDisconnect's failed reset) while
        # the driver reports a card. Stay out for more than two polls, like a real hand would.
        pause = REINSERT_DELAY - (time.monotonic() - _slot_emptied.get(self.slot, -1e9))
        if pause > 0:
            time.sleep(pause)
        # A card pulled from this slot by another process (a card feeder, an earlier test
        # module) may not have been seen leaving yet: pcscd would then route the new card
        # through the old card's state and the first transmit fails with 0x80100016
        # (DOMAIN.md §13). Start only once pcscd reports the slot empty.
        wait_for_no_card(self.reader, timeout)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                emulator_command(self.slot, self.state, self.applet),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        try:
            return wait_for_card(self.reader, timeout)
        except TimeoutError:
            self.kill()
            raise RuntimeError(
                f"the emulator for {self.reader!r} did not come up:\n{self.log.read_text()}"
            ) from None

    def kill(self) -> None:
        """Pull the card: SIGKILL, no goodbye (the socket closes with the process)."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """Clean shutdown (SIGTERM)."""
        self._end(signal.SIGTERM)

    def _end(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        _slot_emptied[self.slot] = time.monotonic()
