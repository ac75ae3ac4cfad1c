"""``cardkit verify``: inspect a chip ID card at a checkpoint and give a verdict.

The MRZ or CAN opens the chip, so it is a secret: like ``cardkit read`` it comes from a secret
spec (``--mrz-from`` / ``--can-from``: ``prompt``, ``stdin`` or ``-``, ``env:VAR``,
``file:PATH``), never from a plain argument. With ``--watch`` the spec is read again for every
card: ``prompt`` asks each time, a file is re-read (a document scanner can write it), and
standard input gives one line per card (the MRZ on one line, or the CAN).

``--watch`` is made for a checkpoint screen: one line per card — verdict, name, ID number and
the checks that decided it (:func:`cardkit.cli.render.card_line`), or the access-denied
message — and the full table with ``--details``. ``--json`` prints one ``cardkit.verify``
object per card, one per line (JSON Lines; ``cardkit.verify.error`` for a card that could not
be inspected at all; docs/SCHEMAS.md).

``--photo-out FILE`` saves the face. The chip's bytes are written unchanged when the extension
matches the chip's format (``.jpg``/``.jpeg`` for JPEG, ``.jp2`` for JPEG 2000); any other
extension (``.png`` …) converts the image with Pillow — the way to get a JPEG 2000 face
(which browsers do not show) as a PNG. In watch mode ``FILE`` gets ``-N`` before its extension.

Exit codes: 0 VALID, 1 INVALID or INCOMPLETE, 2 usage error or unusable input (trust store,
deny list, profile), 3 reader or card error (no reader, no card, card removed) and a CAN/MRZ
the chip refuses ("access denied: the CAN does not open this card — enter it again"; the
verdict is INCOMPLETE: a mistyped key is not a forgery). ``--watch`` runs until Ctrl-C and
then exits 0.
"""

from __future__ import annotations

import datetime
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cardkit.cli.exits import EXIT_CARD, EXIT_OK, EXIT_PROBLEMS, exit_code_for
from cardkit.cli.options import (
    access_key_options,
    load_terminal,
    policy_options,
    reader_option,
    terminal_options,
    trust_options,
)
from cardkit.cli.render import card_line, check_table, echo_json, error_line, verdict_line
from cardkit.errors import CardkitError, ImageError, KeyStoreError
from cardkit.report import Verdict

if TYPE_CHECKING:
    from cardkit.cli.inspection import InspectionInputs
    from cardkit.services.person import PersonalData
    from cardkit.services.read import AccessKey
    from cardkit.services.verify import Face, Inspection
    from cardkit.transport.pcsc import PcscConnection


# The library is imported when a card is inspected, not when this module is: `cardkit verify
# --help` then needs click alone (issue 12 §7). Module-level names keep tests able to
# substitute the reader.


def open_reader(spec: str | None, *, timeout: float = 0) -> PcscConnection:
    from cardkit.transport import pcsc

    return pcsc.open_reader(spec, timeout=timeout)


def select_reader(spec: str | None) -> str:
    from cardkit.transport import pcsc

    return pcsc.select_reader(spec)


def verify_card(*args: Any, **kwargs: Any) -> Inspection:
    from cardkit.services import verify as service

    return service.verify_card(*args, **kwargs)


def watch_reader(*args: Any, **kwargs: Any) -> int:
    from cardkit.services import verify as service

    return service.watch_reader(*args, **kwargs)


def load_inspection_inputs(*args: Any) -> InspectionInputs:
    from cardkit.cli import inspection

    return inspection.load_inspection_inputs(*args)


def _access_key(*args: str | None) -> AccessKey:
    from cardkit.cli import read

    return read._access_key(*args)


def _read_mrz(spec: str) -> str:
    from cardkit.cli import read

    return read._read_mrz(spec)


def _source(spec: str) -> Any:
    from cardkit.cli import read

    return read._source(spec)


EXIT_VALID, EXIT_INVALID = EXIT_OK, EXIT_PROBLEMS

