"""``cardkit mrz``: build an MRZ from its components, check one read from a file or stdin.

The MRZ is never taken as a command-line argument by ``check``: it derives the BAC keys, and an
argument ends up in the shell history and the process list. ``build`` prints the MRZ it made,
which is what it is asked for.
"""

from __future__ import annotations

from datetime import date, datetime

import click

from cardkit.cli.render import echo_json
from cardkit.encoding.mrz import (
    Td1,
    Td3,
    build_td1,
    build_td3,
    build_vn_td1,
    check,
    parse_mrz,
)

EXIT_INVALID = 1


def _parse_date(value: str, option: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("expected a date YYYY-MM-DD", param_hint=option) from None


def _parse_expiry(value: str | None) -> date | None:
    if value is None or value.lower() == "none":
        return None
    return _parse_date(value, "--expiry")


def _render(mrz: Td1 | Td3, as_json: bool) -> None:
    if as_json:
        out: dict[str, object] = {
            "format": "TD1" if isinstance(mrz, Td1) else "TD3",
            "lines": list(mrz.lines),
            "vn_id_number": mrz.vn_id_number if isinstance(mrz, Td1) else None,
        }
        echo_json("mrz.build", out)
    else:
        click.echo(str(mrz))


@click.group()
def mrz() -> None:
    """Build and check machine readable zones (ICAO 9303 TD1 and TD3)."""


@mrz.command()
@click.option(
    "--id-number",
    help="12-digit Vietnamese ID number: builds the CCCD TD1 layout (DOMAIN.md §3).",
)
@click.option("--document-number", help="Document number (generic TD1/TD3 layout).")
@click.option("--name", "full_name", help="Full name, surname first (Vietnamese order).")
@click.option("--surname", help="Primary identifier (instead of --name).")
@click.option("--given-names", default="", help="Secondary identifier (with --surname).")
@click.option("--dob", required=True, help="Date of birth, YYYY-MM-DD.")
@click.option("--sex", required=True, type=click.Choice(["M", "F", "X"], case_sensitive=False))
@click.option("--expiry", default=None, help="Date of expiry YYYY-MM-DD, or 'none'.")
@click.option(
    "--no-expiry",
    default="991231",
    show_default=True,
    help="MRZ date written when --expiry is none on a CCCD (the profile's mrz_no_expiry).",
)
@click.option("--td3", is_flag=True, help="Build a passport-size TD3 (2 × 44) instead of a TD1.")
@click.option("--document-code", default=None, help="Document code (default ID, I< or P<).")
@click.option("--issuing-state", default=None, help="Three-letter code (default VNM or UTO).")
@click.option("--nationality", default=None, help="Three-letter code (default: issuing state).")
@click.option("--optional-data", default="", help="Optional data (generic layout).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def build(
    id_number: str | None,
    document_number: str | None,
    full_name: str | None,
    surname: str | None,
    given_names: str,
    dob: str,
    sex: str,
    expiry: str | None,
    no_expiry: str,
    td3: bool,
    document_code: str | None,
    issuing_state: str | None,
    nationality: str | None,
    optional_data: str,
    as_json: bool,
) -> None:
    """Build an MRZ and print its lines.

    With --id-number and --name, the Vietnamese CCCD TD1; otherwise a generic TD1 (or TD3 with
    --td3) from --document-number and --surname/--given-names (or --name, surname first).
    """
    date_of_birth = _parse_date(dob, "--dob")
    date_of_expiry = _parse_expiry(expiry)
    if (id_number is None) == (document_number is None):
        raise click.UsageError("give exactly one of --id-number and --document-number")
    if (full_name is None) == (surname is None):
        raise click.UsageError("give exactly one of --name and --surname")
    if id_number is not None:
        if td3 or surname is not None or optional_data:
            raise click.UsageError(
                "--id-number builds the CCCD TD1 from --name: --td3, --surname and "
                "--optional-data do not apply"
            )
        assert full_name is not None
        state = issuing_state or "VNM"
        result: Td1 | Td3 = build_vn_td1(
            id_number,
            full_name,
            date_of_birth,
            sex,
            date_of_expiry,
            no_expiry=no_expiry,
            issuing_state=state,
            document_code=document_code or "ID",
            nationality=nationality or state,
        )
        _render(result, as_json)
        return
    assert document_number is not None
    if full_name is not None:
        primary, _, secondary = full_name.strip().partition(" ")
    else:
        assert surname is not None
        primary, secondary = surname, given_names
    state = issuing_state or "UTO"
    if td3:
        result = build_td3(
            document_code=document_code or "P<",
            issuing_state=state,
            document_number=document_number,
            date_of_birth=date_of_birth,
            sex=sex,
            date_of_expiry=date_of_expiry,
            nationality=nationality or state,
            primary_identifier=primary,
            secondary_identifier=secondary,
            optional_data=optional_data,
        )
    else:
        result = build_td1(
            document_code=document_code or "I<",
            issuing_state=state,
            document_number=document_number,
            date_of_birth=date_of_birth,
            sex=sex,
            date_of_expiry=date_of_expiry,
            nationality=nationality or state,
            primary_identifier=primary,
            secondary_identifier=secondary,
            optional_data=optional_data,
        )
    _render(result, as_json)


def _read_source(source: str) -> str:
    try:
        with click.open_file(source, encoding="utf-8") as handle:
            text: str = handle.read()
            return text
    except (OSError, UnicodeDecodeError) as exc:
        # Do not repeat the argument: someone may have pasted the MRZ itself.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise click.BadParameter(
            f"cannot read the file ({reason}); the MRZ is read from a file or from stdin (-), "
            "never from the command line",
            param_hint="SOURCE",
        ) from None


@mrz.command("check")
@click.argument("source", default="-")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_command(source: str, as_json: bool) -> None:
    """Check the MRZ in SOURCE (a file, or - for stdin): every check digit and field.

    Prints every problem found; exit status 0 when the MRZ is valid, 1 when it is not.
    The MRZ itself is never printed.
    """
    text = _read_source(source)
    problems = check(text)
    kind = None
    if not problems:
        kind = "TD1" if isinstance(parse_mrz(text), Td1) else "TD3"
    if as_json:
        echo_json(
            "mrz.check",
            {"valid": not problems, "format": kind, "problems": [p.as_dict() for p in problems]},
        )
    elif problems:
        for problem in problems:
            click.echo(problem.message)
    else:
        click.echo(f"valid {kind} MRZ: every check digit matches")
    if problems:
        click.get_current_context().exit(EXIT_INVALID)
