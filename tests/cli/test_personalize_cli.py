"""`cardkit personalize` without a terminal: it never waits for an answer nobody can give."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cardkit.cli.main import cli


def test_without_a_terminal_and_without_yes_it_refuses_at_once(tmp_path: Path) -> None:
    image = tmp_path / "card"
    image.mkdir()
    keys = tmp_path / "keys"
    keys.mkdir()
    result = CliRunner().invoke(  # CliRunner's stdin is not a terminal
        cli, ["personalize", str(image), "--reader", "Virtual PCD 00 00", "--keys", str(keys)]
    )
    assert result.exit_code == 2, result.output
    assert "pass --yes to write without asking" in result.output
