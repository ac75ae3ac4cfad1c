"""How fast records are checked, per core (``python benchmarks/records.py -n 20000``).

What is timed is what ``cardkit records check`` does: read a CSV file (streaming,
:func:`cardkit.records.iter_records`), validate every record and flag repeated ID numbers
(:func:`cardkit.records.validate_stream`); nothing is printed. The file holds N synthetic rows:
the records of ``profiles/samples/citizens.csv`` cycled, each with its own ID number (same
place, sex and birth year, serial = the row), all valid.

Image checks, one configuration each:

- ``none``: no image is looked at (the text rules, dates, ID number, duplicates and the loader);
- ``shared``: the sample images as they are (32 photos, 6 fingerprints), so each is checked
  once per process and every other row hits the cache: a batch whose rows share images;
- ``distinct``: every row its own photo and fingerprint files (hard links to the samples under
  a temporary folder, so every file is checked: the population case), at the default depth:
  the structural walk (:mod:`cardkit.records.structure`). The files are in the page cache: this
  measures the checks, not the disk;
- ``distinct, decode``: the same at depth ``decode`` (``records check --decode-images``: the
  walk, then a reduced-size decode, the default check before the walk);
- ``distinct, full decode``: every pixel decoded (depth ``full``, the check before either), for
  comparison.

Each configuration runs with ``--jobs`` 1 and 2 (worker processes; the parent reads the file and
flags duplicates) and is repeated (``--repeat``): rows/s are printed min–median–max, and per
core (divided by the workers). Pin one-job runs with ``taskset -c 0`` (see benchmarks/README.md).
``--profile`` adds a cProfile of one ``distinct`` run in process.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

from PIL import Image

from cardkit.profile import Profile, load_profile
from cardkit.records import ImageChecks, iter_records, validate_stream
from cardkit.records.images import DEPTHS, Depth, probe

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "profiles" / "samples"
PROFILE = "vn-cccd-2021"
TODAY = date(2026, 11, 1)  # the samples' dates of issue go up to this day
TARGET = 5000.0  # records/s per core with image checks


class NoImageChecks(ImageChecks):
    """Looks at no file: the cost of everything else."""

    def problem(self, path: str | Path, min_size: tuple[int, int] | None) -> None:
        return None


def write_records(path: Path, n: int, images: Path | None) -> Path:
    """N valid rows; with ``images``, each row gets its own hard links to (or copies of) its
    sample images."""
    if n > 10**6:
        raise SystemExit("-n: at most 1,000,000 rows (the ID serial has 6 digits)")
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        samples = list(reader)
    if images is not None:
        images.mkdir()
    rows = []
    for i in range(n):
        row = dict(samples[i % len(samples)])
        row["id_number"] = row["id_number"][:6] + f"{i:06d}"  # distinct, same place/sex/year
        row["old_id_number"] = ""
        for key in ("photo_path", "fingerprint_paths"):
            parts = [SAMPLES / p for p in (row.get(key) or "").split(";") if p]
            if images is not None:
                linked = []
                for k, part in enumerate(parts):
                    link = images / f"{i:07d}-{key[0]}{k}{part.suffix}"
                    try:
                        os.link(part, link)
                    except OSError:  # another file system: a copy checks the same
                        shutil.copyfile(part, link)
                    linked.append(link)
                parts = linked
            row[key] = ";".join(str(p) for p in parts)
        rows.append(row)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


@dataclass(frozen=True)
class Row:
    name: str
    jobs: int
    n: int
    rates: tuple[float, ...]  # records/s, one per repeat

    def line(self) -> str:
        lo, med, hi = min(self.rates), statistics.median(self.rates), max(self.rates)
        return (
            f"{self.name:34} {self.jobs:4d} {self.n:7d} {lo:7.0f} {med:7.0f} {hi:7.0f}"
            f" {med / self.jobs:8.0f}"
        )


def check(records: Path, profile: Profile, jobs: int, images: ImageChecks) -> int:
    """One ``records check`` without output; the number of bad records (0 expected)."""
    bad = 0
    for result in validate_stream(iter_records(records), profile, TODAY, jobs=jobs, images=images):
        bad += not result.ok
    return bad


def measure(
    name: str,
    records: Path,
    profile: Profile,
    jobs: int,
    n: int,
    repeat: int,
    images: Callable[[], ImageChecks],
) -> Row:
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        bad = check(records, profile, jobs, images())
        rates.append(n / (time.perf_counter() - start))
        if bad:
            raise SystemExit(f"{name}: {bad} records do not validate; the benchmark is broken")
    return Row(name, jobs, n, tuple(rates))


def checks_at(depth: Depth) -> ImageChecks:
    return ImageChecks(depth=depth)


def probe_costs(repeat: int = 200) -> list[str]:
    """Microseconds per file for each way of checking one sample image (median of runs)."""
    photo = SAMPLES / "photos" / "citizen-01.jpg"
    finger = SAMPLES / "fingerprints" / "finger-01.png"
    with tempfile.TemporaryDirectory() as tmp:
        jp2 = Path(tmp) / "citizen-01.jp2"
        with Image.open(photo) as im:
            buffer = io.BytesIO()
            im.save(buffer, "JPEG2000")
        jp2.write_bytes(buffer.getvalue())
        lines = [f"  {'':30}" + "".join(f"{depth:>12}" for depth in DEPTHS)]
        for label, path, count in (
            ("JPEG 480x640 photo", photo, repeat),
            ("PNG 256x320 fingerprint", finger, repeat),
            ("JPEG 2000 480x640 (lossless)", jp2, max(1, repeat // 20)),
        ):
            costs = []
            for depth in DEPTHS:
                runs = count if depth == "structure" else max(1, count // 4)
                costs.append(_per_file(partial(probe, path, depth), runs))
            lines.append(f"  {label:30}" + "".join(f"{us:9.1f} us" for us in costs))
        return lines


def _per_file(run: Callable[[], object], count: int) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(count):
            run()
        times.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(times)


def profile_run(records: Path, profile: Profile) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    check(records, profile, 1, ImageChecks())
    profiler.disable()
    print("\ncProfile of one 'distinct' run, --jobs 1 (cProfile inflates small Python calls):")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    text = out.getvalue()
    print(text[text.index("   ncalls") :].rstrip())


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU model unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=20000, help="rows per file (20000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (3)")
    parser.add_argument("--jobs", default="1,2", help="worker counts to run (1,2)")
    parser.add_argument("--skip-full", action="store_true", help="leave out the full decode")
    parser.add_argument("--profile", action="store_true", help="cProfile one distinct run")
    args = parser.parse_args(argv)
    jobs_list = [int(j) for j in args.jobs.split(",")]

    profile = load_profile(PROFILE)
    cpus = len(os.sched_getaffinity(0))
    print(f"cardkit records benchmark: profile {PROFILE}, {args.n} rows, {args.repeat} runs each")
    print(f"python {sys.version.split()[0]}, CPUs allowed {cpus}, {_cpu_model()}")
    if cpus > 1 and 1 in jobs_list:
        print("  pin one-job runs for per-core figures: taskset -c 0 ... --jobs 1")

    print("\nOne image file checked, each depth (median of 5 runs):")
    for line in probe_costs():
        print(line)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shared = write_records(folder / "shared.csv", args.n, None)
        distinct = write_records(folder / "distinct.csv", args.n, folder / "images")
        configurations: list[tuple[str, Path, Callable[[], ImageChecks]]] = [
            ("none (no image checks)", shared, NoImageChecks),
            ("shared (sample images, cached)", shared, ImageChecks),
            ("distinct, structure [default]", distinct, ImageChecks),
            ("distinct, decode (--decode-images)", distinct, partial(checks_at, "decode")),
        ]
        if not args.skip_full:
            configurations.append(("distinct, full decode", distinct, partial(checks_at, "full")))
        print(f"\n{'image checks':34} {'jobs':>4} {'N':>7} {'min':>7} {'median':>7} {'max':>7}")
        print(f"{'':34} {'':4} {'':7} {'records/s':>23} {'per core':>8}")
        rows = []
        for name, records, images in configurations:
            for jobs in jobs_list:
                row = measure(name, records, profile, jobs, args.n, args.repeat, images)
                rows.append(row)
                print(row.line(), flush=True)
        load_rates = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            count = sum(1 for _ in iter_records(shared))
            load_rates.append(count / (time.perf_counter() - start))
        print(f"\nloading only (iter_records, CSV): {statistics.median(load_rates):.0f} records/s")
        if args.profile:
            profile_run(distinct, profile)

    best = max(statistics.median(r.rates) / r.jobs for r in rows if r.name.endswith("[default]"))
    print(
        f"\nTarget {TARGET:.0f} records/s per core with image checks; distinct files per row, "
        f"default checks: {best:.0f} ({'met' if best >= TARGET else 'not met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
