"""``cardkit read``: open a chip in a PC/SC reader and save every file it gives.

The MRZ and the CAN are secrets (they open the chip): they are never taken as plain arguments,
which would leave them in shell history and ``ps`` output. ``--mrz-from`` / ``--can-from`` take a
secret spec (:mod:`cardkit.pki.secrets`): ``prompt`` (typed, not echoed), ``stdin`` (or ``-``),
``env:VAR`` or ``file:PATH``. An MRZ from a file or standard input may span its 2 or 3 lines;
typed at the prompt or held in a variable it is written on one line (90 characters for TD1).
``--doc-number/--dob/--expiry`` exist for scripts that already hold the three BAC fields.

Exit codes (cardkit.cli.main): 0 read, 2 usage or unusable input, 3 reader, card or protocol error.
A key the chip does not accept (:class:`~cardkit.errors.AccessDeniedError`, a ProtocolError) exits 3
with the one line ``error: access denied: the CAN does not open this card — enter it again`` (or
MRZ): a mistyped key, not a forgery, and the line names neither the key nor a status word.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cardkit.cli.options import access_key_options, load_terminal, reader_option, terminal_options
from cardkit.cli.render import envelope, json_text
from cardkit.errors import CardkitError, KeyStoreError
from cardkit.lds import files
from cardkit.pki.secrets import SecretSource, warn_if_shared
from cardkit.services.read import AccessKey, CardRead, read_card
from cardkit.transport.pcsc import open_reader
from cardkit.transport.trace import TracingConnection

SUMMARY_FILE = "read.json"


def _source(spec: str) -> SecretSource:
    return SecretSource.parse("stdin" if spec == "-" else spec)


def _read_mrz(spec: str) -> str:
    """The MRZ text from a secret spec; all lines of a file or of standard input."""
    source = _source(spec)
    what = "MRZ"
    if source.kind == "file":
        path = Path(source.target)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(
                f"{what}: cannot read secret file {path} ({exc.strerror})"
            ) from None
        warn_if_shared(path, what)
    elif source.kind == "stdin":
        data = sys.stdin.buffer.read()
    else:
        data = source.read(what)
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyStoreError(f"{what}: the {source.describe()} does not hold ASCII text") from None


def _access_key(
    mrz_from: str | None,
    doc_number: str | None,
    dob: str | None,
    expiry: str | None,
    can_from: str | None,
) -> AccessKey:
    fields = (doc_number, dob, expiry)
    given = [mrz_from is not None, any(v is not None for v in fields), can_from is not None]
    if sum(given) != 1:
        raise click.UsageError(
            "give exactly one of --mrz-from, --doc-number/--dob/--expiry or --can-from"
        )
    if mrz_from is not None:
        return AccessKey.from_mrz(_read_mrz(mrz_from))
    if can_from is not None:
        can = _source(can_from).read("CAN")
        try:
            return AccessKey.from_can(can.decode("ascii"))
        except UnicodeDecodeError:
            raise KeyStoreError("CAN: not ASCII digits") from None
    if doc_number is None or dob is None or expiry is None:
        raise click.UsageError("--doc-number, --dob and --expiry go together")
    return AccessKey.from_mrz_fields(doc_number, dob, expiry)


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only (0600), replacing an older read's file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb", closefd=False) as fh:
            fh.write(data)
    finally:
        os.close(fd)


def save_read(result: CardRead, out: Path) -> dict[str, object]:
    """Write every file as ``<name>.bin`` and the summary ``read.json`` (a ``cardkit.read``
    document, docs/SCHEMAS.md) into ``out``; the summary is returned."""
    out.mkdir(parents=True, exist_ok=True)
    for spec, data in result.files.items():
        _write_private(out / f"{spec.name}.bin", data)
    dg3 = result.files.get(files.dg(3))
    if dg3 is not None:  # read through EAC: the fingerprints as PNG, by finger position
        from cardkit.services.fingerprints import write_finger_images

        try:
            write_finger_images(dg3, out)
        except CardkitError as exc:  # a hostile chip's image must not fail the read
            click.echo(f"warning: DG3 finger images: {exc}", err=True)
    summary = envelope("read", {"out": str(out), **result.describe()})
    _write_private(out / SUMMARY_FILE, (json_text(summary) + "\n").encode("utf-8"))
    return summary


def _ta_line(result: CardRead) -> str:
    if result.ta is not None:
        return f"passed ({result.ta.terminal})"
    if result.ta_error is not None:
        return f"FAILED ({result.ta_error})"
    return "not performed"


def _summary_lines(result: CardRead, out: Path) -> list[str]:
    aa = "not performed"
    if result.aa is not None:
        aa = ("verified" if result.aa.verified else "FAILED") + f" ({result.aa.algorithm})"
    lines = [
        f"access:                 {result.access}",
        f"chip authentication:    {result.chip_authentication}",
        f"active authentication:  {aa}",
        f"terminal authentication: {_ta_line(result)}",
        f"APDUs:                  {result.apdu_count} ({result.bytes_exchanged} bytes"
        f"{', extended length' if result.extended_length else ''})",
        "files:",
    ]
    lines += [f"  {spec.name:<14} {len(data):>7} bytes" for spec, data in result.files.items()]
    if result.protected:
        names = ", ".join(f"DG{n}" for n in result.protected)
        lines.append(f"protected (EAC):        {names}")
    if result.missing:
        lines.append(f"missing:                {', '.join(f'DG{n}' for n in result.missing)}")
    lines += [f"warning: {error}" for error in result.errors]
    lines += [f"note: {note}" for note in result.notes]
    lines.append(f"saved to {out}")
    return lines


@click.command("read")
@reader_option("reader_name")
@access_key_options
@terminal_options
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for <file>.bin (mode 0600) and read.json.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the read.json summary instead.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for the reader and a card.",
)
def read(
    reader_name: str | None,
    mrz_from: str | None,
    doc_number: str | None,
    dob: str | None,
    expiry: str | None,
    can_from: str | None,
    terminal_ref: str | None,
    terminal_chain: Path | None,
    terminal_password_from: str | None,
    out: Path,
    as_json: bool,
    timeout: float,
) -> None:
    """Read a chip ID card: PACE (CAN or MRZ) or BAC, chip and active authentication, every file.

    The MRZ or CAN is read from a secret spec so that it never sits in shell history:
    "--can-from prompt" asks for it, "--mrz-from -" reads it from standard input (all its lines),
    "--mrz-from file:mrz.txt" from a file, "--can-from env:CARD_CAN" from the environment.

    With --terminal KEYREF --terminal-chain DIR (an inspection system's key and its CV
    certificates), EAC terminal authentication follows chip authentication and DG3
    (fingerprints) is read when the chip grants it; without them DG3 stays protected.
    """
    key = _access_key(mrz_from, doc_number, dob, expiry, can_from)
    terminal = load_terminal(terminal_ref, terminal_chain, terminal_password_from)
    # Over T=0, open_reader's connection does GET RESPONSE (61xx) and wrong Le (6Cxx) itself,
    # and read_card keeps to short APDUs.
    with open_reader(reader_name, timeout=timeout) as pcsc:
        result = read_card(TracingConnection(pcsc), key, terminal=terminal)
    summary = save_read(result, out)
    if as_json:
        click.echo(json_text(summary))
        return
    for line in _summary_lines(result, out):
        click.echo(line)
