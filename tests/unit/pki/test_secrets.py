"""Secret specs: env:/file:/prompt/stdin, never the secret in a message."""

from __future__ import annotations

import getpass
import io
import os
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cardkit.errors import CardkitError, KeyStoreError
from cardkit.pki.secrets import InsecurePermissionsWarning, SecretSource, read_secret


def test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDKIT_TEST_PW", "s3cret-ünï")
    assert read_secret("env:CARDKIT_TEST_PW") == "s3cret-ünï".encode()


def test_env_missing_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARDKIT_TEST_NOPE", raising=False)
    with pytest.raises(KeyStoreError, match="CARDKIT_TEST_NOPE is not set") as info:
        read_secret("env:CARDKIT_TEST_NOPE", what="DSC key password")
    assert "DSC key password" in str(info.value)
    assert isinstance(info.value, CardkitError)


def test_env_empty_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDKIT_TEST_EMPTY", "")
    with pytest.raises(KeyStoreError, match="empty"):
        read_secret("env:CARDKIT_TEST_EMPTY")


def test_file_first_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_bytes(b"hunter2\r\nsecond line\n")
    path.chmod(0o600)
    assert read_secret(f"file:{path}") == b"hunter2"


def test_file_single_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_bytes(b"hunter2")
    path.chmod(0o600)
    assert read_secret(f"file:{path}") == b"hunter2"


def test_file_world_readable_warns(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_bytes(b"hunter2\n")
    path.chmod(0o644)
    with pytest.warns(InsecurePermissionsWarning, match="chmod 600") as record:
        assert read_secret(f"file:{path}") == b"hunter2"
    assert all("hunter2" not in str(w.message) for w in record)


def test_file_private_does_not_warn(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    path = tmp_path / "pw"
    path.write_bytes(b"hunter2\n")
    path.chmod(0o600)
    read_secret(f"file:{path}")
    assert not [w for w in recwarn if issubclass(w.category, InsecurePermissionsWarning)]


def test_file_missing_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(KeyStoreError, match=r"nope\.txt does not exist"):
        read_secret(f"file:{missing}")


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(b"from-pipe\nrest\n"))
    monkeypatch.setattr(sys, "stdin", fake)
    assert read_secret("stdin") == b"from-pipe"


def test_stdin_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(KeyStoreError, match="standard input is empty"):
        read_secret("stdin")


def test_prompt_with_confirmation(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["typed", "typed"])
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert read_secret("prompt", what="new CSCA password", confirm=True) == b"typed"
    assert prompts == ["new CSCA password: ", "new CSCA password (again): "]


def test_prompt_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["one-secret", "other-secret"])
    monkeypatch.setattr(getpass, "getpass", lambda _prompt: next(answers))
    with pytest.raises(KeyStoreError, match="do not match") as info:
        read_secret("prompt", confirm=True)
    assert "one-secret" not in str(info.value)
    assert "other-secret" not in str(info.value)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("env:A_B", SecretSource("env", "A_B")),
        ("file:/run/secrets/pw", SecretSource("file", "/run/secrets/pw")),
        ("file:rel:with:colons", SecretSource("file", "rel:with:colons")),
        ("prompt", SecretSource("prompt")),
        ("stdin", SecretSource("stdin")),
    ],
)
def test_parse(spec: str, expected: SecretSource) -> None:
    assert SecretSource.parse(spec) == expected


@pytest.mark.parametrize("spec", ["env:", "file:", "hunter2", "pass:hunter2", "", "PROMPT"])
def test_parse_rejects(spec: str) -> None:
    with pytest.raises(KeyStoreError):
        SecretSource.parse(spec)


@given(st.text(min_size=4))
def test_a_bare_secret_is_never_echoed(text: str) -> None:
    """Someone who types the password itself instead of a spec must not see it printed."""
    if text in ("prompt", "stdin") or text.startswith(("env:", "file:")):
        return
    with pytest.raises(KeyStoreError) as reference:
        SecretSource.parse("\x00not a spec\x00")
    # A text that is part of the fixed wording ("secr" in "secret") is no echo.
    assume(text not in str(reference.value))
    with pytest.raises(KeyStoreError) as info:
        SecretSource.parse(text)
    assert text not in str(info.value)


def test_repr_and_describe_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDKIT_TEST_PW", "topsecretvalue")
    source = SecretSource.parse("env:CARDKIT_TEST_PW")
    assert source.read() == b"topsecretvalue"
    assert "topsecretvalue" not in repr(source)
    assert source.describe() == "environment variable CARDKIT_TEST_PW"
    assert os.environ["CARDKIT_TEST_PW"] == "topsecretvalue"
