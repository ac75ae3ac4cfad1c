"""A throw-away SoftHSM2 token for integration tests.

SoftHSM2 reads its configuration from ``$SOFTHSM2_CONF`` when the PKCS#11 module is initialised
(``C_Initialize``), so the helper writes a private ``softhsm2.conf`` whose ``tokendir`` is a
temporary directory, initialises a token there with ``softhsm2-util --init-token --free`` and
points ``SOFTHSM2_CONF`` at it. Nothing touches the system token directory.

CI semantics: when SoftHSM2 is missing the caller fails under ``CI=true`` (CI installs it, a
silent skip would hide a broken pipeline) and skips elsewhere, naming the apt package.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

APT_PACKAGE = "softhsm2"
MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class SoftHsmToken:
    """An initialised token: where it lives and how to log in (test PINs, not secrets)."""

    module: str
    conf: Path
    label: str
    pin: bytes = field(repr=False)
    so_pin: bytes = field(repr=False)

    def uri(self, object_label: str) -> str:
        """A cardkit key reference for an object on this token."""
        return (
            f"pkcs11:token={quote(self.label, safe='')};object={quote(object_label, safe='')}"
            f"?module-path={quote(self.module, safe='/')}"
        )

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses (e.g. the cardkit CLI) that must see this token."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}


def find_module() -> str | None:
    for candidate in MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return None


def missing_reason() -> str | None:
    """Why SoftHSM2 cannot be used here, or None when it can."""
    if shutil.which("softhsm2-util") is None:
        return f"softhsm2-util not found (apt install {APT_PACKAGE})"
    if find_module() is None:
        return f"libsofthsm2.so not found (apt install {APT_PACKAGE})"
    return None


def write_config(directory: Path) -> Path:
    """A softhsm2.conf with a private token directory under ``directory``."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    return conf


def init_token(
    conf: Path,
    label: str,
    *,
    pin: bytes | None = None,
    so_pin: bytes | None = None,
) -> SoftHsmToken:
    """Initialise a new token in the free slot of the configuration ``conf``."""
    module = find_module()
    if module is None:
        raise RuntimeError(missing_reason())
    pin = pin or secrets.token_hex(4).encode()
    so_pin = so_pin or secrets.token_hex(8).encode()
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            so_pin.decode(),
            "--pin",
            pin.decode(),
        ],
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return SoftHsmToken(module=module, conf=conf, label=label, pin=pin, so_pin=so_pin)
