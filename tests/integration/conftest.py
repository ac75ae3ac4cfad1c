"""Fixtures that start real external components for integration tests.

Each service has a small section; under ``CI=true`` a missing component fails the run instead
of skipping (CI installs them all).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


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


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must provide it")
    pytest.skip(reason)


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
        _unavailable(reason)
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
