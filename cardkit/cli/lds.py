"""`cardkit lds`: build the LDS files of a record, and decode/dump LDS files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric import ec

from cardkit.cli.exits import EXIT_PROBLEMS
from cardkit.cli.render import echo_json
from cardkit.errors import CardkitError, EncodingError
from cardkit.lds import files
from cardkit.lds.build import ChipPublicKeys
from cardkit.lds.decode import decode_file
from cardkit.profile import load_profile
from cardkit.services.card_image import MANIFEST, SEALED, TRUST_POINT
from cardkit.services.lds_build import (
    build_record_files,
    load_public_key,
    select_record,
    write_files,
)


@click.group()
def lds() -> None:
    """Build and inspect LDS files (EF.COM, EF.SOD, DG1–DG16, EF.CardAccess)."""


def render(value: object, indent: int = 0) -> list[str]:
    """Render a ``describe()`` tree as indented ``key: value`` lines."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(render(item, indent + 1))
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and item:
                sub = render(item, indent + 1)
                lines.append(f"{pad}- {sub[0].strip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return lines


def _scalar(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex().upper()
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return "(none)"
    return str(value)


def _lds_paths(path: Path) -> list[Path]:
    """The files to decode: ``path`` itself, or a folder's files (a card image's manifest, sealed
    secrets and EAC trust point — a CV certificate: `cardkit eac show` — are not LDS files and
    are left out)."""
    if not path.is_dir():
        return [path]
    return sorted(
        p
        for p in path.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and p.name not in (MANIFEST, SEALED, TRUST_POINT)
    )


@lds.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--fingers-out",
    "fingers_out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write DG3's finger images here as PNG (DG3-right-index.png …).",
)
def dump(path: Path, as_json: bool, fingers_out: Path | None) -> None:
    """Decode an LDS file, or every file in a folder, and show its content.

    Files are recognised by their content (leading tag), not by their names. A file that does not
    decode is reported and the others are still shown; the exit code is then 1. DG3 shows each
    finger image record: position, format, size and dimensions.
    """
    results: list[dict[str, object]] = []
    failed = False
    written: list[Path] = []
    for file in _lds_paths(path):
        entry: dict[str, object] = {"path": str(file)}
        try:
            spec, content = decode_file(file.read_bytes())
        except CardkitError as exc:
            failed = True
            entry["error"] = str(exc)
        except OSError as exc:
            failed = True
            entry["error"] = f"cannot read: {exc.strerror}"
        else:
            entry.update(file=spec.name, size=len(content.raw), content=content.describe())
            if fingers_out is not None and spec == files.dg(3):
                from cardkit.services.fingerprints import write_finger_images

                try:
                    written += write_finger_images(content.raw, fingers_out)
                except CardkitError as exc:
                    failed = True
                    entry["error"] = f"finger images: {exc}"
        results.append(entry)
    order = {spec.name: i for i, spec in enumerate(files.ALL_FILES)}
    results.sort(key=lambda e: (order.get(str(e.get("file")), len(order)), str(e["path"])))

    if as_json:  # a list of files, whether PATH is one file or a folder
        echo_json("lds.dump", {"path": str(path), "files": results})
    else:
        for entry in results:
            if "error" in entry:
                click.echo(f"{entry['path']}: ERROR {entry['error']}")
                continue
            click.echo(f"== {entry['file']} ({entry['size']} bytes) {entry['path']}")
            for line in render(entry["content"], 1):
                click.echo(line)
        for written_path in written:
            click.echo(f"wrote {written_path}")
    if failed:
        raise SystemExit(EXIT_PROBLEMS)


@lds.command()
@click.argument("records_file", metavar="RECORDS", type=click.Path(exists=True, path_type=Path))
@click.option("--profile", "profile_name", default="vn-cccd-2021", show_default=True)
@click.option("--row", type=int, help="The record's row, as `records check` numbers it.")
@click.option("--id-number", help="Pick the record by its 12-digit ID number instead.")
@click.option(
    "--ca-public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM EC public key of the chip's chip-authentication key (adds DG14).",
)
@click.option(
    "--aa-public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM public key of the chip's active-authentication key (adds DG15).",
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def build(
    records_file: Path,
    profile_name: str,
    row: int | None,
    id_number: str | None,
    ca_public_key: Path | None,
    aa_public_key: Path | None,
    out_dir: Path,
) -> None:
    """Build the LDS files of one record (EF.SOD excepted: it is signed by the PKI).

    Without the chip's public keys, DG14 and DG15 are left out and EF.COM does not list them.
    """
    profile = load_profile(profile_name)
    chosen = select_record(records_file, profile, date.today(), row=row, id_number=id_number)
    if chosen.record is None:
        for problem in chosen.problems:
            click.echo(f"row {problem.row}: {problem.field}: {problem.message}", err=True)
        raise click.ClickException(f"row {chosen.raw.row} is not a valid record")
    keys = None
    if ca_public_key or aa_public_key:
        ca = load_public_key(ca_public_key) if ca_public_key else None
        if ca is not None and not isinstance(ca, ec.EllipticCurvePublicKey):
            raise EncodingError(f"{ca_public_key}: chip authentication needs an EC key")
        aa = load_public_key(aa_public_key) if aa_public_key else None
        keys = ChipPublicKeys(chip_authentication=ca, active_authentication=aa)
    built = build_record_files(chosen.record, profile, keys)
    for path in write_files(built, out_dir):
        click.echo(f"wrote {path} ({path.stat().st_size} bytes)")
