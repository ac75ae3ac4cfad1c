"""How fast the `cardkit` command starts (``python benchmarks/startup.py -n 20 [--card]``).

Issue 12 §7: ``cardkit --help`` and ``cardkit verify --help`` in ≤ 150 ms of process wall time;
a one-card ``cardkit verify`` through pcscd in ≤ 250 ms. Each figure is a whole process run
(interpreter start, imports, work), as an officer or a script waits for it, printed as
min–median–max over N runs. With ``--card`` a genuine vn-cccd-2021 card is served by
``cardkit emulator start`` through vpcd and pcscd (the integration helpers,
tests/integration/pcsc.py, loaded by file path) and ``cardkit verify`` is run against it.

``--socket-card`` runs the same ``cardkit verify`` without pcscd: the card is an emulator in
another process, reached through a Unix socket by a reader that replaces ``open_reader`` (the
measured process imports ``socket`` and the CLI, nothing of the emulator): cardkit's own start
and inspection, apart from pcscd, vpcd and pyscard.

Bytecode: with ``PYTHONDONTWRITEBYTECODE`` set (or ``-B``) and no ``__pycache__`` next to
cardkit's sources, every start compiles the ~700 KB of source the verify path imports (some
70 ms here); an installed cardkit (``pip install`` writes the ``.pyc`` files) does not. The
benchmark says which case it measures; ``--compile`` writes the ``.pyc`` files first
(``compileall``, into ``__pycache__`` beside the sources, as an install does).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))  # the test helpers import testpki
CARDKIT = [sys.executable, "-m", "cardkit.cli.main"]
TARGET_HELP_MS = 150.0
TARGET_VERIFY_MS = 250.0


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _time(command: list[str], n: int, env: dict[str, str] | None = None) -> list[float]:
    runs = []
    for _ in range(n):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, env=env)
        runs.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-500:]}")
    return runs


def _show(what: str, runs: list[float], target: float) -> None:
    med = statistics.median(runs)
    verdict = "met" if med <= target else "NOT met"
    print(
        f"{what:<36} min {min(runs):6.1f}  median {med:6.1f}  max {max(runs):6.1f} ms"
        f"   (target ≤ {target:g} ms: {verdict})"
    )


def _verify_card(n: int) -> None:
    pcsc = _load("cardkit_bench_pcsc", ROOT / "tests" / "integration" / "pcsc.py")
    reason = pcsc.missing_reason()
    if reason is not None:
        print(f"one-card verify: cannot run ({reason})")
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        daemon = pcsc.start_pcscd(work / "run", 2)
        state, trust, can = _genuine_card(work)
        emu = pcsc.Emulator(slot=0, state=state, log=work / "emu.log")
        emu.start()
        try:
            env = {**os.environ, "CARD_CAN": can}
            command = [*CARDKIT, "verify", "--reader", emu.reader, "--can-from", "env:CARD_CAN",
                       "--trust", str(trust)]  # fmt: skip
            _show("cardkit verify (one card, pcscd)", _time(command, n, env), TARGET_VERIFY_MS)
        finally:
            emu.stop()
            daemon.close()


# The card served over a Unix socket (--socket-card): argv = state file, socket path. Each
# connection powers a fresh copy of the card on; frames are a 4-byte length and the bytes.
_SERVE_CARD = """
import os, socket, struct, sys
from pathlib import Path
from cardkit.emulator.card import EmulatedCard
from cardkit.emulator.state import CardState
state, path = Path(sys.argv[1]), sys.argv[2]
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(4)
print("ready", flush=True)
def recv(conn, n):
    data = b""
    while len(data) < n:
        part = conn.recv(n - len(data))
        if not part:
            raise EOFError
        data += part
    return data
while True:
    conn, _ = server.accept()
    card = EmulatedCard(CardState.load(state))
    card.power_on()
    conn.sendall(struct.pack(">I", len(card.atr)) + card.atr)
    try:
        while True:
            (n,) = struct.unpack(">I", recv(conn, 4))
            answer = card.transmit(recv(conn, n))
            conn.sendall(struct.pack(">I", len(answer)) + answer)
    except EOFError:
        conn.close()
