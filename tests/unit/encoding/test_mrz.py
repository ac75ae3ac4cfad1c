"""TD1/TD3 MRZ: check digits (9303-3 §4.9), layouts (9303-4, 9303-5), CCCD layout (DOMAIN §3)."""

from __future__ import annotations

import json
import string
from datetime import date
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cardkit.encoding.mrz import (
    MrzError,
    Td1,
    Td3,
    build_td1,
    build_td3,
    build_vn_td1,
    check,
    check_digit,
    parse_birth_date,
    parse_expiry_date,
    parse_mrz,
    yymmdd,
)
from cardkit.errors import EncodingError

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "mrz.json").read_text(encoding="utf-8")
)
TD1_SPECIMEN = "\n".join(VECTORS["td1_specimen"]["lines"])
TD3_SPECIMEN = "\n".join(VECTORS["td3_specimen"]["lines"])
MRZ_ALPHABET = string.ascii_uppercase + string.digits + "<"

# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize(
    ("value", "expected"),
    [(e["field"], e["check_digit"]) for e in VECTORS["check_digits"]["examples"]],
)
def test_check_digit_examples(value: str, expected: str) -> None:
    # Source: ICAO 9303-3 Appendix A, examples 1 and 2.
    assert check_digit(value) == expected


def test_composite_examples() -> None:
    # Source: ICAO 9303-3 Appendix A, example 4 (TD1: upper 6–30, middle 1–7, 9–15, 19–29).
    upper, middle = VECTORS["td1_composite"]["lines"]
    data = upper[5:30] + middle[0:7] + middle[8:15] + middle[18:29]
    assert check_digit(data) == middle[29]
    # Example 3 (TD3 lower line 1–10, 14–20, 22–43).
    lower = VECTORS["td3_lower_line"]["line"]
    assert check_digit(lower[0:10] + lower[13:20] + lower[21:43]) == lower[43]


def test_check_digit_rejects_characters_outside_the_alphabet() -> None:
    with pytest.raises(EncodingError):
        check_digit("ab")


def test_td1_specimen() -> None:
    # Source: ICAO 9303-5 Appendix B, Figure B-1.
    mrz = Td1.parse(TD1_SPECIMEN)
    for name, value in VECTORS["td1_specimen"]["fields"].items():
        assert getattr(mrz, name) == value, name
    assert mrz.lines == tuple(VECTORS["td1_specimen"]["lines"])
    assert str(mrz) == TD1_SPECIMEN
    assert mrz.vn_id_number is None
    # Concatenated form (as DG1 holds it) and surrounding whitespace.
    assert parse_mrz("  " + TD1_SPECIMEN.replace("\n", "") + "\n") == mrz
    assert parse_mrz(TD1_SPECIMEN.replace("\n", "\r\n")) == mrz


def test_td1_specimen_built_from_components() -> None:
    # Source: ICAO 9303-5 Appendix B: the VIZ data of the specimen gives its MRZ.
    mrz = build_td1(
        issuing_state="UTO",
        document_number="D23145890",
        date_of_birth=date(1974, 8, 12),
        sex="F",
        date_of_expiry=date(2012, 4, 15),
        nationality="UTO",
        primary_identifier="Eriksson",
        secondary_identifier="Anna María",
    )
    assert mrz.lines == tuple(VECTORS["td1_specimen"]["lines"])


def test_td1_long_document_number() -> None:
    # Source: ICAO 9303-11 Appendix D.2 (9303-5 note j).
    lines = VECTORS["td1_long_document_number"]["lines"]
    mrz = Td1.parse("\n".join(lines))
    assert mrz.document_number == VECTORS["td1_long_document_number"]["document_number"]
    assert mrz.optional_data == ""
    assert mrz.lines == tuple(lines)
    rebuilt = build_td1(
        issuing_state="UTO",
        document_number=mrz.document_number,
        date_of_birth="340712",
        sex="M",
        date_of_expiry="950712",
        nationality="UTO",
        primary_identifier="Stevenson",
        secondary_identifier="Peter John",
    )
    assert rebuilt.lines == tuple(lines)


