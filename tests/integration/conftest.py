"""Fixtures that start real external components for integration tests.

Each service has a small section; under ``CI=true`` a missing component fails the run instead
of skipping (CI installs them all).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from requirements import unavailable


def _load_helper(name: str) -> ModuleType:
    """Import a helper module next to this file (pytest runs in importlib mode)."""
    qualified = f"cardkit_tests_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


# --- SoftHSM2 --------------------------------------------------------------------------------

softhsm = _load_helper("softhsm")


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A fresh SoftHSM2 token (``softhsm.SoftHsmToken``) in a private token directory.

    One per test session: SoftHSM2 reads ``SOFTHSM2_CONF`` only when the module is initialised,
    and PKCS#11 login state is per process.
    """
    reason = softhsm.missing_reason()
    if reason is not None:
        unavailable(reason)
    conf = softhsm.write_config(tmp_path_factory.mktemp("softhsm"))
    token = softhsm.init_token(conf, "cardkit-test")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        _restart_pkcs11_module(token.module)
        yield token
        from cardkit.pki.keystore import pkcs11 as p11

        p11.close_all_sessions()


def _restart_pkcs11_module(module: str) -> None:
    """Drop cardkit's shared sessions and, if the module is already loaded in this process,
    re-run C_Initialize so it reads the current SOFTHSM2_CONF."""
    from cardkit.pki.keystore import pkcs11 as p11

    p11.close_all_sessions()
    import pkcs11

    loaded = getattr(pkcs11, "_loaded", {})
    if module in loaded:
        loaded[module].reinitialize()


# --- pcscd + vpcd + the card emulator ------------------------------------------------------------

pcsc = _load_helper("pcsc")

PCSC_READERS = 4  # slots 0..3: "Virtual PCD 00 00", "Virtual PCD 00 01", "Virtual PCD 1 00 0x"


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A running pcscd with ``PCSC_READERS`` vpcd readers (``pcsc.Pcscd``), started with
    scripts/virtual-reader.sh in a temporary run directory (or reused when one already lists
    them: pcscd's socket is machine-wide)."""
    reason = pcsc.missing_reason()
    if reason is not None:
        unavailable(reason)
    daemon = pcsc.start_pcscd(tmp_path_factory.mktemp("pcsc-run"), PCSC_READERS)
    try:
        yield daemon
    finally:
        daemon.close()


@pytest.fixture
def emulator(pcscd: object, tmp_path: Path) -> Iterator[object]:
    """A factory: ``emulator(slot, state=None, applet="cardkit")`` starts ``cardkit emulator
    start --slot N --state FILE --applet A`` as a subprocess, waits until pcscd sees the card
    and returns the ``pcsc.Emulator`` (``.reader``, ``.kill()``, ``.stop()``, ``.start()``).
    All are stopped after the test."""
    started: list[object] = []

    def start(slot: int, state: Path | None = None, applet: str = "cardkit") -> object:
        if not 0 <= slot < PCSC_READERS:
            raise ValueError(f"slot must be in 0..{PCSC_READERS - 1}")
        emu = pcsc.Emulator(
            slot=slot,
            state=state if state is not None else tmp_path / f"card-{slot}.state",
            log=tmp_path / f"emulator-{slot}.log",
            applet=applet,
        )
        started.append(emu)
        emu.start()
        return emu

    try:
        yield start
    finally:
        for emu in started:
            emu.stop()  # type: ignore[attr-defined]


# --- PostgreSQL (the batch journal shared by several stations) --------------------------------

postgres = _load_helper("postgres")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A throwaway PostgreSQL (``postgres.PostgresServer``: ``.url``, ``.database(name)``) on
    127.0.0.1 and a free port, for the whole session; stopped and deleted afterwards."""
    reason = postgres.missing_reason()
    if reason is not None:
        unavailable(reason)
    server = postgres.start()
    try:
        yield server
    finally:
        server.stop()
