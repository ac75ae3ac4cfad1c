"""How fast cardkit personalizes cards (``python benchmarks/personalize.py -n 20``).

"A card" is :func:`cardkit.services.personalize.personalize` on a blank chip: SELECT, the
blank-card check, every file of a vn-cccd-2021 card image written (extended-length UPDATE BINARY
when the chip advertises it), the secrets loaded, LOCK, then the whole card read back through
PACE-CAN with chip and active authentication, compared with the image and checked by passive
authentication. The wall time per card runs from opening the reader to the verdict.

Through a REAL pcscd onto cardkit's emulator: pcscd and the vpcd readers are started with the
integration tests' helper (tests/integration/pcsc.py, loaded by path); each card is a fresh
``cardkit emulator start --slot 0 --state FILE`` subprocess (a blank chip). Starting an emulator
and waiting for pcscd to notice it (~0.4 s polling, plus the re-insertion delay) is card
handling, not personalization: it is excluded, and "cards/min" is the station's rate with an
instant card feeder. The in-process figure (EmulatorConnection, no PC/SC) is printed next to it.

The APDU count is printed next to what a writer limited to 255-byte short APDUs needs (a real
run with extended length disabled). Target: at most 150 ms wall time per card through pcscd.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.pki.trust import TrustStore
from cardkit.profile import load_profile
from cardkit.services.card_image import CardImage, ChipSecrets, secrets_aad
from cardkit.services.personalize import PersonalizeResult, personalize

ROOT = Path(__file__).resolve().parent.parent
PCSC_HELPER = ROOT / "tests" / "integration" / "pcsc.py"
PREPARE_BENCH = ROOT / "benchmarks" / "prepare.py"
PROFILE = "vn-cccd-2021"
TARGET_MS = 150.0


def _load(name: str, path: Path) -> ModuleType:
    """A helper module by file path (cardkit itself carries no test or benchmark helpers)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def make_images(n: int) -> tuple[list[tuple[CardImage, ChipSecrets]], TrustStore]:
    """``n`` card images of the sample citizens, prepared in memory, and the trust store."""
    bench = _load("cardkit_bench_prepare", PREPARE_BENCH)
    from cryptography.hazmat.primitives.asymmetric import ec

    from cardkit.pki.signer import LocalSigner

    profile = load_profile(PROFILE)
    pki = bench.make_pki()
    issuer = pki.issue(
        LocalSigner(ec.generate_private_key(ec.SECP256R1()), "bench-dsc"), "P-256", bench.P256
    )
    samples = bench.cycle(bench.load_samples(profile), n)
    images = []
    for i, sample in enumerate(samples):
        image = bench.prepare_card(
            sample.record,
            profile,
            issuer,
            card_id=f"bench-{i:05d}",
            photo=sample.photo,
            fingerprints=sample.fingers,
            signing_time=bench.NOW,
        )
        secrets = ChipSecrets.from_bytes(
            issuer.transport.decrypt(image.sealed, secrets_aad(image.card_id, image.sod))
        )
        images.append((image, secrets))
    return images, TrustStore((pki.csca,))


def _check(result: PersonalizeResult) -> PersonalizeResult:
    if result.status != "ok":
        raise SystemExit(f"{result.card_id}: read-back failed: {result.detail}")
    return result


def in_process(
    images: Sequence[tuple[CardImage, ChipSecrets]], trust: TrustStore, extended: bool | None
) -> tuple[list[float], list[PersonalizeResult]]:
    profile = load_profile(PROFILE)
    times, results = [], []
    for image, secrets in images:
        start = time.perf_counter()
        connection = EmulatorConnection(EmulatedCard())
        result = personalize(
            connection,
            image,
            secrets,
            profile,
            trust=trust,
            extended_length=extended,
        )
        times.append(time.perf_counter() - start)
        results.append(_check(result))
    return times, results