def test_td3_specimen() -> None:
    # Source: ICAO 9303-4 Appendix B.
    mrz = Td3.parse(TD3_SPECIMEN)
    for name, value in VECTORS["td3_specimen"]["fields"].items():
        assert getattr(mrz, name) == value, name
    assert mrz.lines == tuple(VECTORS["td3_specimen"]["lines"])
    assert parse_mrz(TD3_SPECIMEN.replace("\n", "")) == mrz
    built = build_td3(
        issuing_state="UTO",
        document_number="L898902C3",
        date_of_birth=date(1974, 8, 12),
        sex="F",
        date_of_expiry=date(2012, 4, 15),
        nationality="UTO",
        primary_identifier="ERIKSSON",
        secondary_identifier="ANNA MARIA",
        optional_data="ZE184226B",
    )
    assert built == mrz


def test_td3_empty_personal_number_check_digit_may_be_filler() -> None:
    # Source: 9303-3 Appendix A example 3 writes 0 for an empty optional data field; 9303-4
    # §4.2.2.2 also allows <. Both parse; cardkit writes 0.
    line1 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
    zero = "L898902C36UTO7408122F1204159<<<<<<<<<<<<<<0"
    zero += check_digit(zero[0:10] + zero[13:20] + zero[21:43])
    filler = zero[:42] + "<" + check_digit(zero[0:10] + zero[13:20] + zero[21:42] + "<")
    assert Td3.parse(line1 + "\n" + zero).lines[1] == zero
    assert Td3.parse(line1 + "\n" + filler).optional_data == ""


def test_vietnamese_example() -> None:
    # Source: DOMAIN.md §3, the checked CCCD example.
    vn = VECTORS["vn_td1"]
    mrz = build_vn_td1(
        vn["id_number"],
        "Nguyễn Văn An",
        date.fromisoformat(vn["date_of_birth"]),
        vn["sex"],
        date.fromisoformat(vn["date_of_expiry"]),
    )
    assert mrz.lines[:2] == tuple(vn["lines_1_2"])
    assert mrz.lines[2] == "NGUYEN<<VAN<AN".ljust(30, "<")
    assert mrz.vn_id_number == vn["id_number"]
    assert mrz.document_number == vn["id_number"][3:]
    parsed = Td1.parse(str(mrz))
    assert parsed == mrz and parsed.vn_id_number == vn["id_number"]


def test_vietnamese_no_expiry_uses_the_profile_value() -> None:
    mrz = build_vn_td1("001093047064", "Lê Thị Đào", date(1950, 3, 2), "F", None)
    assert mrz.date_of_expiry == "991231"
    assert mrz.lines[2].startswith("LE<<THI<DAO<")
    fillers = build_vn_td1("001093047064", "Lê Đào", date(1950, 3, 2), "F", None, "<<<<<<")
    assert fillers.date_of_expiry == "<<<<<<"


def test_vietnamese_id_number_validated_without_echo() -> None:
    with pytest.raises(MrzError) as info:
        build_vn_td1("12345", "Lê Đào", date(1950, 3, 2), "F", None)
    assert info.value.field == "id_number"
    assert "12345" not in str(info.value)


def test_vietnamese_id_check_digit_is_verified() -> None:
    vn = VECTORS["vn_td1"]
    line1, line2 = vn["lines_1_2"]
    bad = line1[:29] + ("3" if line1[29] != "3" else "4")
    # Keep the composite right so that only the CCCD check digit is wrong.
    composite = check_digit(bad[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    text = "\n".join([bad, line2[:29] + composite, "NGUYEN<<AN".ljust(30, "<")])
    problems = check(text)
    assert [p.field for p in problems] == ["vn_id_number"]


# --------------------------------------------------------------------------- errors


def _td1_lines() -> list[str]:
    return list(VECTORS["td1_specimen"]["lines"])


@pytest.mark.parametrize("index", range(6))
def test_any_wrong_birth_date_digit_is_caught(index: int) -> None:
    # 7-3-1 weights are coprime with 10: every single-digit change is detected (9303-3 §4.9).
    for digit in "0123456789":
        lines = _td1_lines()
        if lines[1][index] == digit:
            continue
        lines[1] = lines[1][:index] + digit + lines[1][index + 1 :]
        text = "\n".join(lines)
        with pytest.raises(MrzError) as info:
            parse_mrz(text)
        assert info.value.field == "date_of_birth"
        assert isinstance(info.value, EncodingError)
        # The message names field and position, never the content (it derives the BAC keys).
        message = str(info.value)
        assert "date_of_birth" in message and "position" in message
        assert lines[1][:6] not in message and "740812" not in message
        fields = {p.field for p in check(text)}
        assert {"date_of_birth", "composite"} <= fields


def test_check_reports_every_problem() -> None:
    lines = _td1_lines()
    lines[0] = lines[0][:14] + "0" + lines[0][15:]  # document number check digit
    lines[1] = "7408122X1204150UTO<<<<<<<<<<<1"  # sex, expiry check digit, composite
    problems = check("\n".join(lines))
    assert [p.field for p in problems] == ["document_number", "sex", "date_of_expiry", "composite"]
    assert [(p.line, p.position) for p in problems] == [(1, 15), (2, 8), (2, 15), (2, 30)]
    assert check(TD1_SPECIMEN) == [] and check(TD3_SPECIMEN) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "I<UTO",
        TD1_SPECIMEN.lower(),
        TD1_SPECIMEN[:-1],
        TD1_SPECIMEN + "<",
        TD3_SPECIMEN.replace("\n", "\n\n") + "\nEXTRA",
    ],
)
def test_malformed_text(text: str) -> None:
    with pytest.raises(MrzError):
        parse_mrz(text)
    assert check(text)


