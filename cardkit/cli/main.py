"""The `cardkit` command: a thin layer that parses options, calls the library and renders.

Errors become one line on stderr here; their exit codes come from :mod:`cardkit.cli.exits`
(0 success, 1 a check found problems, 2 usage error or unusable input, 3 reader or card error).
A traceback is shown only with ``--verbose``.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import sys
import warnings
from typing import Any, TextIO

import click

from cardkit import __version__
from cardkit.cli.exits import exit_code_for
from cardkit.errors import CardkitError

#: Every command: name → (module, attribute, one-line help). Loaded only when it is run (or its
#: --help asked): `cardkit --help` needs none of them, and `cardkit verify` only its own — the
#: batch command alone pulls in a journal, PDF rendering and four key stores (issue 12 §7).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "records": ("cardkit.cli.records", "records",
                "Citizen records: load and validate CSV, JSON and JSON Lines."),
    "mrz": ("cardkit.cli.mrz", "mrz", "Build and check machine readable zones (TD1, TD3)."),
    "lds": ("cardkit.cli.lds", "lds", "Build and inspect LDS files (EF.COM, EF.SOD, DGs)."),
    "pki": ("cardkit.cli.pki", "pki",
            "The state PKI (9303-12): CSCA, Document Signers, CRLs, master lists."),
    "eac": ("cardkit.cli.eac", "eac",
            "The CV PKI of EAC (TR-03110-3): CVCA, Document Verifiers, inspection systems."),
    "prepare": ("cardkit.cli.prepare", "prepare",
                "Prepare a signed card image for every valid record."),
    "verify-files": ("cardkit.cli.prepare", "verify_files_command",
                     "Passive authentication of card images or LDS files."),
    "readers": ("cardkit.cli.readers", "readers", "List PC/SC readers and their cards."),
    "read": ("cardkit.cli.read", "read", "Read a chip ID card and save every file."),
    "emulator": ("cardkit.cli.emulator", "emulator",
                 "Run cardkit's emulated chip in a virtual (vpcd) reader."),
    "personalize": ("cardkit.cli.personalize", "personalize_command",
                    "Write card images into blank chips, lock and check them."),
    "verify": ("cardkit.cli.verify", "verify",
               "Inspect a chip ID card at a checkpoint: VALID, INVALID or INCOMPLETE."),
    "print": ("cardkit.cli.print", "print_command", "Print the card faces (PDF, PNG)."),
    "batch": ("cardkit.cli.batch", "batch",
              "Journaled production batches: prepare, personalize, verify, print."),
}  # fmt: skip


class CardkitGroup(click.Group):
    """The root group: commands are imported when used (:data:`COMMANDS`), and CardkitError
    becomes one line on stderr with the exit code of :mod:`cardkit.cli.exits`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module_name, attribute, _help = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listing from the table, so that `cardkit --help` imports no command module.
        rows = [
            (
                name,
                COMMANDS[name][2] if name in COMMANDS else (self.commands[name].short_help or ""),
            )
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CardkitError as exc:
            if ctx.find_root().params.get("verbose"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exit_code_for(exc))


@click.group(cls=CardkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs and full tracebacks.")
@click.version_option(__version__, prog_name="cardkit")
def cli(verbose: bool) -> None:
    """Personalize and verify ICAO 9303 chip identity cards."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


class _PipeSafe(io.TextIOBase):
    """stdout that stops writing, quietly, once its reader has gone (``cardkit verify | head
    -1``): the command still finishes and exits with its own code — a VALID card stays exit 0
    — instead of dying of BrokenPipeError."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self.closed_pipe = False

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                self.inner.write(text)
                self.inner.flush()
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self.inner.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self.closed_pipe = True
        # Python flushes stdout again at exit: point the descriptor at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.inner.fileno())
        except (OSError, ValueError):
            pass
        finally:
            os.close(devnull)

    def isatty(self) -> bool:
        return self.inner.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.inner.encoding

    def fileno(self) -> int:
        return self.inner.fileno()


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Python warnings (a library's deprecation, a malformed certificate field) as cardkit's own
    one-line warning; the file and line only with --verbose."""
    click.echo(f"warning: {message}", err=True)


def main() -> None:
    if "-v" not in sys.argv[1:] and "--verbose" not in sys.argv[1:]:
        warnings.showwarning = _one_line_warning
    sys.stdout = _PipeSafe(sys.stdout)
    cli(prog_name="cardkit")


if __name__ == "__main__":
    main()
