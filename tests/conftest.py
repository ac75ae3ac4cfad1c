"""Shared pytest configuration.

Hypothesis: no per-example deadline (CI machines are small and shared); more examples in CI.
Under CI=true a skipped test counts as failed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import forgery  # tests/support/forgery.py
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=300
)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "default")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under CI=true nothing may skip: every component (pcscd, vpcd, SoftHSM2, PostgreSQL,
    openssl, fonts, zbar, poppler) is installed by the bootstrap, so a skip there is a failure."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where nothing may be missing: {report.longrepr}"


# --- The forged-card lab (tests/support/forgery.py), shared by every test that needs it -------


@pytest.fixture(scope="session")
def lab() -> forgery.Lab:
    """A trusted test PKI and a forger's material; built once per test session."""
    return forgery.Lab()


@pytest.fixture(scope="session")
def genuine(lab: forgery.Lab) -> forgery.Card:
    """The lab's genuine card (sample citizen 0 on the vn-cccd-2021 profile)."""
    return lab.genuine()


@pytest.fixture(scope="session")
def trust_dir(lab: forgery.Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab's trust anchors as a `--trust` folder."""
    return lab.write_trust(tmp_path_factory.mktemp("trust"))
