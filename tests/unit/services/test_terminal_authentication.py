"""EAC end to end in process: `read_card` and `verify_card` with a terminal key (PACE, CA, TA,
DG3, AA) on an emulated chip personalized with a CVCA trust point; without one, DG3 stays
protected as before."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
import pytest
from cards import TODAY, VERIFIED_AT
from cryptography.hazmat.primitives import serialization

# The in-memory CV PKI and the personalized chip live with the chip's tests.
from eacpki import can_key, make_pki, personalized, pki

from cardkit.cli.options import load_terminal
from cardkit.emulator.card import EmulatorConnection
from cardkit.encoding import oids
from cardkit.errors import KeyStoreError
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds import files
from cardkit.lds.dg14 import Dg14
from cardkit.lds.security_infos import terminal_authentication_v1
from cardkit.report import Status, Verdict
from cardkit.services.read import CountingConnection, read_card
from cardkit.services.verify import verify_card


def test_full_read_with_pace_ca_ta_dg3_and_aa() -> None:
    p = personalized()
    counter = CountingConnection(EmulatorConnection(p.chip()))
    read = read_card(counter, can_key(p), terminal=pki().terminal())
    assert read.access == "PACE-CAN"
    assert read.chip_authentication == "CA"
    assert read.terminal_authentication == "passed", read.errors
    assert read.aa is not None and read.aa.verified
    assert read.protected == ()
    assert read.files[files.dg(3)] == p.image.files[files.dg(3)]
    described = read.describe()["terminal_authentication"]
    assert isinstance(described, dict) and described["status"] == "passed"
    assert counter.apdu_count <= 40, counter.apdu_count


def test_without_a_terminal_key_dg3_stays_protected() -> None:
    p = personalized()
    read = read_card(EmulatorConnection(p.chip()), can_key(p))
    assert read.protected == (3,)
    assert read.terminal_authentication == "not performed"
    assert files.dg(3) not in read.files


def test_a_refused_terminal_is_recorded_and_dg3_stays_protected() -> None:
    p = personalized()
    read = read_card(EmulatorConnection(p.chip()), can_key(p), terminal=make_pki("XX").terminal())
    assert read.terminal_authentication == "failed"
    assert read.ta_error is not None and "6A88" in read.ta_error
    assert read.protected == (3,)


def test_verify_card_with_a_terminal_key_is_valid_with_dg3_hashed() -> None:
    p = personalized()
    inspection = verify_card(
        EmulatorConnection(p.chip()),
        can_key(p),
        p.trust,
        at=VERIFIED_AT,
        today=TODAY,
        terminal=pki().terminal(),
    )
    report = inspection.report
    ta_check = report.get("terminal.authentication")
    assert ta_check is not None and ta_check.status is Status.PASS, ta_check
    dg3 = report.get("dg.hash.3")
    assert dg3 is not None and dg3.status is Status.PASS, dg3
    assert inspection.verdict is Verdict.VALID, inspection.failures()


def test_verify_card_with_a_refused_terminal_is_incomplete_not_invalid() -> None:
    p = personalized()
    expired = pki().new_terminal("VNIS00099", effective=TODAY - timedelta(days=60), days=5)
    inspection = verify_card(
        EmulatorConnection(p.chip()),
        can_key(p),
        p.trust,
        at=VERIFIED_AT,
        today=TODAY,
        terminal=expired,
    )
    check = inspection.report.get("terminal.authentication")
    assert check is not None and check.status is Status.SKIP and "6300" in check.detail
    assert inspection.verdict is Verdict.INCOMPLETE


def test_ta_with_short_apdus_uses_command_chaining() -> None:
    p = personalized()
    seen: list[Command] = []

    class Spy:
        def __init__(self) -> None:
            self.inner = EmulatorConnection(p.chip())

        def send(self, command: Command) -> Response:
            seen.append(command)
            return self.inner.send(command)

    read = read_card(Spy(), can_key(p), terminal=pki().terminal(), extended_length=False)
    assert read.terminal_authentication == "passed", read.errors
    assert not any(c.is_extended for c in seen)


def test_load_terminal_reads_the_key_and_the_chain_folder(tmp_path: Path) -> None:
    # The CLI options' loader (cardkit.cli.options.load_terminal), as `read`/`verify` use it.
    eac = pki()
    key_file = tmp_path / "is.pem"
    key_file.write_bytes(
        eac.is_signer.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"terminal secret"),
        )
    )
    chain = tmp_path / "chain"
    (chain / "links").mkdir(parents=True)
    (chain / "is.cvcert").write_bytes(eac.is_cert.raw)
    (chain / "dv.cvcert").write_bytes(eac.dv.raw)
    (chain / "cvca.cvcert").write_bytes(eac.cvca.raw)
    (tmp_path / "pw").write_bytes(b"terminal secret\n")
    key_file.chmod(0o600)
    (tmp_path / "pw").chmod(0o600)
    terminal = load_terminal(f"file:{key_file}", chain, f"file:{tmp_path / 'pw'}")
    assert terminal.certificate.raw == eac.is_cert.raw
    p = personalized()
    read = read_card(EmulatorConnection(p.chip()), can_key(p), terminal=terminal)
    assert read.terminal_authentication == "passed", read.errors

    assert load_terminal(None, None, None) is None
    with pytest.raises(click.UsageError):
        load_terminal(f"file:{key_file}", None, None)
    (chain / "broken.cvcert").write_bytes(b"\x7f\x21\x00")
    with pytest.raises(KeyStoreError, match=r"broken\.cvcert"):
        load_terminal(f"file:{key_file}", chain, f"file:{tmp_path / 'pw'}")


def test_dg14_announces_terminal_authentication_version_1() -> None:
    info = terminal_authentication_v1()
    # 9303-11 §9.2.7: SEQUENCE { id-TA (0.4.0.127.0.7.2.2.2), version 1 }
    assert info.raw == bytes.fromhex("300D060804007F00070202020201 01".replace(" ", ""))
    dg14 = Dg14.from_bytes(Dg14.build([info]).raw)
    (decoded,) = dg14.security_infos.terminal_authentication_infos
    assert decoded.version == 1 and decoded.protocol == oids.ID_TA
