"""The CCCD face QR payload (DOMAIN.md §5): build, parse both variants, reject malformed text."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import EncodingError
from cardkit.records.model import Sex
from cardkit.records.qr import QrPayload

# Hand-written from the layout of DOMAIN.md §5 (not produced by the encoder).
SEVEN = "001093047064|465466759|Võ Văn Hiếu|05011993|Nam|Số 12 Phố Hàng Bông, Hà Nội|15032021"
SIX = "079155502526|Bùi Bích Hạnh|17081955|Nữ|45 Lê Lợi, Quận 1, TP. Hồ Chí Minh|02062021"


def test_seven_fields() -> None:
    payload = QrPayload.parse(SEVEN)
    assert payload.id_number == "001093047064" and payload.old_id_number == "465466759"
    assert payload.date_of_birth == date(1993, 1, 5) and payload.sex is Sex.MALE
    assert payload.date_of_issue == date(2021, 3, 15)
    assert payload.to_text() == SEVEN


def test_six_field_variant() -> None:
    payload = QrPayload.parse(SIX)
    assert payload.old_id_number == "" and payload.sex is Sex.FEMALE
    assert payload.full_name == "Bùi Bích Hạnh"
    assert payload.to_text().split("|")[1] == ""


@pytest.mark.parametrize(
    "text",
    ["", "a|b", SEVEN.replace("05011993", "32011993"), SEVEN.replace("Nam", "X"),
     SEVEN.replace("001093047064", "12345"), SEVEN + "|extra|fields"],
)  # fmt: skip
def test_malformed(text: str) -> None:
    with pytest.raises(EncodingError):
        QrPayload.parse(text)


@given(st.text(max_size=200))
def test_random_text_raises_encoding_error_only(text: str) -> None:
    with contextlib.suppress(EncodingError):
        QrPayload.parse(text)
