"""Transliteration and name fields: ICAO 9303-3 §4.6 / §6 Table A, 9303-5 / 9303-7 §4.2.3."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding.translit import mrz_name, split_vietnamese_name, transliterate
from cardkit.errors import EncodingError

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "mrz.json").read_text(encoding="utf-8")
)

# Vietnamese letters (Quốc ngữ): the 12 vowels with their 5 tones, Đ, and the plain consonants.
_VN_VOWELS = "aăâeêioôơuưy"
_VN_TONED = "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
VIETNAMESE = _VN_VOWELS + _VN_TONED + "đbcdghklmnpqrstvx"
VIETNAMESE += VIETNAMESE.upper()


@pytest.mark.parametrize(
    ("character", "expected"),
    [(row["character"], row["mrz"]) for row in VECTORS["table_a"]["examples"]],
)
def test_table_a(character: str, expected: str) -> None:
    # Source: ICAO 9303-3 §6 Table A.
    assert transliterate(character) == expected
    assert transliterate(character.lower()) == expected


@pytest.mark.parametrize(
    ("viz", "expected"),
    [(row["viz"], row["mrz"]) for row in VECTORS["punctuation"]["examples"]],
)
def test_punctuation_examples(viz: str, expected: str) -> None:
    # Source: ICAO 9303-3 §4.6.
    assert transliterate(viz) == expected


def test_vietnamese_rules() -> None:
    # DOMAIN.md §3: diacritics stripped, Đ/đ → D (9303-3 Table A row 0110), spaces → <.
    assert transliterate("Nguyễn Văn Đức") == "NGUYEN<VAN<DUC"
    assert transliterate("Trần Thị Ánh Nguyệt") == "TRAN<THI<ANH<NGUYET"
    assert transliterate("đặng ưng ơn") == "DANG<UNG<ON"
    # The same name typed in decomposed form (NFD) gives the same MRZ.
    assert transliterate("Nguye\u0302\u0303n") == "NGUYEN"


def test_sharp_s_and_other_punctuation() -> None:
    # Table A: ß (upper case ẞ) → SS; 9303-3 §4.6: other punctuation omitted, no filler.
    assert transliterate("Straße") == "STRASSE"
    assert transliterate("St. John") == "ST<JOHN"
    assert transliterate("  Anna   Maria  ") == "ANNA<MARIA"


@pytest.mark.parametrize("text", ["王", "Иван", "Nguyễn 王", "A\u0661"])
def test_untransliterable_names_the_character_not_the_name(text: str) -> None:
    with pytest.raises(EncodingError) as info:
        transliterate(text)
    message = str(info.value)
    assert "U+" in message
    assert "NGUYEN" not in message.upper() and "Nguyễn" not in message


@given(st.text(alphabet=VIETNAMESE + " -'", max_size=40))
def test_vietnamese_always_transliterates(text: str) -> None:
    out = transliterate(text)
    assert re.fullmatch(r"[A-Z]*(<[A-Z]+)*", out), out
    assert len(out.replace("<", "")) == sum(1 for ch in text if ch.isalpha())


@given(st.text(max_size=30))
def test_any_text_gives_mrz_characters_or_encoding_error(text: str) -> None:
    try:
        out = transliterate(text)
    except EncodingError:
        return
    assert set(out) <= set(string.ascii_uppercase + string.digits + "<")
    assert "<<" not in out and not out.startswith("<") and not out.endswith("<")
    assert transliterate(out) == out  # idempotent


@pytest.mark.parametrize(
    ("primary", "secondary", "expected"),
    [(r["primary"], r["secondary"], r["mrz"]) for r in VECTORS["td1_names"]["examples"]],
)
def test_td1_name_examples(primary: str, secondary: str, expected: str) -> None:
    # Source: ICAO 9303-5 §4.2.3.
    assert mrz_name(primary, secondary, 30) == expected


@pytest.mark.parametrize(
    ("primary", "secondary", "expected"),
    [(r["primary"], r["secondary"], r["mrz"]) for r in VECTORS["td3_names"]["examples"]],
)
def test_39_position_name_examples(primary: str, secondary: str, expected: str) -> None:
    # Source: ICAO 9303-7 §4.2.2–4.2.3 (the same 39-position field as a TD3, 9303-4 §4.2.2).
    assert mrz_name(primary, secondary, 39) == expected.ljust(39, "<")


def test_primary_identifier_truncation_leaves_room_for_the_secondary_initial() -> None:
    # 9303-5 §4.2.2.3 "Truncation of the name": the primary identifier is shortened until
    # "<<" and the first character of the secondary identifier fit; position 30 is a letter.
    out = mrz_name("BENNELONG WOOLOOMOOLOO WARRANDYTE WARNAMBOOL", "DINGO POTOROO", 30)
    assert len(out) == 30
    assert out[-3:] == "<<D"
    assert out.startswith("BENNELONG<")


def test_single_part_name_goes_in_the_primary_identifier() -> None:
    # 9303-5 §4.2.2.3: a one-part name is placed in the primary identifier positions.
    assert mrz_name("", "Arkfreith", 30) == "ARKFREITH".ljust(30, "<")


def test_name_errors() -> None:
    with pytest.raises(EncodingError):
        mrz_name("", "  ", 30)
    with pytest.raises(EncodingError, match="digits"):
        mrz_name("Louis XIV 14", "", 30)  # 9303-3 §4.6: no numerals in the name


_WORD = st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=14)


@given(
    st.lists(_WORD, min_size=1, max_size=5), st.lists(_WORD, max_size=5), st.sampled_from([30, 39])
)
def test_name_field_properties(primary: list[str], secondary: list[str], width: int) -> None:
    out = mrz_name(" ".join(primary), " ".join(secondary), width)
    assert len(out) == width
    full = "<".join(primary) + ("<<" + "<".join(secondary) if secondary else "")
    if len(full) <= width:
        assert out == full.ljust(width, "<")
        return
    # Truncated: the last position is a letter (9303-5 §4.2.2.3) whenever the field could be
    # filled, and every component kept is a prefix of the original one, in order.
    prim_out, _, sec_out = out.partition("<<")
    kept = [c for c in prim_out.split("<")]
    assert all(p.startswith(k) for k, p in zip(kept, primary, strict=False))
    assert all(k for k in kept)
    if secondary:
        assert sec_out, "at least the first letter of the secondary identifier is kept"
        kept_sec = [c for c in sec_out.rstrip("<").split("<")]
        assert all(s.startswith(k) for k, s in zip(kept_sec, secondary, strict=False))
    if out[-1] == "<":
        # Only when even initials cannot fill the field exactly.
        assert len(primary) + len(secondary) > 1


def test_split_vietnamese_name() -> None:
    # DOMAIN.md §3: the first word is the surname, the rest the given names.
    assert split_vietnamese_name("Nguyễn Văn  An") == ("Nguyễn", "Văn An")
    assert split_vietnamese_name(" Lan ") == ("Lan", "")
    with pytest.raises(EncodingError):
        split_vietnamese_name("   ")
