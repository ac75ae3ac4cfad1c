"""DG13, Vietnam's citizen data (DOMAIN.md §4): hand-built known answer, real-card nesting
variants, unknown-field preservation, NFC round trips, malformed input."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds.dg13 import PRINTABLE_CHARS, Dg13, Dg13Field, Dg13Value

# Written by hand from the byte layout of DOMAIN.md §4 (not produced by the encoder):
# 6D { 30 { field 1, 2, 3, 4, 13, 14 } } with field 14 empty (no spouse).
HAND_BUILT = bytes.fromhex(
    "6D6F"  # DG13, 111 bytes
    "306D"  # the wrapping SEQUENCE, 109 bytes
    # field 1, ID number, PrintableString "001093047064"
    "3011" "020101" "130C" "303031303933303437303634"
    # field 2, full name, UTF8String "Nguyễn Văn A" (ễ = E1 BB 85, ă = C4 83)
    "3014" "020102" "0C0F" "4E677579" "E1BB85" "6E2056" "C483" "6E2041"
    # field 3, date of birth, PrintableString "05/01/1993"
    "300F" "020103" "130A" "30352F30312F31393933"
    # field 4, sex, UTF8String "Nam"
    "3008" "020104" "0C03" "4E616D"
    # field 13, parents: {30 0C father "Lê Văn C"} {30 0F mother "Đỗ Thị D"}
    "3022" "02010D"
    "300C" "0C0A" "4C" "C3AA" "2056" "C483" "6E2043"
    "300F" "0C0D" "C490" "E1BB97" "205468" "E1BB8B" "2044"
    # field 14, spouse: none
    "3003" "02010E"
)  # fmt: skip

HAND_BUILT_CONTENT = {
    "id_number": "001093047064",
    "full_name": "Nguyễn Văn A",
    "date_of_birth": "05/01/1993",
    "sex": "Nam",
    "father_name": "Lê Văn C",
    "mother_name": "Đỗ Thị D",
}


def test_hand_built_known_answer_decodes() -> None:
    dg = Dg13.from_bytes(HAND_BUILT)
    for name, value in HAND_BUILT_CONTENT.items():
        assert getattr(dg, name) == value
    assert dg.spouse_name is None
    assert dg.religion is None
    assert bytes(dg) == HAND_BUILT


def test_hand_built_known_answer_is_what_build_writes() -> None:
    assert bytes(Dg13.build(**HAND_BUILT_CONTENT)) == HAND_BUILT  # type: ignore[arg-type]


def test_describe_uses_english_names_and_numbers_for_unknown_fields() -> None:
    extra = Dg13Field.build(16, [Dg13Value.printable("ABCDEFGH12345678")])
    dg = Dg13.from_bytes(bytes(Dg13.build(**HAND_BUILT_CONTENT, extra_fields=[extra])))  # type: ignore[arg-type]
    described = dg.describe()
    assert described["fields"] == HAND_BUILT_CONTENT
    assert described["unknown_fields"] == {"16": ["ABCDEFGH12345678"]}


# --- real-card variation in the outer nesting ------------------------------------------------

F1 = bytes.fromhex("3011020101130C303031303933303437303634")  # field 1, as above
F4 = bytes.fromhex("30080201040C034E616D")  # field 4 "Nam"
F16 = bytes.fromhex("30150201101310") + b"ABCDEFGH12345678"  # field 16, 16 chars
F40 = bytes.fromhex("3009020128020105040100")  # unknown field 40: INTEGER and OCTET STRING
OID = bytes.fromhex("0603550403")  # an OID between the fields


@pytest.mark.parametrize(
    "content",
    [
        F1 + F4 + F16 + F40,  # fields directly inside 6D
        tlv.encode(0x30, F1 + F4 + F16 + F40),  # one SEQUENCE
        tlv.encode(0x31, F1 + F4 + F16 + F40),  # one SET
        tlv.encode(0x30, tlv.encode(0x31, F1 + F4) + F16 + F40),  # two levels
        tlv.encode(0x30, OID + bytes.fromhex("020101") + tlv.encode(0x31, F1 + F4 + F16 + F40)),
    ],
    ids=["flat", "sequence", "set", "nested", "versioned"],
)
def test_nesting_variants_decode_and_keep_their_bytes(content: bytes) -> None:
    data = tlv.encode(0x6D, content)
    dg = Dg13.from_bytes(data)
    assert dg.id_number == "001093047064"
    assert dg.sex == "Nam"
    assert [f.number for f in dg.unknown_fields] == [16, 40]
    assert dg.get_field(16).raw == F16  # type: ignore[union-attr]
    f40 = dg.get_field(40)
    assert f40 is not None and f40.raw == F40
    assert [v.kind for v in f40.values] == ["other", "other"]
    assert bytes(dg) == data


def test_versioned_wrapper_keeps_the_envelope_items() -> None:
    data = tlv.encode(0x6D, tlv.encode(0x30, OID + bytes.fromhex("020101") + F1))
    dg = Dg13.from_bytes(data)
    assert dg.extras == (OID, bytes.fromhex("020101"))
    assert dg.id_number == "001093047064"


@pytest.mark.parametrize("wrappers", [0, 1, 2])
def test_build_nesting_is_a_parameter(wrappers: int) -> None:
    dg = Dg13.build(id_number="001093047064", wrappers=wrappers)
    value = tlv.decode_single(bytes(dg), 0x6D).value
    for _ in range(wrappers):
        value = tlv.decode_single(value, 0x30).value
    assert value.startswith(F1)
    assert Dg13.from_bytes(bytes(dg)).id_number == "001093047064"


def test_unknown_fields_survive_a_rebuild() -> None:
    dg = Dg13.from_bytes(tlv.encode(0x6D, tlv.encode(0x30, F1 + F16 + F40)))
    again = Dg13.build(id_number=dg.id_number, extra_fields=dg.unknown_fields)
    assert F16 in bytes(again) and F40 in bytes(again)


def test_no_expiry_and_spouse() -> None:
    dg = Dg13.from_bytes(
        bytes(Dg13.build(date_of_expiry="Không thời hạn", spouse_name="Trần Thị E"))
    )
    assert dg.date_of_expiry == "Không thời hạn"
    assert dg.spouse_name == "Trần Thị E"


# --- round trips ----------------------------------------------------------------------------

# Vietnamese letters, precomposed and decomposed (base + U+0300/0301/0303/0309/0323 tone marks).
vietnamese = st.text(
    alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯễợ ,./-0123456789\u0300\u0301\u0303\u0309\u0323",
    max_size=40,
)
printable = st.text(alphabet=sorted(PRINTABLE_CHARS), max_size=20)
TEXT_NAMES = (
    "full_name", "sex", "nationality", "ethnicity", "religion", "place_of_origin",
    "place_of_residence", "identifying_marks", "date_of_expiry",
    "father_name", "mother_name", "spouse_name",
)  # fmt: skip
PRINTABLE_NAMES = ("id_number", "date_of_birth", "date_of_issue", "old_id_number")


@st.composite
def dg13_content(draw: st.DrawFn) -> dict[str, str | None]:
    content: dict[str, str | None] = {n: draw(st.none() | vietnamese) for n in TEXT_NAMES}
    content.update({n: draw(st.none() | printable) for n in PRINTABLE_NAMES})
    return content


def _nfc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text)


@given(dg13_content(), st.integers(0, 2))
def test_round_trip_normalises_to_nfc(content: dict[str, str | None], wrappers: int) -> None:
    built = Dg13.build(**content, wrappers=wrappers)  # type: ignore[arg-type]
    decoded = Dg13.from_bytes(bytes(built))
    assert decoded == built
    assert bytes(decoded) == bytes(built)
    for name, value in content.items():
        got = getattr(decoded, name)
        if name in ("father_name", "mother_name", "spouse_name") and value is None:
            assert got is None
        else:
            assert got == _nfc(value)
    assert isinstance(decoded.describe(), dict)


@given(st.lists(st.integers(16, 300), unique=True, max_size=4), st.data())
def test_unknown_fields_round_trip(numbers: list[int], data: st.DataObject) -> None:
    extras = [
        Dg13Field.build(
            n, [Dg13Value.from_tlv(tlv.Tlv.build(0x04, data.draw(st.binary(max_size=8))))]
        )
        for n in numbers
    ]
    dg = Dg13.from_bytes(bytes(Dg13.build(id_number="1", extra_fields=extras)))
    assert dg.unknown_fields == tuple(sorted(extras, key=lambda f: f.number))


# --- build-side validation --------------------------------------------------------------------


@pytest.mark.parametrize("name", PRINTABLE_NAMES)
@pytest.mark.parametrize("bad", ["Không", "12@3", "a_b", "x\n"])
def test_printable_fields_reject_other_characters(name: str, bad: str) -> None:
    with pytest.raises(EncodingError):
        Dg13.build(**{name: bad})  # type: ignore[arg-type]


def test_extra_fields_must_not_shadow_known_ones() -> None:
    with pytest.raises(EncodingError):
        Dg13.build(extra_fields=[Dg13Field.build(2, [Dg13Value.utf8("x")])])


# --- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_hex",
    [
        "30070201020C02C328",  # UTF8String that is not UTF-8
        "300702010113024140",  # PrintableString with '@'
        "30070201011302C3A9",  # PrintableString with non-ASCII bytes
        "3011020101130C303031303933303437303634" "3006020101130131",  # field 1 twice
        "30090201020C01410C0142",  # full name with two values
        "3006020102020101",  # full name that is an INTEGER
        "300602010D300130",  # parents: a malformed inner SEQUENCE
        "300402020002",  # field number not DER-minimal
        "30030201FF",  # negative field number
        "3003020100",  # field number 0
        "300D02010E30030C014130030C0142",  # two spouses
    ],
)  # fmt: skip
def test_malformed_fields_are_rejected(content_hex: str) -> None:
    with pytest.raises(EncodingError):
        Dg13.from_bytes(tlv.encode(0x6D, bytes.fromhex(content_hex)))


def test_deep_nesting_is_rejected() -> None:
    content = F1
    for _ in range(20):
        content = tlv.encode(0x30, content)
    with pytest.raises(EncodingError):
        Dg13.from_bytes(tlv.encode(0x6D, content))


@given(st.binary(max_size=120))
def test_random_bytes_only_raise_encoding_error(data: bytes) -> None:
    try:
        dg = Dg13.from_bytes(data)
    except EncodingError:
        return
    assert bytes(dg) == data


@given(st.binary(max_size=100))
def test_random_content_under_the_dg13_tag(body: bytes) -> None:
    data = tlv.encode(0x6D, body)
    try:
        dg = Dg13.from_bytes(data)
    except EncodingError:
        return
    assert bytes(dg) == data


@given(st.data())
def test_byte_flips_only_raise_encoding_error(data: st.DataObject) -> None:
    raw = bytearray(HAND_BUILT)
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255))
    try:
        dg = Dg13.from_bytes(bytes(raw))
    except EncodingError:
        return
    assert bytes(dg) == bytes(raw)


@given(st.integers(0, len(HAND_BUILT) - 1))
def test_truncations_are_rejected(cut: int) -> None:
    with pytest.raises(EncodingError):
        Dg13.from_bytes(HAND_BUILT[:cut])


@pytest.mark.parametrize("delta", [-1, 1])
def test_wrong_outer_length_is_rejected(delta: int) -> None:
    value = HAND_BUILT[2:]
    with pytest.raises(EncodingError):
        Dg13.from_bytes(b"\x6d" + tlv.encode_length(len(value) + delta) + value)


@given(st.integers(0x01, 0xFE).filter(lambda t: t != 0x6D))
def test_wrong_tag_is_rejected(tag: int) -> None:
    with pytest.raises(EncodingError):
        Dg13.from_bytes(bytes([tag]) + HAND_BUILT[1:])
