"""``cardkit verify``: inspect a chip ID card at a checkpoint and give a verdict.

The MRZ or CAN opens the chip, so it is a secret: like ``cardkit read`` it comes from a secret
spec (``--mrz-from`` / ``--can-from``: ``prompt``, ``stdin`` or ``-``, ``env:VAR``,
``file:PATH``), never from a plain argument. With ``--watch`` the spec is read again for every
card: ``prompt`` asks each time, a file is re-read (a document scanner can write it), and
standard input gives one line per card (the MRZ on one line, or the CAN).

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

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from cardkit.cli.exits import EXIT_CARD, EXIT_OK, EXIT_PROBLEMS, exit_code_for
from cardkit.cli.inspection import load_inspection_inputs
from cardkit.cli.options import access_key_options, policy_options, trust_options
from cardkit.cli.read import _access_key, _read_mrz, _source
from cardkit.cli.render import check_table, verdict_line
from cardkit.errors import CardkitError, ImageError, KeyStoreError
from cardkit.report import Verdict
from cardkit.services.read import AccessKey
from cardkit.services.verify import Face, Inspection, verify_card, watch_reader
from cardkit.transport.connection import Connection
from cardkit.transport.pcsc import open_reader
from cardkit.transport.wrappers import GetResponseConnection

EXIT_VALID, EXIT_INVALID = EXIT_OK, EXIT_PROBLEMS

_AS_IS = {"jpeg": (".jpg", ".jpeg"), "jpeg2000": (".jp2", ".j2k", ".jpf")}
_PERSON_LABELS = (
    ("full_name", "name"),
    ("id_number", "ID number"),
    ("document_number", "document number"),
    ("date_of_birth", "date of birth"),
    ("sex", "sex"),
    ("nationality", "nationality"),
    ("place_of_origin", "place of origin"),
    ("place_of_residence", "place of residence"),
    ("date_of_issue", "date of issue"),
    ("date_of_expiry", "date of expiry"),
)


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
        for attr, label in _PERSON_LABELS:
            value = getattr(person, attr)
            if value:
                lines.append(f"  {label:<20} {value}")
    if inspection.face is not None:
        face = inspection.face
        where = f", saved to {photo}" if photo is not None else ""
        lines.append(f"face: {face.format} {face.width}×{face.height}{where}")
    return lines


def _line_key(kind: str, line: str) -> AccessKey:
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
@click.option("--reader", "reader_name", required=True, help="PC/SC reader name, exactly.")
@access_key_options
@trust_options
@policy_options
@click.option(
    "--qr", metavar="PAYLOAD", help="The printed QR code's text, to compare with the chip."
)
@click.option(
    "--photo-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the face: .jpg/.jp2 as on the chip, other extensions (.png) converted.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--watch", is_flag=True, help="Verify each card placed on the reader until Ctrl-C.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for the reader and a card (not with --watch).",
)
def verify(
    reader_name: str,
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
    qr: str | None,
    photo_out: Path | None,
    as_json: bool,
    watch: bool,
    timeout: float,
) -> None:
    """Inspect a chip ID card: PACE or BAC, passive authentication to a trusted CSCA (the SOD
    signer must be a Document Signer the CSCA issued directly), the algorithm policy, chip and
    active authentication, the profile's promises (its data groups, PACE, CA, AA),
    DG13/DG1/QR consistency, expiry and deny list. The verdict first, then every check, then
    the holder's details. VALID only when every check the specification and the profile
    require has passed.

    Exit code 0 VALID, 1 INVALID or INCOMPLETE, 2 usage error or unusable input (checked
    before any card is read), 3 reader or card error, or access denied: the chip refuses the
    CAN/MRZ (verdict INCOMPLETE; enter the key again).
    """
    try:
        keys = _KeySource(mrz_from, doc_number, dob, expiry, can_from, per_card=watch)
        inputs = load_inspection_inputs(
            trust, masterlist, crls, deny_list, profile_name, policy_name, require_crl
        )

        def inspect_once(wait: float) -> Inspection:
            key = keys.next()
            with open_reader(reader_name, timeout=wait) as pcsc:
                connection: Connection = pcsc
                if pcsc.protocol == "T=0":
                    connection = GetResponseConnection(pcsc)
                extended = False if pcsc.protocol == "T=0" else None
                return verify_card(
                    connection, key, inputs.trust, qr=qr, deny_list=inputs.deny_list,
                    extended_length=extended, profile=inputs.profile, policy=inputs.policy,
                    require_crl=inputs.require_crl,
                )  # fmt: skip

        if not watch:
            inspection = inspect_once(timeout)
            _emit(inspection, photo_out, as_json)
            raise SystemExit(_exit_code(inspection))
        _watch(reader_name, lambda: inspect_once(2.0), photo_out, as_json)
    except CardkitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exit_code_for(exc)) from None


def _exit_code(inspection: Inspection) -> int:
    if inspection.access_denied:
        return EXIT_CARD  # like `cardkit read`: the key, not the card, is wrong
    return EXIT_VALID if inspection.verdict is Verdict.VALID else EXIT_INVALID


def _emit(inspection: Inspection, photo_out: Path | None, as_json: bool) -> None:
    if inspection.access_denied:
        # One line a person acts on (the same as `cardkit read`), after the verdict.
        denied = inspection.report.get("chip.access")
        if as_json:
            click.echo(json.dumps(inspection.describe(), ensure_ascii=False))
        else:
            click.echo(verdict_line("card", inspection.report))
        click.echo(f"error: {denied.detail if denied else 'access denied'}", err=True)
        return
    saved: Path | None = None
    if photo_out is not None and inspection.face is not None:
        saved = save_face(inspection.face, photo_out)
    if as_json:
        out = inspection.describe()
        out["photo"] = str(saved) if saved is not None else None
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    for line in _lines(inspection, saved):
        click.echo(line)


def _watch(
    reader: str, inspect: Callable[[], Inspection], photo_out: Path | None, as_json: bool
) -> None:
    count = 0

    def report(result: Inspection | Exception) -> None:
        nonlocal count
        count += 1
        if isinstance(result, Exception):
            what = str(result) if isinstance(result, CardkitError) else repr(result)
            if as_json:
                click.echo(json.dumps({"card": count, "error": what}))
            else:
                click.echo(f"card {count}: error: {what}")
            return
        target = _numbered(photo_out, count) if photo_out is not None else None
        try:
            if not as_json:
                click.echo(f"--- card {count}")
            _emit(result, target, as_json)
        except CardkitError as exc:  # e.g. the photo cannot be written: the loop goes on
            click.echo(f"card {count}: error: {exc}", err=True)

    def event(name: str) -> None:
        if not as_json:
            messages = {
                "waiting": f"waiting for a card in {reader} (Ctrl-C to stop)",
                "removed": "card removed",
                "pcscd unavailable": "PC/SC unavailable (is pcscd running?); retrying",
            }
            if name in messages:
                click.echo(messages[name], err=True)

    try:
        watch_reader(reader, inspect, report, on_event=event)
    except KeyboardInterrupt:
        click.echo(f"stopped after {count} card(s)", err=True)
        raise SystemExit(EXIT_VALID) from None