_AS_IS = {"jpeg": (".jpg", ".jpeg"), "jpeg2000": (".jp2", ".j2k", ".jpf")}
_SEX_WORDS = {"M": "male", "F": "female", "X": "unspecified"}  # Sex values


def save_face(face: Face, path: Path) -> Path:
    """Write ``face`` to ``path`` (module docstring: as is, or converted by extension)."""
    suffix = path.suffix.lower()
    if suffix in _AS_IS[face.format]:
        path.write_bytes(face.data)
        return path
    try:
        from PIL import Image

        with Image.open(io.BytesIO(face.data)) as image:
            image.load()
            out = image.convert("RGB") if image.mode not in ("RGB", "L") else image
            out.save(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ImageError(f"{path}: the face cannot be saved in this format ({exc})") from None
    return path


def _numbered(path: Path, number: int) -> Path:
    return path.with_name(f"{path.stem}-{number}{path.suffix}")


def _lines(inspection: Inspection, photo: Path | None) -> list[str]:
    lines = [verdict_line("card", inspection.report)]
    lines += check_table(inspection.report)
    person = inspection.person
    if person is not None:
        lines.append(f"holder (from {person.source}):")
        for label, value in _person_rows(person):
            if value:
                lines.append(f"  {label:<20} {value}")
    if inspection.face is not None:
        face = inspection.face
        where = f", saved to {photo}" if photo is not None else ""
        lines.append(f"face: {face.format} {face.width}×{face.height}{where}")
    return lines


def _person_rows(person: PersonalData) -> list[tuple[str, str | None]]:
    """The holder's details for the terminal: dates ISO 8601, or the chip's text marked when it
    is not a date."""

    def day(value: datetime.date | None, raw: str | None) -> str | None:
        if value is not None:
            return value.isoformat()
        return f"{raw} (not a date)" if raw else None

    sex = _SEX_WORDS.get(person.sex.value) if person.sex is not None else person.sex_raw
    expiry = (
        "does not expire"
        if person.never_expires
        else day(person.date_of_expiry, person.date_of_expiry_raw)
    )
    return [
        ("name", person.full_name),
        ("ID number", person.id_number),
        ("document number", person.document_number),
        ("date of birth", day(person.date_of_birth, person.date_of_birth_raw)),
        ("sex", sex),
        ("nationality", person.nationality),
        ("place of origin", person.place_of_origin),
        ("place of residence", person.place_of_residence),
        ("date of issue", day(person.date_of_issue, person.date_of_issue_raw)),
        ("date of expiry", expiry),
    ]


def _line_key(kind: str, line: str) -> AccessKey:
    from cardkit.services.read import AccessKey

    text = line.strip()
    if kind == "CAN":
        return AccessKey.from_can(text)
    return AccessKey.from_mrz(text)


class _KeySource:
    """The access key, read once or (``--watch``) once per card."""

    def __init__(
        self,
        mrz_from: str | None,
        doc_number: str | None,
        dob: str | None,
        expiry: str | None,
        can_from: str | None,
        *,
        per_card: bool,
    ) -> None:
        self.args = (mrz_from, doc_number, dob, expiry, can_from)
        self.per_card = per_card
        _access_key_check(*self.args)

    def next(self) -> AccessKey:
        mrz_from, _doc, _dob, _exp, can_from = self.args
        spec = mrz_from if mrz_from is not None else can_from
        if not self.per_card:
            return _access_key(*self.args)
        if spec is not None and _source(spec).kind == "stdin":
            line = sys.stdin.readline()
            if not line:
                raise KeyStoreError("standard input ended: no key for this card")
            try:
                return _line_key("MRZ" if mrz_from is not None else "CAN", line)
            except ValueError:
                raise KeyStoreError("the key read from standard input is malformed") from None
        if mrz_from is not None and _source(mrz_from).kind == "file":
            from cardkit.services.read import AccessKey

            return AccessKey.from_mrz(_read_mrz(mrz_from))
        return _access_key(*self.args)


def _access_key_check(
    mrz_from: str | None,
    doc_number: str | None,
    dob: str | None,
    expiry: str | None,
    can_from: str | None,
) -> None:
    given = [
        mrz_from is not None,
        any(v is not None for v in (doc_number, dob, expiry)),
        can_from is not None,
    ]
    if sum(given) != 1:
        raise click.UsageError(
            "give exactly one of --mrz-from, --doc-number/--dob/--expiry or --can-from"
        )


@click.command("verify")
@reader_option("reader_name")
@access_key_options
@trust_options
@policy_options
@terminal_options
@click.option(
    "--qr", metavar="PAYLOAD", help="The printed QR code's text, to compare with the chip."
)
@click.option(
    "--photo-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the face: .jpg/.jp2 as on the chip, other extensions (.png) converted.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--watch",
    is_flag=True,
    help="Verify each card placed on the reader until Ctrl-C: one line per card.",
)
@click.option("--details", is_flag=True, help="With --watch: every check of every card.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for the reader and a card (not with --watch).",
)
def verify(
    reader_name: str | None,
    mrz_from: str | None,
    doc_number: str | None,
    dob: str | None,
    expiry: str | None,
    can_from: str | None,
    trust: Path | None,
    masterlist: Path | None,
    crls: tuple[Path, ...],
    deny_list: Path | None,
    profile_name: str | None,
    policy_name: str | None,
    require_crl: bool,
    terminal_ref: str | None,
    terminal_chain: Path | None,
    terminal_password_from: str | None,
    qr: str | None,
    photo_out: Path | None,
    as_json: bool,
    watch: bool,
    timeout: float,
    details: bool,
) -> None:
    """Inspect a chip ID card: PACE or BAC, passive authentication to a trusted CSCA (the SOD
    signer must be a Document Signer the CSCA issued directly), the algorithm policy, chip and
    active authentication, the profile's promises (its data groups, PACE, CA, AA),
    DG13/DG1/QR consistency, expiry and deny list. The verdict first, then every check, then
    the holder's details. VALID only when every check the specification and the profile
    require has passed. With --terminal KEYREF --terminal-chain DIR, EAC terminal
    authentication opens DG3, whose hash is then checked like any data group.

    With --watch, every card placed on the reader is verified in turn until Ctrl-C (exit 0):
    one line per card (verdict, name, ID number, the checks that decided it; a refused CAN/MRZ
    is its own line and the loop goes on), every check with --details, one JSON object per
    line with --json. The CAN/MRZ is read again for every card:

    \b
      prompt        asked for each card
      stdin (or -)  one line per card: the CAN, or the MRZ on one line
      file:PATH     re-read for each card (a document scanner can write it)
      env:VAR       the same key for every card (so are --doc-number/--dob/--expiry)

    Exit code 0 VALID, 1 INVALID or INCOMPLETE, 2 usage error or unusable input (checked
    before any card is read), 3 reader or card error, or access denied: the chip refuses the
    CAN/MRZ (verdict INCOMPLETE; enter the key again).
    """
    try:
        keys = _KeySource(mrz_from, doc_number, dob, expiry, can_from, per_card=watch)
        inputs = load_inspection_inputs(
            trust, masterlist, crls, deny_list, profile_name, policy_name, require_crl
        )
        terminal = load_terminal(terminal_ref, terminal_chain, terminal_password_from)

        def inspect_once(wait: float) -> Inspection:
            key = keys.next()
            # Over T=0 open_reader's connection does GET RESPONSE (61xx) and 6Cxx itself, and
            # the read keeps to short APDUs.
            with open_reader(reader_name, timeout=wait) as pcsc:
                return verify_card(
                    pcsc, key, inputs.trust, qr=qr, deny_list=inputs.deny_list,
                    profile=inputs.profile, policy=inputs.policy, require_crl=inputs.require_crl,
                    terminal=terminal,
                )  # fmt: skip

        if not watch:
            inspection = inspect_once(timeout)
            _emit(inspection, _save(inspection, photo_out), as_json)
            raise SystemExit(_exit_code(inspection))
        reader_name = select_reader(reader_name)  # followed by name while cards come and go
        _watch(reader_name, lambda: inspect_once(2.0), photo_out, as_json, details)
    except CardkitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exit_code_for(exc)) from None


