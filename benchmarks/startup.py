"""How fast the `cardkit` command starts (``python benchmarks/startup.py -n 20 [--card]``).

Issue 12 §7: ``cardkit --help`` and ``cardkit verify --help`` in ≤ 150 ms of process wall time;
a one-card ``cardkit verify`` through pcscd in ≤ 250 ms. Each figure is a whole process run
(interpreter start, imports, work), as an officer or a script waits for it, printed as
min–median–max over N runs. With ``--card`` a genuine vn-cccd-2021 card is served by
``cardkit emulator start`` through vpcd and pcscd (the integration helpers,
tests/integration/pcsc.py, loaded by file path) and ``cardkit verify`` is run against it.
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
        f"{what:<34} min {min(runs):6.1f}  median {med:6.1f}  max {max(runs):6.1f} ms"
        f"   (target ≤ {target:g} ms: {verdict})"
    )


def _verify_card(n: int) -> None:
    pcsc = _load("cardkit_bench_pcsc", ROOT / "tests" / "integration" / "pcsc.py")
    forgery = _load("forgery", ROOT / "tests" / "support" / "forgery.py")
    reason = pcsc.missing_reason()
    if reason is not None:
        print(f"one-card verify: cannot run ({reason})")
        return
    from cryptography.hazmat.primitives import serialization

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        daemon = pcsc.start_pcscd(work / "run", 2)
        lab = forgery.Lab()
        card = lab.genuine()
        trust = work / "trust"
        trust.mkdir()
        (trust / "csca.pem").write_bytes(lab.csca.public_bytes(serialization.Encoding.PEM))
        for index, crl in enumerate(lab.trust.crls):
            (trust / f"{index}.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
        emu = pcsc.Emulator(
            slot=0, state=forgery.save_state(card, work / "card.state"), log=work / "emu.log"
        )
        emu.start()
        try:
            env = {**os.environ, "CARD_CAN": card.secrets.can or ""}
            command = [*CARDKIT, "verify", "--reader", emu.reader, "--can-from", "env:CARD_CAN",
                       "--trust", str(trust)]  # fmt: skip
            _show("cardkit verify (one card, pcscd)", _time(command, n, env), TARGET_VERIFY_MS)
        finally:
            emu.stop()
            daemon.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="runs per figure (default 20)")
    parser.add_argument("--card", action="store_true", help="also a one-card verify via pcscd")
    args = parser.parse_args(argv)
    _show("cardkit --help", _time([*CARDKIT, "--help"], args.n), TARGET_HELP_MS)
    _show("cardkit verify --help", _time([*CARDKIT, "verify", "--help"], args.n), TARGET_HELP_MS)
    if args.card:
        _verify_card(args.n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
