"""`cardkit.services.verify`: the content checks (DG13 vs DG1, QR, expiry, deny list) on real
card files, hostile data groups never raising, access-control findings, a wrong key reported as
a failed read, trust loading, and the checkpoint loop of --watch."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardkit.emulator.card import EmulatorConnection
from cardkit.errors import PkiError, TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds import files
from cardkit.pki.trust import TrustStore
from cardkit.records.qr import QrPayload
from cardkit.report import Check, Status, Verdict
from cardkit.services.denylist import DenyEntry, DenyList
from cardkit.services.read import AccessKey
from cardkit.services.trust_input import load_trust
from cardkit.services.verify import (
    Inspection,
    content_checks,
    verify_card,
    watch_reader,
)

TODAY = forgery.TODAY


def _groups(card: Any) -> dict[int, bytes]:
    return {s.dg: d for s, d in card.files.items() if s.dg is not None}


def _get(result: Inspection, check_id: str) -> Check:
    check = result.report.get(check_id)
    assert check is not None, check_id
    return check


def _by_id(checks: tuple[Any, ...]) -> dict[str, Any]:
    return {c.id: c for c in checks}


def test_content_checks_pass_on_a_genuine_card(genuine: Any) -> None:
    record = forgery.sample_records()[0]
    qr = QrPayload.from_record(record).to_text()
    checks = _by_id(content_checks(_groups(genuine), today=TODAY, qr=qr, deny_list=DenyList()))
    assert {k: c.status for k, c in checks.items()} == {
        "dg13.dg1": Status.PASS,
        "dg13.expiry": Status.PASS,
        "qr.chip": Status.PASS,
        "document.expiry": Status.PASS,
        "document.denylist": Status.PASS,
    }


def test_qr_of_another_citizen_fails_and_names_fields_not_values(genuine: Any) -> None:
    other = QrPayload.from_record(forgery.sample_records()[3]).to_text()
    check = _by_id(content_checks(_groups(genuine), today=TODAY, qr=other))["qr.chip"]
    assert check.status is Status.FAIL and "ID number" in check.detail
    assert forgery.sample_records()[3].id_number not in check.detail
    bad = _by_id(content_checks(_groups(genuine), today=TODAY, qr="a|b"))["qr.chip"]
    assert bad.status is Status.FAIL and "unreadable" in bad.detail


def test_expired_card_fails(genuine: Any) -> None:
    record = forgery.sample_records()[0]
    later = record.date_of_expiry + datetime.timedelta(days=1)
    check = _by_id(content_checks(_groups(genuine), today=later))["document.expiry"]
    assert check.status is Status.FAIL
    on_the_day = _by_id(content_checks(_groups(genuine), today=record.date_of_expiry))
    assert on_the_day["document.expiry"].status is Status.PASS


def test_listed_document_fails(genuine: Any) -> None:
    record = forgery.sample_records()[0]
    deny = DenyList.of([DenyEntry(record.id_number[3:], "stolen")])
    check = _by_id(content_checks(_groups(genuine), today=TODAY, deny_list=deny))
    assert check["document.denylist"].status is Status.FAIL
    assert "stolen" in check["document.denylist"].detail


def test_missing_dg13_skips_without_failing(genuine: Any) -> None:
    groups = {n: d for n, d in _groups(genuine).items() if n != 13}
    checks = _by_id(content_checks(groups, today=TODAY))
    assert checks["dg13.dg1"].status is Status.SKIP and not checks["dg13.dg1"].essential
    assert checks["document.expiry"].status is Status.PASS  # from DG1


@settings(max_examples=60, deadline=None)
@given(
    number=st.sampled_from([1, 2, 13]),
    data=st.binary(max_size=200),
    qr=st.one_of(st.none(), st.text(max_size=80)),
)
def test_hostile_data_groups_never_raise(
    genuine: Any, number: int, data: bytes, qr: str | None
) -> None:
    groups = {**_groups(genuine), number: data}
    checks = content_checks(groups, today=TODAY, qr=qr, deny_list=DenyList())
    assert [c.id for c in checks] == [
        "dg13.dg1", "dg13.expiry", "qr.chip", "document.expiry", "document.denylist",
    ]  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(cut=st.integers(min_value=0, max_value=400))
def test_truncated_dg13_fails_consistency(genuine: Any, cut: int) -> None:
    raw = genuine.files[files.dg(13)]
    if cut >= len(raw):
        return
    checks = _by_id(content_checks({**_groups(genuine), 13: raw[:cut]}, today=TODAY))
    assert checks["dg13.dg1"].status is Status.FAIL


def test_bac_only_card_warns_about_low_entropy_keys(lab: Any) -> None:
    profile = dataclasses.replace(
        forgery.vn_profile(),
        name="vn-cccd-bac",
        access=dataclasses.replace(forgery.vn_profile().access, pace_passwords=()),
    )
    image = lab.image(profile, 1)
    card = forgery.Card("bac", dict(image.files), lab.secrets(image), None)
    chip = forgery.emulated(card, profile)
    result = verify_card(
        EmulatorConnection(chip), card.mrz_key(), lab.trust, at=forgery.VERIFIED_AT,
        profile=profile,
    )  # fmt: skip
    access = _get(result, "chip.access")
    assert result.access == "BAC" and access.status is Status.WARN
    assert "entropy" in access.detail
    assert result.verdict is Verdict.VALID  # a warning, not a failure


def test_wrong_can_is_access_denied_not_a_forgery(lab: Any, genuine: Any) -> None:
    chip = forgery.emulated(genuine)
    wrong = "000000" if genuine.secrets.can != "000000" else "111111"
    result = verify_card(EmulatorConnection(chip), AccessKey.from_can(wrong), lab.trust)
    assert result.verdict is Verdict.INCOMPLETE and result.access_denied
    access = _get(result, "chip.access")
    assert access.status is Status.SKIP
    assert access.detail == "access denied: the CAN does not open this card \u2014 enter it again"
    assert result.person is None and result.face is None
    assert wrong not in access.detail


def test_card_removed_raises_transport_error(lab: Any, genuine: Any) -> None:
    chip = forgery.emulated(genuine)

    class Pulled:
        def __init__(self) -> None:
            self.inner = EmulatorConnection(chip)
            self.count = 0

        def send(self, command: Command) -> Response:
            self.count += 1
            if self.count > 5:
                raise TransportError("card removed", reader="test")
            return self.inner.send(command)

    with pytest.raises(TransportError):
        verify_card(Pulled(), genuine.key(), lab.trust)


def test_untrusted_store_makes_a_genuine_card_invalid(genuine: Any) -> None:
    chip = forgery.emulated(genuine)
    result = verify_card(EmulatorConnection(chip), genuine.key(), TrustStore())
    assert _get(result, "dsc.chain").status is Status.FAIL
    # CA and AA ran, but without a trusted DG14/DG15 they are not counted as a genuine chip.
    assert _get(result, "chip.authentication").status is Status.SKIP


def test_load_trust_refuses_a_master_list_without_anchors(tmp_path: Path) -> None:
    ml = tmp_path / "ml.der"
    ml.write_bytes(b"\x30\x00")
    with pytest.raises(PkiError, match="master list"):
        load_trust(None, ml)
    crl = tmp_path / "x.crl"
    crl.write_bytes(b"not a crl")
    with pytest.raises(PkiError, match="CRL"):
        load_trust(None, None, [crl])


# --- the checkpoint loop -------------------------------------------------------------------------


@dataclasses.dataclass
class FakeStatus:
    name: str
    card_present: bool
    mute: bool = False


def test_watch_reports_each_card_and_survives_failures() -> None:
    # Timeline of polls: empty, card 1 ..., removed, card 2 ..., removed, card 3, removed.
    timeline = [False, True, True, False, True, False, False, True, False]
    polls = iter(timeline + [False] * 10)

    def statuses() -> list[FakeStatus]:
        return [FakeStatus("Reader A", next(polls)), FakeStatus("Other", True)]

    outcomes: Iterator[str | Exception] = iter(
        [ValueError("boom"), "second", TransportError("gone", reader="Reader A")]
    )
    results: list[object] = []
    events: list[str] = []

    def inspect() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    seen = watch_reader(
        "Reader A", inspect, results.append, statuses=statuses, on_event=events.append,
        sleep=lambda _s: None, max_cards=3,
    )  # fmt: skip
    assert seen == 3
    assert isinstance(results[0], ValueError) and results[1] == "second"
    assert isinstance(results[2], TransportError)
    assert events.count("inserted") == 3 and events.count("removed") == 3


def test_watch_waits_while_pcscd_is_down() -> None:
    calls: Iterator[bool | Exception] = iter(
        [TransportError("no pcscd"), TransportError("no pcscd"), True, False]
    )

    def statuses() -> list[FakeStatus]:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return [FakeStatus("R", value)]

    events: list[str] = []
    seen = watch_reader(
        "R", lambda: 1, lambda _r: None, statuses=statuses, on_event=events.append,
        sleep=lambda _s: None, max_cards=1,
    )  # fmt: skip
    assert seen == 1 and events.count("pcscd unavailable") == 1