def test_parse_by_type() -> None:
    with pytest.raises(MrzError, match="TD1"):
        Td1.parse(TD3_SPECIMEN)
    with pytest.raises(MrzError, match="TD3"):
        Td3.parse(TD1_SPECIMEN)


def test_long_number_announced_but_missing() -> None:
    # 9303-5 note j: position 15 < announces a continuation, which must end "check digit <".
    lines = _td1_lines()
    lines[0] = "I<UTOD23145890<<<<<<<<<<<<<<<<"
    problems = check("\n".join(lines))
    assert problems[0].field == "document_number" and problems[0].position == 15


def test_repr_hides_the_secret_fields() -> None:
    text = repr(Td1.parse(TD1_SPECIMEN)) + repr(Td3.parse(TD3_SPECIMEN))
    for secret in ("D23145890", "740812", "120415", "L898902C3", "ERIKSSON"):
        assert secret not in text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"document_code": "P<"}, "document_code"),
        ({"issuing_state": "U1O"}, "issuing_state"),
        ({"document_number": ""}, "document_number"),
        ({"document_number": "D2314<58901234"}, "document_number"),
        ({"date_of_birth": "741312"}, "date_of_birth"),
        ({"date_of_birth": "740230"}, "date_of_birth"),
        ({"date_of_expiry": "12<415"}, "date_of_expiry"),
        ({"sex": "X"}, "sex"),
        ({"nationality": "utO"}, "nationality"),
        ({"optional_data_2": "A" * 12}, "optional_data_2"),
        ({"primary_identifier": "ERIK  SSON"}, "name"),
        ({"secondary_identifier": "ANNA MARIA ELISABETH JOHANNA"}, "name"),
        ({"primary_identifier": "", "secondary_identifier": ""}, "name"),
    ],
)
def test_td1_construction_validates(changes: dict[str, str], field: str) -> None:
    values = {
        "document_code": "I<",
        "issuing_state": "UTO",
        "document_number": "D23145890",
        "date_of_birth": "740812",
        "sex": "F",
        "date_of_expiry": "120415",
        "nationality": "UTO",
        "primary_identifier": "ERIKSSON",
        "secondary_identifier": "ANNA MARIA",
    }
    values.update(changes)
    with pytest.raises(MrzError) as info:
        Td1(**values)
    assert info.value.field == field


def test_unknown_birth_date_parts_are_fillers() -> None:
    # 9303-3 §4.8: unknown parts of the date of birth are filled with <.
    mrz = build_td1(
        issuing_state="UTO",
        document_number="X1",
        date_of_birth="74<<<<",
        sex="<",
        date_of_expiry=None,
        nationality="UTO",
        primary_identifier="X",
    )
    assert Td1.parse(str(mrz)) == mrz
    assert mrz.date_of_expiry == "<<<<<<"


# --------------------------------------------------------------------------- dates


def test_dates() -> None:
    today = date(2024, 6, 1)
    assert yymmdd(date(1974, 8, 12)) == "740812"
    assert parse_birth_date("740812", today) == date(1974, 8, 12)
    assert parse_birth_date("050101", today) == date(2005, 1, 1)
    assert parse_birth_date("240602", today) == date(1924, 6, 2)  # tomorrow is 100 years ago
    assert parse_birth_date("000229", today) == date(2000, 2, 29)
    assert parse_expiry_date("330105") == date(2033, 1, 5)
    assert parse_expiry_date("<<<<<<") is None
    for bad in ("7408", "74<812", "741312"):
        with pytest.raises(EncodingError):
            parse_birth_date(bad, today)
    with pytest.raises(EncodingError):
        parse_expiry_date("990230")


