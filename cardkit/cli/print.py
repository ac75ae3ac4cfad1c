"""`cardkit print`: card faces as a print-ready PDF (and PNGs per face)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from cardkit.cli.exits import EXIT_PROBLEMS
from cardkit.cli.render import echo_json
from cardkit.services.printing import print_path


@click.command("print")
@click.argument(
    "source", metavar="CARD_IMAGE_OR_RECORDS", type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "--out", "out_pdf", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="The PDF to write.",
)  # fmt: skip
@click.option(
    "--png", "png_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Also write <card_id>-front.png and <card_id>-back.png into this folder.",
)  # fmt: skip
@click.option("--dpi", type=click.Choice(["300", "600"]), default="300", show_default=True)
@click.option(
    "--sheet", type=click.Choice(["card", "a4"]), default="card", show_default=True,
    help="card: one face per page at card size; a4: proof sheets with crop marks.",
)  # fmt: skip
@click.option(
    "--profile", "profile_name", default=None,
    help="Profile with the [layout] (default: the card image's own, else vn-cccd-2021).",
)  # fmt: skip
@click.option(
    "--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
    help="Reference day for validating a records file (default: today).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary for scripts.")
def print_command(
    source: Path,
    out_pdf: Path,
    png_dir: Path | None,
    dpi: str,
    sheet: str,
    profile_name: str | None,
    today: datetime | None,
    as_json: bool,
) -> None:
    """Print the card faces of CARD_IMAGE_OR_RECORDS: a card image, a folder of card images
    (a prepared batch) or a records file (CSV, JSON, JSON Lines; only valid records are printed,
    the others are reported). Exit code 1 when any record or card was left out."""
    day = today.date() if today is not None else date.today()
    summary = print_path(
        source,
        out_pdf,
        profile=profile_name,
        png_dir=png_dir,
        dpi=int(dpi),
        sheet=sheet,
        today=day,
    )
    if as_json:
        echo_json(
            "print",
            {
                "pdf": str(summary.pdf),
                "pages": summary.pages,
                "printed": list(summary.printed),
                "pngs": [str(p) for p in summary.pngs],
                "skipped": [{**s.__dict__, "problems": list(s.problems)} for s in summary.skipped],
            },
        )
    else:
        for skipped in summary.skipped:
            click.echo(f"{skipped.source}: {skipped.detail}")
            for problem in skipped.problems:
                click.echo(f"    {problem}")
        where = f" and {len(summary.pngs)} PNGs in {png_dir}/" if png_dir else ""
        click.echo(
            f"{len(summary.printed)} card(s) printed to {summary.pdf} ({summary.pages} pages)"
            f"{where}; {len(summary.skipped)} left out"
        )
    if not summary.ok:
        raise SystemExit(EXIT_PROBLEMS)