def through_pcscd(
    images: Sequence[tuple[CardImage, ChipSecrets]],
    trust: TrustStore,
    extended: bool | None,
    pcsc: ModuleType,
    workdir: Path,
    label: str,
) -> tuple[list[float], list[PersonalizeResult]]:
    from cardkit.transport.pcsc import open_reader

    profile = load_profile(PROFILE)
    times, results = [], []
    for i, (image, secrets) in enumerate(images):
        emulator = pcsc.Emulator(
            slot=0, state=workdir / f"{label}-{i}.state", log=workdir / f"{label}-{i}.log"
        )
        emulator.start()
        try:
            start = time.perf_counter()
            with open_reader(emulator.reader, timeout=10) as connection:
                result = personalize(
                    connection,
                    image,
                    secrets,
                    profile,
                    trust=trust,
                    extended_length=extended,
                )
            times.append(time.perf_counter() - start)
            results.append(_check(result))
        finally:
            emulator.stop()
    return times, results


def _row(name: str, times: list[float], results: list[PersonalizeResult]) -> None:
    mean = statistics.fmean(times)
    write_apdus = statistics.fmean(r.apdu_count for r in results)
    read_apdus = statistics.fmean(r.verdict.apdu_count for r in results)
    write_bytes = statistics.fmean(r.bytes_exchanged for r in results)
    read_bytes = statistics.fmean(r.verdict.bytes_exchanged for r in results)
    print(
        f"  {name:<34} {mean * 1000:7.1f} ms/card (median {statistics.median(times) * 1000:.1f},"
        f" max {max(times) * 1000:.1f})  {60 / mean:7.0f} cards/min  "
        f"APDUs {write_apdus:.0f} write + {read_apdus:.0f} read-back, "
        f"bytes {write_bytes:.0f} + {read_bytes:.0f}"
    )


def _phases(results: list[PersonalizeResult]) -> None:
    names = list(results[0].durations)
    parts = [
        f"{n} {statistics.fmean(r.durations[n] for r in results) * 1000:.1f} ms" for n in names
    ]
    print("    phases: " + ", ".join(parts))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=20, help="cards through pcscd (20)")
    parser.add_argument("--in-process-n", type=int, default=200, help="in-process cards (200)")
    parser.add_argument("--skip-pcscd", action="store_true", help="in-process figures only")
    args = parser.parse_args(argv)
    if args.n < 1 or args.in_process_n < 1:
        parser.error("-n and --in-process-n must be at least 1")

    print(f"cardkit personalize benchmark: profile {PROFILE}, sample citizens cycled")
    images, trust = make_images(max(args.n, args.in_process_n))
    sizes = sum(len(d) for d in images[0][0].files.values())
    print(f"card image: {len(images[0][0].files)} files, {sizes} bytes (first card)")

    print("in process (EmulatorConnection, no PC/SC):")
    times, results = in_process(images[: args.in_process_n], trust, None)
    _row("extended length", times, results)
    _phases(results)
    short_times, short_results = in_process(images[: args.in_process_n], trust, False)
    _row("short APDUs only (255 bytes)", short_times, short_results)

    if args.skip_pcscd:
        return 0
    pcsc = _load("cardkit_bench_pcsc", PCSC_HELPER)
    reason = pcsc.missing_reason()
    if reason is not None:
        print(f"through pcscd: skipped ({reason})")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="cardkit-bench-personalize-"))
    daemon = pcsc.start_pcscd(workdir, 1)
    try:
        print("through pcscd + vpcd onto `cardkit emulator start` (card handling excluded):")
        times, results = through_pcscd(images[: args.n], trust, None, pcsc, workdir, "ext")
        _row("extended length", times, results)
        _phases(results)
        short_n = max(1, min(args.n, 5))
        s_times, s_results = through_pcscd(images[:short_n], trust, False, pcsc, workdir, "short")
        _row(f"short APDUs only ({short_n} cards)", s_times, s_results)
        mean_ms = statistics.fmean(times) * 1000
        verdict = "met" if mean_ms <= TARGET_MS else "NOT met"
        print(f"target <= {TARGET_MS:.0f} ms/card through pcscd: {verdict} ({mean_ms:.1f} ms)")
    finally:
        daemon.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