# --------------------------------------------------------------------------- properties

_ALNUM = string.ascii_uppercase + string.digits
_CODE = st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=3).map(
    lambda s: s.ljust(3, "<")
)
_WORDS = st.lists(st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=8), max_size=3)


@st.composite
def _dates(draw: st.DrawFn, expiry: bool) -> str:
    if expiry and draw(st.booleans()):
        return "<<<<<<"
    day = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
    return yymmdd(day)


@st.composite
def td1_values(draw: st.DrawFn) -> Td1:
    number = draw(st.text(alphabet=_ALNUM, min_size=1, max_size=22))
    room = 15 if len(number) <= 9 else 15 - (len(number) - 9 + 2)
    primary = draw(_WORDS.filter(bool))
    secondary = draw(_WORDS)
    assume(len("<".join(primary)) + (2 + len("<".join(secondary)) if secondary else 0) <= 30)
    return Td1(
        document_code=draw(st.sampled_from(["I<", "ID", "AC", "C<", "IR"])),
        issuing_state=draw(_CODE),
        document_number=number,
        optional_data=draw(st.text(alphabet=_ALNUM + "<", max_size=room)),
        date_of_birth=draw(_dates(False)),
        sex=draw(st.sampled_from("MF<")),
        date_of_expiry=draw(_dates(True)),
        nationality=draw(_CODE),
        primary_identifier=" ".join(primary),
        secondary_identifier=" ".join(secondary),
        optional_data_2=draw(st.text(alphabet=_ALNUM + "<", max_size=11)),
    )


@st.composite
def td3_values(draw: st.DrawFn) -> Td3:
    primary = draw(_WORDS.filter(bool))
    secondary = draw(_WORDS)
    assume(len("<".join(primary)) + (2 + len("<".join(secondary)) if secondary else 0) <= 39)
    return Td3(
        document_code=draw(st.sampled_from(["P<", "PD", "PO"])),
        issuing_state=draw(_CODE),
        document_number=draw(st.text(alphabet=_ALNUM, min_size=1, max_size=9)),
        optional_data=draw(st.text(alphabet=_ALNUM + "<", max_size=14)),
        date_of_birth=draw(_dates(False)),
        sex=draw(st.sampled_from("MF<")),
        date_of_expiry=draw(_dates(True)),
        nationality=draw(_CODE),
        primary_identifier=" ".join(primary),
        secondary_identifier=" ".join(secondary),
    )


@given(td1_values())
def test_td1_round_trip(mrz: Td1) -> None:
    lines = mrz.lines
    assert [len(line) for line in lines] == [30, 30, 30]
    assert set("".join(lines)) <= set(MRZ_ALPHABET)
    assert Td1.parse(str(mrz)) == mrz
    assert parse_mrz("".join(lines)) == mrz
    assert check(str(mrz)) == []


@given(td3_values())
def test_td3_round_trip(mrz: Td3) -> None:
    lines = mrz.lines
    assert [len(line) for line in lines] == [44, 44]
    assert Td3.parse(str(mrz)) == mrz
    assert parse_mrz("".join(lines)) == mrz


@given(st.one_of(td1_values(), td3_values()), st.data())
def test_single_substitution_never_crashes(mrz: Td1 | Td3, data: st.DataObject) -> None:
    text = "".join(mrz.lines)
    index = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.sampled_from(MRZ_ALPHABET + "a?é "))
    mutated = text[:index] + char + text[index + 1 :]
    problems = check(mutated)
    try:
        parsed = parse_mrz(mutated)
    except MrzError as exc:
        assert problems and problems[0].field == exc.field
        return
    assert problems == []
    assert "".join(parsed.lines) == mutated or isinstance(parsed, Td3)


@given(st.text(max_size=120))
def test_random_text_raises_only_mrz_error(text: str) -> None:
    problems = check(text)
    try:
        parse_mrz(text)
    except MrzError:
        assert problems
        return
    assert problems == []


@given(st.text(alphabet=MRZ_ALPHABET, min_size=88, max_size=90))
def test_random_mrz_shaped_text(text: str) -> None:
    try:
        mrz = parse_mrz(text)
    except MrzError:
        assert check(text)
        return
    assert check(text) == []
    assert "".join(mrz.lines) == text or isinstance(mrz, Td3)
