"""Where passwords and PINs come from — never the command line.

A secret on the command line ends up in shell history, ``ps`` output and CI logs, so every
cardkit option that needs a password or PIN takes a *secret spec* instead, which says where to
read it from:

``env:VARNAME``
    the environment variable ``VARNAME`` (CI systems inject secrets this way);
``file:PATH``
    the first line of ``PATH``, trailing newline stripped (Docker/Kubernetes secrets, systemd
    credentials); a warning is emitted when the file is readable by group or others;
``prompt``
    asked on the terminal with :func:`getpass.getpass` (no echo), optionally twice for a new secret;
``stdin``
    the first line of standard input (a pipe from a password manager).

Secrets are ``bytes``: they are never logged, never put in a ``repr`` and never in an exception
message — messages name the variable or file, not the value.
"""

from __future__ import annotations

import getpass
import os
import stat
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cardkit.errors import KeyStoreError

SecretKind = Literal["env", "file", "prompt", "stdin"]

_SPEC_HELP = "use env:VARNAME, file:PATH, prompt or stdin"


class InsecurePermissionsWarning(UserWarning):
    """A secret or key file that users other than its owner can read."""


def warn_if_shared(path: Path, what: str) -> None:
    """Warn (do not refuse) when ``path`` is readable by its group or by others.

    Refusing would break read-only secret mounts whose mode the user cannot change; the warning
    still makes the exposure visible. Missing files are left to the caller's own error.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH):
        warnings.warn(
            f"{what} file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}",
            InsecurePermissionsWarning,
            stacklevel=3,
        )


def _first_line(data: bytes) -> bytes:
    """The first line of ``data`` without its line ending (LF or CRLF)."""
    line = data.split(b"\n", 1)[0]
    return line[:-1] if line.endswith(b"\r") else line


@dataclass(frozen=True)
class SecretSource:
    """A parsed secret spec: *where* a secret is read from (never the secret itself)."""

    kind: SecretKind
    target: str = ""  # variable name for env, path for file, empty otherwise

    def __post_init__(self) -> None:
        if self.kind in ("env", "file") and not self.target:
            raise KeyStoreError(f"secret spec {self.kind}: needs a {self._target_name()}")
        if self.kind in ("prompt", "stdin") and self.target:
            raise KeyStoreError(f"secret spec {self.kind} takes no argument")
        if self.kind == "env" and ("=" in self.target or "\0" in self.target):
            raise KeyStoreError(f"secret spec env:{self.target} is not a valid variable name")

    def _target_name(self) -> str:
        return "variable name (env:VARNAME)" if self.kind == "env" else "path (file:PATH)"

    @classmethod
    def parse(cls, spec: str) -> SecretSource:
        """Parse ``env:VAR`` / ``file:PATH`` / ``prompt`` / ``stdin``.

        Anything else is refused, in particular a bare string: it might be the password itself,
        so the message does not repeat it.
        """
        if spec in ("prompt", "stdin"):
            return cls(spec)  # type: ignore[arg-type]  # narrowed by the membership test
        kind, sep, target = spec.partition(":")
        if sep and kind == "env":
            return cls("env", target)
        if sep and kind == "file":
            return cls("file", target)
        raise KeyStoreError(f"unrecognised secret spec: {_SPEC_HELP} (never the secret itself)")

    def describe(self) -> str:
        """A non-secret description for messages, e.g. ``environment variable DSC_PASSWORD``."""
        if self.kind == "env":
            return f"environment variable {self.target}"
        if self.kind == "file":
            return f"file {self.target}"
        return "terminal prompt" if self.kind == "prompt" else "standard input"

    def read(self, what: str = "secret", *, confirm: bool = False) -> bytes:
        """Read the secret. ``confirm`` asks twice on a prompt (for a *new* password).

        Raises :class:`KeyStoreError` naming the source (never the value) when it is missing
        or empty.
        """
        if self.kind == "env":
            value = os.environ.get(self.target)
            if value is None:
                raise KeyStoreError(f"{what}: environment variable {self.target} is not set")
            secret = os.fsencode(value)  # the original bytes, even if not valid UTF-8
        elif self.kind == "file":
            path = Path(self.target)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise KeyStoreError(f"{what}: secret file {path} does not exist") from None
            except OSError as exc:
                raise KeyStoreError(
                    f"{what}: cannot read secret file {path} ({exc.strerror})"
                ) from None
            warn_if_shared(path, what)
            secret = _first_line(data)
        elif self.kind == "stdin":
            line = sys.stdin.buffer.readline()
            if not line:
                raise KeyStoreError(f"{what}: standard input is empty")
            secret = _first_line(line)
        else:
            secret = self._prompt(what, confirm)
        if not secret:
            raise KeyStoreError(f"{what}: the {self.describe()} holds an empty secret")
        return secret

    @staticmethod
    def _prompt(what: str, confirm: bool) -> bytes:
        try:
            first = getpass.getpass(f"{what}: ")
            if confirm and getpass.getpass(f"{what} (again): ") != first:
                raise KeyStoreError(f"{what}: the two entries do not match")
        except (EOFError, KeyboardInterrupt):
            raise KeyStoreError(f"{what}: no secret entered") from None
        return first.encode("utf-8")


def read_secret(spec: str, what: str = "DSC key password", *, confirm: bool = False) -> bytes:
    """Parse ``spec`` (see :class:`SecretSource`) and read the secret it points to."""
    return SecretSource.parse(spec).read(what, confirm=confirm)


def secret_text(secret: bytes, what: str) -> str:
    """Decode a secret for libraries that take ``str`` passwords (pyjks, python-pkcs11)."""
    try:
        return secret.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyStoreError(f"{what} is not valid UTF-8") from None