"""

# `cardkit verify` with open_reader replaced by a reader on that socket: argv = socket path,
# then the command's arguments.
_VERIFY_OVER_SOCKET = """
import socket, struct, sys
import cardkit.cli.verify as command
class SocketReader:
    protocol = "T=1"
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        (n,) = struct.unpack(">I", self._recv(4))
        self.atr = self._recv(n)
    def _recv(self, n):
        data = b""
        while len(data) < n:
            data += self.sock.recv(n - len(data))
        return data
    def send(self, apdu):
        from cardkit.iso7816.apdu import Response
        raw = bytes(apdu)
        self.sock.sendall(struct.pack(">I", len(raw)) + raw)
        (n,) = struct.unpack(">I", self._recv(4))
        return Response.from_bytes(self._recv(n))
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.sock.close()
path = sys.argv[1]
command.open_reader = lambda spec, timeout=0: SocketReader(path)
sys.argv = ["cardkit", *sys.argv[2:]]
from cardkit.cli.main import main
main()
"""


def _genuine_card(work: Path) -> tuple[Path, Path, str]:
    """A genuine card's emulator state, its trust folder and its CAN, under ``work``."""
    forgery = _load("forgery", ROOT / "tests" / "support" / "forgery.py")
    from cryptography.hazmat.primitives import serialization

    lab = forgery.Lab()
    card = lab.genuine()
    trust = work / "trust"
    trust.mkdir()
    (trust / "csca.pem").write_bytes(lab.csca.public_bytes(serialization.Encoding.PEM))
    for index, crl in enumerate(lab.trust.crls):
        (trust / f"{index}.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    state = forgery.save_state(card, work / "card.state")
    return state, trust, card.secrets.can or ""


def _verify_socket_card(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        state, trust, can = _genuine_card(work)
        sock = str(work / "card.sock")
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVE_CARD, str(state), sock], stdout=subprocess.PIPE
        )
        try:
            assert server.stdout is not None and server.stdout.readline() == b"ready\n"
            env = {**os.environ, "CARD_CAN": can}
            command = [sys.executable, "-c", _VERIFY_OVER_SOCKET, sock, "verify", "--reader", "x",
                       "--can-from", "env:CARD_CAN", "--trust", str(trust)]  # fmt: skip
            _show("cardkit verify (one card, no pcscd)", _time(command, n, env), TARGET_VERIFY_MS)
        finally:
            server.kill()
            server.wait()


def _bytecode() -> str:
    """Whether the runs compile cardkit's sources (no .pyc files to read) or not."""
    import importlib.util

    import cardkit.services.verify as probe

    assert probe.__file__ is not None
    cached = Path(importlib.util.cache_from_source(probe.__file__))
    if cached.exists() and cached.stat().st_mtime >= Path(probe.__file__).stat().st_mtime:
        return "bytecode: cached (.pyc files beside the sources), as installed"
    how = "PYTHONDONTWRITEBYTECODE" if sys.flags.dont_write_bytecode else "not yet written"
    return (
        f"bytecode: none ({how}): every start compiles cardkit's sources; --compile writes "
        "them as an install does"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="runs per figure (default 20)")
    parser.add_argument("--card", action="store_true", help="also a one-card verify via pcscd")
    parser.add_argument(
        "--socket-card", action="store_true", help="also a one-card verify without pcscd"
    )
    parser.add_argument(
        "--compile", action="store_true", help="write cardkit's .pyc files first (compileall)"
    )
    args = parser.parse_args(argv)
    if args.compile:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(ROOT / "cardkit")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    print(_bytecode())
    _show("cardkit --help", _time([*CARDKIT, "--help"], args.n), TARGET_HELP_MS)
    _show("cardkit verify --help", _time([*CARDKIT, "verify", "--help"], args.n), TARGET_HELP_MS)
    if args.socket_card:
        _verify_socket_card(args.n)
    if args.card:
        _verify_card(args.n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
