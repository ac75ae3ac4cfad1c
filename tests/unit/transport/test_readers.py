"""``--reader`` resolution (cardkit.transport.readers.resolve_reader): pure, no PC/SC."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import CardkitError, TransportError
from cardkit.transport.readers import (
    AmbiguousReaderError,
    ReaderNotFoundError,
    listing,
    resolve_reader,
)

VPCD = ["Virtual PCD 00 00", "Virtual PCD 00 01"]
# What the integration fixture's pcscd lists (scripts/virtual-reader.sh --readers 4).
VPCD4 = [*VPCD, "Virtual PCD 1 00 00", "Virtual PCD 1 00 01"]
REAL = [
    "ACS ACR1252 1S CL Reader [ACR1252 1S CL Reader PICC] 00 00",
    "Yubico YubiKey OTP+CCID 00 00",
]


@pytest.mark.parametrize(
    ("spec", "names", "expected"),
    [
        ("Virtual PCD 00 01", VPCD, "Virtual PCD 00 01"),  # exact
        ("1", VPCD, "Virtual PCD 00 01"),  # index, as `cardkit readers` prints it
        ("0", VPCD4, "Virtual PCD 00 00"),
        ("3", VPCD4, "Virtual PCD 1 00 01"),
        (" 1 ", VPCD, "Virtual PCD 00 01"),
        ("00 01", VPCD, "Virtual PCD 00 01"),  # substring
        ("pcd 1 00 00", VPCD4, "Virtual PCD 1 00 00"),
        ("yubikey", REAL, "Yubico YubiKey OTP+CCID 00 00"),  # any case
        ("acr1252", REAL, REAL[0]),
        ("1252", REAL, REAL[0]),  # a number out of range is matched as text
        (None, ["Only reader 00 00"], "Only reader 00 00"),  # left out: the only reader
        ("Virtual PCD 00 00", VPCD4, "Virtual PCD 00 00"),  # exact wins over substring
    ],
)
def test_resolves(spec: str | None, names: list[str], expected: str) -> None:
    assert resolve_reader(spec, names) == expected


def test_exact_name_wins_over_a_longer_name_containing_it() -> None:
    names = ["Reader 00 00", "Reader 00 00 extra"]
    assert resolve_reader("Reader 00 00", names) == "Reader 00 00"
    assert resolve_reader("reader 00 00", names) == "Reader 00 00"  # equal but for case
    with pytest.raises(AmbiguousReaderError):
        resolve_reader("reader", names)


def test_index_wins_over_substring() -> None:
    names = ["Virtual PCD 1 00 00", "Virtual PCD 00 01"]
    assert resolve_reader("1", names) == "Virtual PCD 00 01"  # not "PCD 1 ..."


def test_ambiguous_lists_the_candidates_with_their_index() -> None:
    with pytest.raises(AmbiguousReaderError) as caught:
        resolve_reader("pcd", VPCD)
    assert str(caught.value) == (
        "reader 'pcd' is ambiguous: 0 Virtual PCD 00 00, 1 Virtual PCD 00 01"
    )
    assert caught.value.spec == "pcd"
    assert caught.value.candidates == tuple(VPCD)
    with pytest.raises(AmbiguousReaderError) as only_some:
        resolve_reader("00 01", VPCD4)
    assert str(only_some.value) == (
        "reader '00 01' is ambiguous: 1 Virtual PCD 00 01, 3 Virtual PCD 1 00 01"
    )
    # A usage error (exit 2), not a reader error (exit 3).
    assert isinstance(caught.value, CardkitError)
    assert not isinstance(caught.value, TransportError)


def test_left_out_with_several_readers_lists_them() -> None:
    with pytest.raises(AmbiguousReaderError) as caught:
        resolve_reader(None, VPCD)
    assert str(caught.value) == (
        "several PC/SC readers: choose one with --reader (a name, a part of it or its index): "
        "0 Virtual PCD 00 00, 1 Virtual PCD 00 01"
    )
    assert caught.value.spec is None


@pytest.mark.parametrize("spec", ["ACR122", "2", "", "  "])
def test_no_match_lists_the_readers(spec: str) -> None:
    with pytest.raises(ReaderNotFoundError) as caught:
        resolve_reader(spec, VPCD)
    assert str(caught.value) == (
        f"no reader matches {spec!r}; readers: 0 Virtual PCD 00 00, 1 Virtual PCD 00 01"
    )
    assert isinstance(caught.value, TransportError)  # exit 3
    assert caught.value.spec == spec and caught.value.reader == spec
    assert caught.value.readers == tuple(VPCD)


@pytest.mark.parametrize("spec", [None, "Virtual PCD 00 00", "0"])
def test_no_readers_at_all(spec: str | None) -> None:
    with pytest.raises(ReaderNotFoundError) as caught:
        resolve_reader(spec, [])
    assert str(caught.value) == "no PC/SC readers (is pcscd running?)"


def test_unicode_digits_are_not_an_index() -> None:
    with pytest.raises(ReaderNotFoundError):
        resolve_reader("\u00b9", VPCD)  # "¹".isdigit() is True, int("¹") fails


def test_listing() -> None:
    assert listing(VPCD) == "0 Virtual PCD 00 00, 1 Virtual PCD 00 01"
    assert listing(VPCD4, ["Virtual PCD 1 00 00"]) == "2 Virtual PCD 1 00 00"
    assert listing([]) == ""


names_strategy = st.lists(st.text(min_size=1, max_size=12), max_size=5, unique=True)


@given(names=names_strategy, spec=st.one_of(st.none(), st.text(max_size=12)))
def test_resolution_is_a_listed_name_or_one_of_two_errors(
    names: list[str], spec: str | None
) -> None:
    try:
        chosen = resolve_reader(spec, names)
    except AmbiguousReaderError as exc:
        assert len(exc.candidates) > 1 and set(exc.candidates) <= set(names)
    except ReaderNotFoundError as exc:
        assert exc.readers == tuple(names)
    else:
        assert chosen in names


@given(names=names_strategy.filter(bool), data=st.data())
def test_every_listed_name_and_index_finds_its_reader(
    names: list[str], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(names) - 1))
    assert resolve_reader(names[index], names) == names[index]  # exact always wins
    if str(index) not in names:
        assert resolve_reader(str(index), names) == names[index]
