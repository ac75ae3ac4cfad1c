"""The 12-digit personal identification number ``PPP G YY NNNNNN`` (DOMAIN.md §2).

Sources:

- Decree 137/2015/NĐ-CP art. 13: 12 digits = a 6-digit code (century of birth, sex, year of
  birth, the province or *country* where the birth was registered) + a 6-digit random serial.
- Circular 07/2016/TT-BCA art. 7 and its Annex I ("Bảng danh mục mã tỉnh, thành phố trực thuộc
  trung ương nơi công dân đăng ký khai sinh"): the 63 province codes below (the province's
  administrative code with a leading zero).
- Circular 07/2016/TT-BCA art. 7 (restated by Circular 59/2021/TT-BCA art. 4): century/sex digit
  G: 1900s male 0 / female 1, 2000s 2 / 3, 2100s 4 / 5, 2200s 6 / 7, 2300s 8 / 9, i.e. century
  = 1900 + 100 × (G // 2), even = male, odd = female.

Known gap: Decree 137/2015 art. 13 also allows a *country* code (citizens whose birth was
registered abroad), but the published annexes we could find list only the 63 provinces, not the
country codes. :data:`COUNTRY_CODES` is therefore empty: such numbers are reported as an unknown
place code until the table is known (add it there, citing its source).
"""

from __future__ import annotations

from dataclasses import dataclass

from cardkit.errors import RecordError
from cardkit.records.model import Sex

#: Circular 07/2016/TT-BCA, Annex I: place-of-birth-registration code → province (pre-2025 names).
PROVINCE_CODES: dict[str, str] = {
    "001": "Hà Nội",
    "002": "Hà Giang",
    "004": "Cao Bằng",
    "006": "Bắc Kạn",
    "008": "Tuyên Quang",
    "010": "Lào Cai",
    "011": "Điện Biên",
    "012": "Lai Châu",
    "014": "Sơn La",
    "015": "Yên Bái",
    "017": "Hòa Bình",
    "019": "Thái Nguyên",
    "020": "Lạng Sơn",
    "022": "Quảng Ninh",
    "024": "Bắc Giang",
    "025": "Phú Thọ",
    "026": "Vĩnh Phúc",
    "027": "Bắc Ninh",
    "030": "Hải Dương",
    "031": "Hải Phòng",
    "033": "Hưng Yên",
    "034": "Thái Bình",
    "035": "Hà Nam",
    "036": "Nam Định",
    "037": "Ninh Bình",
    "038": "Thanh Hóa",
    "040": "Nghệ An",
    "042": "Hà Tĩnh",
    "044": "Quảng Bình",
    "045": "Quảng Trị",
    "046": "Thừa Thiên Huế",
    "048": "Đà Nẵng",
    "049": "Quảng Nam",
    "051": "Quảng Ngãi",
    "052": "Bình Định",
    "054": "Phú Yên",
    "056": "Khánh Hòa",
    "058": "Ninh Thuận",
    "060": "Bình Thuận",
    "062": "Kon Tum",
    "064": "Gia Lai",
    "066": "Đắk Lắk",
    "067": "Đắk Nông",
    "068": "Lâm Đồng",
    "070": "Bình Phước",
    "072": "Tây Ninh",
    "074": "Bình Dương",
    "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu",
    "079": "Hồ Chí Minh",
    "080": "Long An",
    "082": "Tiền Giang",
    "083": "Bến Tre",
    "084": "Trà Vinh",
    "086": "Vĩnh Long",
    "087": "Đồng Tháp",
    "089": "An Giang",
    "091": "Kiên Giang",
    "092": "Cần Thơ",
    "093": "Hậu Giang",
    "094": "Sóc Trăng",
    "095": "Bạc Liêu",
    "096": "Cà Mau",
}

#: Country codes for births registered abroad (Decree 137/2015 art. 13). Unknown: see the module
#: docstring. Keys are 3-digit codes, values country names.
COUNTRY_CODES: dict[str, str] = {}


def place_name(code: str) -> str | None:
    """The province (or country) a 3-digit place code stands for, or None when unknown."""
    return PROVINCE_CODES.get(code) or COUNTRY_CODES.get(code)


def century_sex_digit(birth_year: int, sex: Sex) -> int:
    """The G digit for a birth year and sex (Circular 07/2016/TT-BCA art. 7)."""
    if not 1900 <= birth_year <= 2399:
        raise RecordError("birth year outside 1900-2399 has no century/sex digit")
    return 2 * ((birth_year - 1900) // 100) + (0 if sex is Sex.MALE else 1)


@dataclass(frozen=True)
class IdNumber:
    """A parsed ``PPP G YY NNNNNN`` number. Parsing checks the shape only, not the province."""

    place_code: str  # PPP
    century_sex: int  # G
    year_digits: str  # YY
    serial: str  # NNNNNN

    @classmethod
    def parse(cls, text: str) -> IdNumber:
        """Split a 12-digit number; RecordError (without the value) when it is not 12 digits."""
        if len(text) != 12 or not all("0" <= c <= "9" for c in text):
            raise RecordError("an ID number is 12 digits 0-9 (DOMAIN.md §2)")
        return cls(text[:3], int(text[3]), text[4:6], text[6:])

    def __str__(self) -> str:
        return f"{self.place_code}{self.century_sex}{self.year_digits}{self.serial}"

    @property
    def century(self) -> int:
        """First year of the birth century: 1900 + 100 × (G // 2)."""
        return 1900 + 100 * (self.century_sex // 2)

    @property
    def sex(self) -> Sex:
        """Even G: male, odd G: female."""
        return Sex.MALE if self.century_sex % 2 == 0 else Sex.FEMALE

    @property
    def birth_year(self) -> int:
        """The birth year the number encodes (century + YY)."""
        return self.century + int(self.year_digits)

    @property
    def place(self) -> str | None:
        return place_name(self.place_code)