def _exit_code(inspection: Inspection) -> int:
    if inspection.access_denied:
        return EXIT_CARD  # like `cardkit read`: the key, not the card, is wrong
    return EXIT_VALID if inspection.verdict is Verdict.VALID else EXIT_INVALID


def _save(inspection: Inspection, photo_out: Path | None) -> Path | None:
    """Save the face when asked and there is one; the path written."""
    if photo_out is None or inspection.face is None or inspection.access_denied:
        return None
    return save_face(inspection.face, photo_out)


def _denied(inspection: Inspection) -> str | None:
    """The one line a person acts on when the chip refused the CAN/MRZ (as ``cardkit read``)."""
    if not inspection.access_denied:
        return None
    check = inspection.report.get("chip.access")
    return check.detail if check is not None else "access denied"


def _emit(inspection: Inspection, saved: Path | None, as_json: bool, *, card: int = 1) -> None:
    """One inspection in full: the ``cardkit.verify`` JSON object (on one line: JSON Lines in
    watch mode), or the verdict, the check table, the holder and the face."""
    denied = _denied(inspection)
    if as_json:
        echo_json(
            "verify",
            {"card": card, **inspection.describe(), "photo": str(saved) if saved else None},
            line=True,
        )
    elif denied is not None:
        click.echo(verdict_line("card", inspection.report))
    else:
        for line in _lines(inspection, saved):
            click.echo(line)
    if denied is not None:
        click.echo(f"error: {denied}", err=True)


