"""A hostile chip (issue 11, item 5): whatever a card sends, reading and verifying never crash.

A :class:`Hostile` connection sits between the terminal and cardkit's in-process emulated
*genuine* chip (PACE-CAN with AES secure messaging, or BAC with 3DES) and replaces the chip's
answer at one APDU, chosen by hypothesis, with random garbage, a truncated or over-long data
field, a flipped bit in the MAC (DO'8E') or in the cryptogram (DO'87'), another status word, an
earlier response replayed, or an empty data field. A :class:`LyingChip` does the same *inside*
the chip, before secure messaging protects the answer (a chip that holds the keys and lies).

Properties:

- :func:`read_card` raises only :class:`~cardkit.errors.CardkitError` subclasses (never an
  IndexError, ValueError, a ``cryptography`` or asn1crypto exception), and raises — it never
  returns a read — once the data field of a *protected* response was changed: secure messaging
  (ICAO 9303-11 §9.8) authenticates every protected data object, and a session whose response
  does not verify is over.
- :func:`verify_card` returns an Inspection or raises TransportError, nothing else; and once the
  data field of a protected response was changed its verdict is not VALID.
- A reader that fails at any APDU (TransportError) surfaces as that TransportError, nothing else.

"Protected" is what the chip sent under secure messaging (its data field ends with DO'8E'). The
*data field* is what 9303-11 §9.8 protects: DO'87'/DO'85', DO'99' (the status word, protected)
and DO'8E'. The response trailer SW1-SW2 outside them is not protected; cardkit, like JMRTD,
acts on DO'99' — so a trailer-only change of a protected response is harmless, and
:func:`test_trailer_of_a_protected_response_is_not_trusted` checks exactly that.

Every run is deterministic (seeded chip and terminal randomness), so hypothesis can shrink and
replay a failure. Examples are set per test (the CI profile's 300 would take minutes here): the
file runs in about 15 s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.emulator.state import CardState
from cardkit.errors import CardkitError, TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.report import Verdict
from cardkit.services.read import CardRead, read_card
from cardkit.services.verify import Inspection, verify_card

MAC_DO = b"\x8e\x08"  # DO'8E', 8 bytes: the last data object of a protected response
MAC_DO_LENGTH = 10


# --- The genuine chip, built once ----------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    lab: Any
    card: Any
    key: Any  # the AccessKey that opens the chip
    state: CardState
    apdus: int  # APDUs of one untouched verify_card run
    protected: tuple[int, ...]  # indices of its protected responses
    baseline: Inspection  # that run's inspection


@lru_cache(maxsize=1)
def lab() -> Any:
    return forgery.Lab()


@lru_cache(maxsize=2)
def setup(access: str) -> Setup:
    """The genuine card on a chip: "PACE" (PACE-CAN, AES secure messaging) or "BAC" (no
    EF.CardAccess, no CAN: BAC with the MRZ and 3DES secure messaging)."""
    the_lab = lab()
    card = the_lab.genuine()
    if access == "BAC":
        card = dataclasses.replace(
            card,
            name="bac-only",
            files={s: d for s, d in card.files.items() if s != files.CARD_ACCESS},
            secrets=dataclasses.replace(card.secrets, can=None),
        )
    key = card.key()
    state = CardState()
    forgery.personalize_onto(card, EmulatorConnection(EmulatedCard(state)))
    recorder = Hostile(fresh_chip(state, 0), Plan("none", 10**6))
    inspection = verify_card(
        recorder, key, the_lab.trust, at=forgery.VERIFIED_AT, today=forgery.TODAY, rng=rng(0)
    )
    protected = tuple(i for i, r in enumerate(recorder.history) if is_protected(r))
    return Setup(the_lab, card, key, state, len(recorder.history), protected, inspection)


def rng(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


def fresh_chip(state: CardState, seed: int) -> EmulatorConnection:
    """A powered-on chip over the (locked, read-only) personalized state, seeded randomness."""
    return EmulatorConnection(EmulatedCard(state, rng=rng(seed + 1)))


def is_protected(response: Response) -> bool:
    data = response.data
    return len(data) >= MAC_DO_LENGTH and data[-MAC_DO_LENGTH:-8] == MAC_DO


# --- The hostile connection -----------------------------------------------------------------------

KINDS = (
    "garbage",  # random data field and status word
    "truncate",  # the data field cut short
    "extend",  # the data field with extra bytes after it
    "flip_mac",  # one bit of DO'8E' (any data bit when there is no DO'8E')
    "flip_cryptogram",  # one bit inside DO'87'/DO'85' (any data bit when there is none)
    "flip_any",  # one bit anywhere in the data field
    "status",  # another status word, the data field kept
    "replay",  # an earlier response of this session, whole
    "empty",  # no data field, the status word kept
)

INTERESTING_SW = (
    0x9000, 0x6282, 0x6300, 0x63C0, 0x6700, 0x6982, 0x6985, 0x6987, 0x6988, 0x6A80, 0x6A82,
    0x6A88, 0x6B00, 0x6C10, 0x6D00, 0x6F00, 0x6100, 0x6110,
)  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What to do to the answer of APDU ``index`` (0-based)."""

    kind: str
    index: int
    garbage: bytes = b""
    position: int = 0  # a byte position, taken modulo the length it applies to
    bit: int = 0
    sw: int = 0x9000
    replay: int = 0  # which earlier response, modulo their number

    def __repr__(self) -> str:  # hypothesis prints it on failure
        return (
            f"Plan({self.kind!r}, index={self.index}, garbage={self.garbage.hex()!r}, "
            f"position={self.position}, bit={self.bit}, sw={self.sw:04X}, replay={self.replay})"
        )


