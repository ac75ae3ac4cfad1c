"""The `cardkit` command: a thin layer that parses options, calls the library and renders.

Errors become one line on stderr here; their exit codes come from :mod:`cardkit.cli.exits`
(0 success, 1 a check found problems, 2 usage error or unusable input, 3 reader or card error).
A traceback is shown only with ``--verbose``.
"""

from __future__ import annotations

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


class CardkitGroup(click.Group):
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


def _register() -> None:
    # Imported here so that each command module stays independent of this one.
    from cardkit.cli.batch import batch
    from cardkit.cli.emulator import emulator
    from cardkit.cli.lds import lds
    from cardkit.cli.mrz import mrz
    from cardkit.cli.personalize import personalize_command
    from cardkit.cli.pki import pki
    from cardkit.cli.prepare import prepare, verify_files_command
    from cardkit.cli.print import print_command
    from cardkit.cli.read import read
    from cardkit.cli.readers import readers
    from cardkit.cli.records import records
    from cardkit.cli.verify import verify

    for command in (
        records,
        mrz,
        lds,
        pki,
        prepare,
        verify_files_command,
        readers,
        read,
        emulator,
        personalize_command,
        verify,
        print_command,
        batch,
    ):
        cli.add_command(command)


_register()


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