def _watch(
    reader: str,
    inspect: Callable[[], Inspection],
    photo_out: Path | None,
    as_json: bool,
    details: bool,
) -> None:
    """The checkpoint loop (module docstring): one line per card, or ``--details`` / ``--json``
    in full; a card's failure (no inspection, access denied, a face that cannot be saved) is
    reported and the loop goes on."""
    count = 0

    def report(result: Inspection | Exception) -> None:
        nonlocal count
        count += 1
        if isinstance(result, Exception):
            what = str(result) if isinstance(result, CardkitError) else repr(result)
            if as_json:
                echo_json("verify.error", {"card": count, "error": what}, line=True)
            else:
                click.echo(error_line(what) if not details else f"card {count}: error: {what}")
            return
        target = _numbered(photo_out, count) if photo_out is not None else None
        saved: Path | None = None
        try:
            saved = _save(result, target)
        except CardkitError as exc:  # e.g. the photo cannot be written: the loop goes on
            click.echo(f"card {count}: error: {exc}", err=True)
        if as_json:
            _emit(result, saved, as_json, card=count)
        elif details:
            click.echo(f"--- card {count}")
            _emit(result, saved, as_json, card=count)
        else:
            person = result.person
            click.echo(
                card_line(
                    result.report,
                    name=person.full_name if person is not None else None,
                    number=_number(person),
                    denied=_denied(result),
                    photo=saved,
                )
            )
        sys.stdout.flush()

    shown: set[str] = set()

    def event(name: str) -> None:
        if as_json:
            return
        messages = {
            "waiting": f"waiting for a card in {reader} (Ctrl-C to stop)",
            "removed": "card removed",
            "pcscd unavailable": "PC/SC unavailable (is pcscd running?); retrying",
        }
        # One line per card on the screen: without --details the waiting message is shown
        # once and removals are not announced.
        if name not in messages or (not details and (name == "removed" or name in shown)):
            return
        if name == "waiting":
            shown.add(name)
        click.echo(messages[name], err=True)

    try:
        watch_reader(reader, inspect, report, on_event=event)
    except KeyboardInterrupt:
        click.echo(f"stopped after {count} card(s)", err=True)
        raise SystemExit(EXIT_VALID) from None


def _number(person: PersonalData | None) -> str | None:
    """The holder's 12-digit ID number, else the document number (a foreign TD1 or TD3)."""
    if person is None:
        return None
    return person.id_number or person.document_number