def _flip(data: bytes, start: int, length: int, plan: Plan) -> bytes:
    if length <= 0:
        return data
    at = start + plan.position % length
    out = bytearray(data)
    out[at] ^= 1 << plan.bit
    return bytes(out)


def _cryptogram_span(data: bytes) -> tuple[int, int] | None:
    """(start, length) of the value of a leading DO'87'/DO'85' (short or long form length)."""
    if len(data) < 2 or data[0] not in (0x85, 0x87):
        return None
    first = data[1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 3 or len(data) < 2 + count:
            return None
        header, length = 2 + count, int.from_bytes(data[2 : 2 + count], "big")
    if header + length > len(data):
        return None
    return header, length


def tamper(response: Response, plan: Plan, history: list[Response]) -> Response:
    data, sw = response.data, response.sw
    kind = plan.kind
    if kind == "garbage":
        return Response(plan.garbage, plan.sw)
    if kind == "truncate":
        return Response(data[: plan.position % len(data)] if data else b"", sw)
    if kind == "extend":
        return Response(data + (plan.garbage or b"\x00"), sw)
    if kind == "flip_mac" and is_protected(response):
        return Response(_flip(data, len(data) - 8, 8, plan), sw)
    if kind == "flip_cryptogram":
        span = _cryptogram_span(data)
        if span is not None:
            return Response(_flip(data, span[0], span[1], plan), sw)
    if kind in ("flip_mac", "flip_cryptogram", "flip_any"):
        return Response(_flip(data, 0, len(data), plan), sw)
    if kind == "status":
        return Response(data, plan.sw)
    if kind == "replay":
        return history[plan.replay % len(history)] if history else Response(b"", plan.sw)
    if kind == "empty":
        return Response(b"", sw)
    assert kind in ("none", "transport"), kind
    return response


class Hostile:
    """A Connection to the chip that rewrites (or, kind "transport", fails) APDU ``plan.index``.

    ``history`` holds the responses as the terminal saw them; ``original``/``tampered`` the
    response of the target APDU before and after, once it has been sent."""

    def __init__(self, inner: EmulatorConnection, plan: Plan) -> None:
        self.inner = inner
        self.plan = plan
        self.history: list[Response] = []
        self.original: Response | None = None
        self.tampered: Response | None = None
        self.raised: TransportError | None = None

    def send(self, command: Command) -> Response:
        index = len(self.history)
        if index == self.plan.index and self.plan.kind == "transport":
            self.raised = TransportError("card removed from test reader", reader="test reader")
            self.history.append(Response(b"", 0x6F00))  # counts the APDU
            raise self.raised
        response = self.inner.send(command)
        if index == self.plan.index:
            self.original = response
            response = tamper(response, self.plan, self.history)
            self.tampered = response
        self.history.append(response)
        return response

    @property
    def protected_data_changed(self) -> bool:
        """Whether the target was a protected response whose data field was changed."""
        return (
            self.original is not None
            and self.tampered is not None
            and is_protected(self.original)
            and self.tampered.data != self.original.data
        )


ACCESS = st.sampled_from(["PACE", "BAC"])


@st.composite
def plans(draw: st.DrawFn, access: str = "PACE", protected_only: bool = False) -> Plan:
    s = setup(access)
    if protected_only:
        index = draw(st.sampled_from(s.protected))
    else:
        index = draw(st.integers(0, s.apdus - 1))
    sw = draw(st.one_of(st.sampled_from(INTERESTING_SW), st.integers(0, 0xFFFF)))
    return Plan(
        kind=draw(st.sampled_from(KINDS)),
        index=index,
        garbage=draw(st.binary(max_size=300)),
        position=draw(st.integers(0, 1 << 16)),
        bit=draw(st.integers(0, 7)),
        sw=sw,
        replay=draw(st.integers(0, 1 << 8)),
    )


@st.composite
def access_and_plans(draw: st.DrawFn, protected_only: bool = False) -> tuple[str, Plan]:
    access = draw(ACCESS)
    return access, draw(plans(access, protected_only))


def hostile(plan: Plan, seed: int, access: str = "PACE") -> Hostile:
    return Hostile(fresh_chip(setup(access).state, seed), plan)


def run_read(conn: Connection, seed: int, access: str = "PACE") -> CardRead:
    return read_card(conn, setup(access).key, rng=rng(seed))


def run_verify(conn: Connection, seed: int, access: str = "PACE") -> Inspection:
    s = setup(access)
    return verify_card(
        conn, s.key, s.lab.trust, at=forgery.VERIFIED_AT, today=forgery.TODAY, rng=rng(seed)
    )


SEEDS = st.integers(0, 2**32 - 1)


def hostile_settings(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(max_examples=examples, suppress_health_check=[HealthCheck.too_slow])


# --- read_card: only cardkit's errors, and no read from a tampered protected response ------------


@hostile_settings(150)
@given(case=access_and_plans(), seed=SEEDS)
def test_read_card_raises_only_cardkit_errors(case: tuple[str, Plan], seed: int) -> None:
    access, plan = case
    conn = hostile(plan, seed, access)
    try:
        result = run_read(conn, seed, access)
    except CardkitError:
        return
    assert isinstance(result, CardRead)
    # A read that completed never took a protected response whose data was changed (§9.8).
    assert not conn.protected_data_changed, plan


@hostile_settings(100)
@given(case=access_and_plans(protected_only=True), seed=SEEDS)
def test_read_card_refuses_any_change_to_a_protected_response(
    case: tuple[str, Plan], seed: int
) -> None:
    access, plan = case
    conn = hostile(plan, seed, access)
    try:
        run_read(conn, seed, access)
    except CardkitError:
        return
    assert not conn.protected_data_changed, plan


# --- verify_card: an Inspection or TransportError; never VALID after tampering --------------------


@hostile_settings(150)
@given(case=access_and_plans(), seed=SEEDS)
def test_verify_card_never_raises_and_never_accepts_tampering(
    case: tuple[str, Plan], seed: int
) -> None:
    access, plan = case
    conn = hostile(plan, seed, access)
    try:
        inspection = run_verify(conn, seed, access)
    except TransportError:
        return  # allowed: a reader or card that goes away (none does here, but it is legal)
    assert isinstance(inspection, Inspection)
    if conn.protected_data_changed:
        assert inspection.verdict is not Verdict.VALID, plan


@hostile_settings(100)
@given(plan=plans("PACE", protected_only=True), seed=SEEDS)
def test_verify_card_is_never_valid_after_a_protected_response_changed(
    plan: Plan, seed: int
) -> None:
    conn = hostile(plan, seed)
    inspection = run_verify(conn, seed)
    if conn.protected_data_changed:
        assert inspection.verdict is not Verdict.VALID, plan


# --- A chip that holds the session keys and lies --------------------------------------------------


class LyingChip(EmulatedCard):
    """A chip that rewrites its own answer to command ``plan.index`` *before* secure messaging
    protects it: the MAC verifies, the content is whatever the chip likes. (A hook on the
    emulator's command dispatch; what reaches the terminal is a well-formed protected answer.)"""

    def __init__(self, state: CardState, plan: Plan, seed: int) -> None:
        super().__init__(state, rng=rng(seed + 1))
        self.plan = plan
        self.history: list[Response] = []

    def _process(self, command: Command) -> Response:
        response = super()._process(command)
        if len(self.history) == self.plan.index:
            response = tamper(response, self.plan, self.history)
        self.history.append(response)
        return response


@hostile_settings(120)
@given(case=access_and_plans(), seed=SEEDS)
def test_a_lying_chip_yields_only_cardkit_errors_and_inspections(
    case: tuple[str, Plan], seed: int
) -> None:
    access, plan = case
    state = setup(access).state
    with contextlib.suppress(CardkitError):  # any of cardkit's errors, and nothing else
        run_read(EmulatorConnection(LyingChip(state, plan, seed)), seed, access)
    try:
        inspection = run_verify(EmulatorConnection(LyingChip(state, plan, seed)), seed, access)
    except TransportError:
        return
    assert isinstance(inspection, Inspection)


# --- The reader goes away -------------------------------------------------------------------------


@hostile_settings(40)
@given(access=ACCESS, index=st.integers(0, 40), seed=SEEDS)
def test_transport_error_at_any_apdu_propagates_as_itself(
    access: str, index: int, seed: int
) -> None:
    for call in ("read", "verify"):
        conn = hostile(Plan("transport", index), seed, access)
        try:
            if call == "read":
                run_read(conn, seed, access)
            else:
                run_verify(conn, seed, access)
        except TransportError as exc:
            assert exc is conn.raised, (call, index)
            continue
        except Exception as exc:  # anything else is the bug this test is for
            pytest.fail(f"{call}: {type(exc).__name__} at APDU {index}: {exc}")
        assert conn.raised is None, f"{call} swallowed the TransportError at APDU {index}"


# --- The setting, and what is and is not protected -----------------------------------------------


def test_the_untouched_pace_chip_is_valid() -> None:
    """Without it "never VALID after tampering" would hold vacuously. (The BAC-only chip is
    not VALID by design: its DG14 lists PACE, so BAC alone is a downgrade; it serves the
    read-layer properties.)"""
    baseline = setup("PACE").baseline
    assert baseline.verdict is Verdict.VALID, [c.to_dict() for c in baseline.failures()]


@pytest.mark.parametrize("access", ["PACE", "BAC"])
def test_the_session_is_protected_after_access_control(access: str) -> None:
    s = setup(access)
    # EF.ATR/INFO, EF.CardAccess, PACE or BAC run in clear; everything after them is protected.
    assert 15 <= s.apdus <= 40, s.apdus
    assert len(s.protected) >= s.apdus - 12, (s.apdus, s.protected)
    assert s.protected == tuple(range(s.protected[0], s.apdus))
    assert read_card(EmulatorConnection(EmulatedCard(s.state)), s.key).access == (
        "PACE-CAN" if access == "PACE" else "BAC"
    )


@pytest.mark.parametrize("sw", [0x6282, 0x6A82, 0x6F00])
def test_trailer_of_a_protected_response_is_not_trusted(sw: int) -> None:
    """The trailer SW1-SW2 is outside secure messaging; DO'99' carries the status that counts
    (9303-11 §9.8): changing only the trailer changes nothing cardkit acts on."""
    s = setup("PACE")
    for index in (s.protected[0], s.protected[len(s.protected) // 2], s.protected[-1]):
        conn = hostile(Plan("status", index, sw=sw), 7)
        inspection = run_verify(conn, 7)
        assert conn.tampered is not None and conn.tampered.sw == sw
        assert not conn.protected_data_changed
        assert inspection.verdict is s.baseline.verdict
        assert inspection.report == s.baseline.report


@pytest.mark.parametrize("access", ["PACE", "BAC"])
@pytest.mark.parametrize("kind", ["flip_mac", "flip_cryptogram", "truncate", "extend", "empty"])
def test_each_protected_tampering_is_refused_by_the_read(kind: str, access: str) -> None:
    s = setup(access)
    for index in s.protected:
        conn = hostile(Plan(kind, index, garbage=b"\x90\x00"), 3, access)
        with pytest.raises(CardkitError):
            run_read(conn, 3, access)
        assert conn.protected_data_changed
