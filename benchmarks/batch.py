"""How fast a journaled batch runs (``python benchmarks/batch.py -n 200``).

A batch of ``n`` distinct records (the sample citizens with distinct ID numbers) runs through
:func:`cardkit.batch.runner.run_batch` end to end — prepare (chip keys, LDS, EF.SOD signature,
sealed card image written to disk), personalize an emulated chip (in process: cards come from an
instant card feeder, so card handling time is excluded), read-back check, journal commits — on
one station, then on two stations (two processes sharing one journal). Prints cards per minute
and the journal's share of each station's wall time (target: at most 5 %).

The journal is SQLite in a temporary folder (WAL, synchronous=FULL: every transition is
fsynced), or the PostgreSQL database given with ``--journal postgresql://...`` (it must be
empty or hold only earlier benchmark batches).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "profiles" / "samples"
TARGET_SHARE = 0.05


def write_records(path: Path, n: int) -> Path:
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        samples = list(reader)
    rows = []
    for i in range(n):
        row = dict(samples[i % len(samples)])
        row["id_number"] = row["id_number"][:6] + f"{i:06d}"  # distinct, same province/sex/year
        row["old_id_number"] = ""
        for key in ("photo_path", "fingerprint_paths"):
            parts = [p for p in (row.get(key) or "").split(";") if p]
            row[key] = ";".join(str(SAMPLES / p) for p in parts)
        rows.append(row)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


class InstantStation:
    """A fresh blank emulated chip whenever asked (an instant card feeder)."""

    name = "in-process emulator"

    def wait_for_card(self, stop: threading.Event) -> object | None:
        from cardkit.emulator.card import EmulatedCard, EmulatorConnection

        return None if stop.is_set() else EmulatorConnection(EmulatedCard())

    def release(self, connection: object) -> None:
        pass


def station(args: tuple[str, Path, str, Path]) -> dict[str, float]:
    journal_url, records, name, workdir = args
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from cardkit.batch.journal import open_journal
    from cardkit.batch.runner import BatchSettings, run_batch
    from cardkit.pki import certs
    from cardkit.pki.keystore.transport import FileTransportKey
    from cardkit.pki.signer import LocalSigner, SignatureScheme
    from cardkit.pki.trust import TrustStore
    from cardkit.profile import load_profile
    from cardkit.services.prepare import Issuer

    now = datetime.now(UTC)
    scheme = SignatureScheme("sha256")
    csca_signer = LocalSigner(ec.generate_private_key(ec.SECP384R1()), "csca")
    csca = certs.create_csca(
        csca_signer, country="VN", common_name="CSCA VN bench", serial=certs.new_serial_number(),
        not_before=now - timedelta(days=1), not_after=now + timedelta(days=6000),
        private_key_usage_end=now + timedelta(days=1000), scheme=scheme,
    )  # fmt: skip
    dsc_key = ec.generate_private_key(ec.SECP256R1())
    dsc = certs.issue_dsc(
        csca_signer, csca, dsc_key.public_key(), common_name=f"DS VN bench {name}",
        serial=certs.new_serial_number(), not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=5000), private_key_usage_end=now + timedelta(days=365),
        scheme=scheme,
    )  # fmt: skip
    transport = FileTransportKey("tk-bench", AESGCM(os.urandom(32)))
    settings = BatchSettings(
        records_file=records,
        profile=load_profile("vn-cccd-2021"),
        issuer=Issuer(LocalSigner(dsc_key, "bench-dsc"), dsc, transport),
        transport=transport,
        workdir=workdir,
        station=name,
        today=date.today(),
        clock=lambda: datetime.now(UTC),
        trust=TrustStore((csca,)),
    )
    journal = open_journal(journal_url)
    try:
        stats = run_batch(journal, settings, InstantStation())  # type: ignore[arg-type]
    finally:
        journal.close()
    return {
        "cards": stats.verified,
        "seconds": stats.seconds,
        "journal_seconds": stats.journal_seconds,
        "journal_calls": stats.journal_calls,
    }


def bench(n: int, stations: int, journal: str | None, tmp: Path) -> None:
    folder = tmp / f"stations-{stations}"
    folder.mkdir()
    records = write_records(folder / f"bench{stations}.csv", n)
    url = journal or str(folder / "journal.sqlite")
    jobs = [(url, records, f"bench-{i}", folder / f"work-{i}") for i in range(stations)]
    start = time.perf_counter()
    if stations == 1:
        results = [station(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(stations) as pool:
            results = pool.map(station, jobs)
    wall = time.perf_counter() - start
    cards = sum(r["cards"] for r in results)
    share = max(r["journal_seconds"] / r["seconds"] for r in results if r["seconds"])
    calls = sum(r["journal_calls"] for r in results)
    verdict = "OK" if share <= TARGET_SHARE else "ABOVE TARGET"
    print(
        f"{stations} station(s): {cards} cards in {wall:.1f} s = {cards / wall * 60:.0f} cards/min;"
        f" journal {calls} calls, {share * 100:.2f} % of a station's time "
        f"(target ≤ {TARGET_SHARE * 100:.0f} %: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="records per batch (default 200)")
    parser.add_argument("--journal", help="postgresql://... (default: SQLite in a temp folder)")
    parser.add_argument("--stations", default="1,2", help="station counts to run (default 1,2)")
    args = parser.parse_args()
    print(f"batch of {args.n} records, journal {'PostgreSQL' if args.journal else 'SQLite'}")
    with tempfile.TemporaryDirectory(prefix="cardkit-bench-batch-") as tmp:
        for count in (int(s) for s in args.stations.split(",")):
            bench(args.n, count, args.journal, Path(tmp))


if __name__ == "__main__":
    main()
