"""`cardkit prepare` (records → signed card images) and `cardkit verify-files`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from cardkit.cli.exits import EXIT_PROBLEMS
from cardkit.cli.inspection import load_inspection_inputs
from cardkit.cli.options import keys_option, password_option, policy_options, trust_options
from cardkit.cli.render import check_table, echo_json, verdict_line
from cardkit.pki.secrets import read_secret
from cardkit.profile import load_profile
from cardkit.records.images import ImageChecks
from cardkit.report import Verdict
from cardkit.services.pki_admin import Pki
from cardkit.services.prepare import Outcome, Status, prepare_batch
from cardkit.services.verify_files import verify_files

STATUSES: tuple[Status, ...] = ("prepared", "skipped", "rejected", "failed")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@click.command()
@click.argument("records_file", metavar="RECORDS", type=click.Path(exists=True, path_type=Path))
@click.option("--profile", "profile_name", default="vn-cccd-2021", show_default=True)
@keys_option("the Document Signer and the transport key")
@password_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary for scripts.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes that validate the records (signing stays in this one, in order).",
)
@click.option(
    "--decode-images",
    is_flag=True,
    help="Also decode each photo and fingerprint (at reduced size) when validating, not only "
    "check that the file is whole and well formed (as records check --decode-images).",
)
def prepare(
    records_file: Path,
    profile_name: str,
    keys_dir: Path,
    password_from: str | None,
    out_dir: Path,
    as_json: bool,
    jobs: int,
    decode_images: bool,
) -> None:
    """Prepare a signed card image for every valid record of RECORDS.

    Invalid records are reported with all their problems and skipped; records already prepared
    in OUT are skipped, so running the command again after an interruption completes the batch.
    Exit code 1 when any record was rejected or failed.
    """
    profile = load_profile(profile_name)
    secret = read_secret(password_from, "key password") if password_from else None
    pki = Pki.open(keys_dir, secret)
    issuer = pki.issuer()
    cvca = None
    if profile.access.terminal_authentication:
        from cardkit.services.eac_admin import trust_point

        cvca = trust_point(keys_dir)
        if cvca is None:
            click.echo(
                f"warning: profile {profile.name} has terminal authentication but {keys_dir} "
                "has no CV PKI (cardkit eac init): the chips get no trust point and no terminal "
                "will read their fingerprints",
                err=True,
            )

    show_bar = not as_json and sys.stderr.isatty()
    bar: Any = None

    def progress(outcome: Outcome, done: int, total: int) -> None:
        nonlocal bar
        if show_bar:
            if bar is None:
                bar = click.progressbar(length=total, label="preparing", file=sys.stderr)
                bar.__enter__()
            bar.update(1)

    try:
        summary = prepare_batch(
            records_file,
            profile,
            issuer,
            out_dir,
            today=date.today(),
            clock=_now,
            audit=pki.config.audit,
            progress=progress,
            jobs=jobs,
            images=ImageChecks(depth="decode" if decode_images else "structure"),
            cvca_certificate=cvca,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)

    if as_json:
        echo_json(
            "prepare",
            {
                "file": str(records_file),
                "out": str(out_dir),
                "counts": {s: summary.count(s) for s in STATUSES},
                "records": [{**o.__dict__, "problems": list(o.problems)} for o in summary.outcomes],
            },
        )
    else:
        for outcome in summary.outcomes:
            if outcome.status in ("rejected", "failed"):
                click.echo(f"{records_file}:{outcome.row}: {outcome.status}: {outcome.detail}")
                for problem in outcome.problems:
                    click.echo(f"    {problem}")
        counts = ", ".join(f"{summary.count(s)} {s}" for s in STATUSES)
        click.echo(f"{len(summary.outcomes)} records: {counts}; card images in {out_dir}/")
    if not summary.ok:
        raise SystemExit(EXIT_PROBLEMS)


@click.command("verify-files")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@trust_options
@policy_options
@click.option("--json", "as_json", is_flag=True)
@click.option("--quiet", is_flag=True, help="Only the verdict line per card.")
def verify_files_command(
    path: Path,
    trust: Path | None,
    masterlist: Path | None,
    crls: tuple[Path, ...],
    deny_list: Path | None,
    profile_name: str | None,
    policy_name: str | None,
    require_crl: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Passive authentication of card images (or LDS files read earlier): every DG hash, the
    SOD signature, the Document Signer's role and chain to a trusted CSCA, the algorithm
    policy, CRLs and dates, the content checks and the data groups the profile mandates.

    PATH is one card image, a folder of LDS files, or a folder of card images (a batch).
    Exit code 0 when every card is VALID, 1 otherwise, 2 when an input (trust folder, master
    list, CRL, deny list, profile) is unusable.
    """
    if trust is None:
        raise click.UsageError("give --trust: without trust anchors nothing verifies")
    inputs = load_inspection_inputs(
        trust, masterlist, crls, deny_list, profile_name, policy_name, require_crl
    )
    results = verify_files(
        path, inputs.trust, _now(), deny_list=inputs.deny_list, policy=inputs.policy,
        profile=inputs.profile, require_crl=inputs.require_crl,
    )  # fmt: skip
    if not results:
        raise click.UsageError(f"no card image or LDS files found in {path}")
    emit: Callable[[str], None] = click.echo
    if as_json:
        cards = [{"path": str(r.path), **r.report.to_dict()} for r in results]
        echo_json("verify-files", {"path": str(path), "cards": cards})
    else:
        for result in results:
            emit(verdict_line(str(result.path), result.report))
            if not quiet:
                for line in check_table(result.report):
                    emit(line)
        valid = sum(1 for r in results if r.report.verdict is Verdict.VALID)
        emit(f"{valid} of {len(results)} card(s) VALID")
    if any(r.report.verdict is not Verdict.VALID for r in results):
        raise SystemExit(EXIT_PROBLEMS)
