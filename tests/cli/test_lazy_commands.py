"""The root command loads its subcommands lazily (issue 12 §7): `cardkit --help` imports none
of them, and every entry of the table is the command it names."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from cardkit.cli.main import COMMANDS, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_listed_command_loads_under_its_name(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert command.name == name


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name, (_module, _attribute, summary) in COMMANDS.items():
        assert name in result.output
        assert summary.split()[0] in result.output


def test_root_help_imports_no_command_module() -> None:
    code = (
        "import sys\n"
        "from cardkit.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='cardkit')\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m, _a, _h in __import__('cardkit.cli.main').cli.main.COMMANDS"
        ".values() if m in sys.modules)\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in done.stderr, done.stderr
