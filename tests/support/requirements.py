"""What to do when a test's component is missing: skip on a developer's machine, fail in CI.

The bootstrap installs every component (pcscd, vpcd, SoftHSM2, PostgreSQL, fonts, zbar,
poppler), so under ``CI=true`` a missing one is a failure, never a silent skip."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    """Fail under ``CI=true``, skip otherwise; ``reason`` says what is missing."""
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"{reason}: CI must provide it (the bootstrap installs it)")
    pytest.skip(reason)


def need_fonts() -> None:
    """The card-face fonts (DejaVu, OCR-B) that `cardkit print` needs."""
    from cardkit.layout.fonts import FontError, find_fonts

    try:
        find_fonts()
    except FontError as exc:
        unavailable(str(exc))
