"""How long a full inspection takes at a checkpoint (``python benchmarks/verify.py -n 30``).

A genuine vn-cccd-2021 card (EF.CardAccess, EF.COM, DG1, DG2, DG13, DG14, DG15, EF.SOD; the
sample photo fitted to the profile) is personalized with the real protocol into an emulator
state file, served by ``cardkit emulator start`` through vpcd and pcscd (started with
``scripts/virtual-reader.sh``, or reused), and inspected N times with
:func:`cardkit.services.verify.verify_card` over :func:`cardkit.transport.pcsc.open_reader`:
PACE-CAN, every file, chip and active authentication, passive authentication to the trusted CSCA
with its CRL, DG13/DG1 consistency, expiry. The helpers of the integration fixtures
(tests/integration/pcsc.py) and the forgery lab (tests/support/forgery.py) are loaded by file path.

Printed per inspection: wall time (connect + verify, as an officer waits for it), APDUs, and
host CPU time (``time.process_time`` of this process: the emulator runs in its own process).
Target (the issue): ≤ 150 ms wall time per inspection.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from cardkit.report import Verdict
from cardkit.services.verify import verify_card
from cardkit.transport.pcsc import open_reader

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))  # the test helpers import testpki
TARGET_WALL_MS = 150.0


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=30, help="inspections (default 30)")
    parser.add_argument("--slot", type=int, default=0, help="vpcd slot (default 0)")
    args = parser.parse_args(argv)

    pcsc = _load("cardkit_bench_pcsc", ROOT / "tests" / "integration" / "pcsc.py")
    forgery = _load("forgery", ROOT / "tests" / "support" / "forgery.py")
    reason = pcsc.missing_reason()
    if reason is not None:
        print(f"cannot run: {reason}")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        daemon = pcsc.start_pcscd(work / "run", max(args.slot + 1, 2))
        lab = forgery.Lab()
        card = lab.genuine()
        state = forgery.save_state(card, work / "card.state")
        emu = pcsc.Emulator(slot=args.slot, state=state, log=work / "emulator.log")
        emu.start()
        try:
            size = sum(len(d) for d in card.files.values())
            print(f"card: vn-cccd-2021, {len(card.files)} files, {size} bytes; reader {emu.reader}")
            wall: list[float] = []
            cpu: list[float] = []
            apdus = 0
            for _ in range(args.n):
                start_wall, start_cpu = time.perf_counter(), time.process_time()
                with open_reader(emu.reader, timeout=5) as connection:
                    inspection = verify_card(connection, card.key(), lab.trust)
                wall.append((time.perf_counter() - start_wall) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
                assert inspection.verdict is Verdict.VALID, inspection.failures()
                apdus = inspection.apdu_count
        finally:
            emu.stop()
            daemon.close()
    med = statistics.median(wall)
    print(f"inspections: {args.n}; APDUs per inspection: {apdus}")
    print(f"wall ms:     median {med:7.2f}  min {min(wall):7.2f}  max {max(wall):7.2f}")
    print(f"host CPU ms: median {statistics.median(cpu):7.2f}  min {min(cpu):7.2f}")
    verdict = "met" if med <= TARGET_WALL_MS else "NOT met"
    print(f"target ≤ {TARGET_WALL_MS:g} ms wall per inspection (median): {med:.2f} ms — {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
