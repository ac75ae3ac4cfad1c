"""`cardkit lds`: build the LDS files of a record, and decode/dump LDS files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from cardkit.errors import CardkitError
from cardkit.lds.decode import decode_file
from cardkit.profile import load_profile

EXIT_PROBLEMS = 1


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


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _lds_paths(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path]


@lds.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def dump(path: Path, as_json: bool) -> None:
    """Decode an LDS file, or every file in a folder, and show its content.

    Files are recognised by their content (leading tag), not by their names. A file that does not
    decode is reported and the others are still shown; the exit code is then 1.
    """
    results: list[dict[str, object]] = []
    failed = False
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
        results.append(entry)

    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2, default=_json_default))
    else:
        for entry in results:
            if "error" in entry:
                click.echo(f"{entry['path']}: ERROR {entry['error']}")
                continue
            click.echo(f"== {entry['file']} ({entry['size']} bytes) {entry['path']}")
            for line in render(entry["content"], 1):
                click.echo(line)
    if failed:
        raise SystemExit(EXIT_PROBLEMS)
