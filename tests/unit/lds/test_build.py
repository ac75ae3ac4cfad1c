"""record + profile → LDS files: every file decodes back and says what the record says."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PIL import Image

from cardkit.encoding.mrz import check
from cardkit.errors import EncodingError, ImageError
from cardkit.lds import files
from cardkit.lds.build import ChipPublicKeys, build_lds
from cardkit.lds.card_access import CardAccess
from cardkit.lds.com import Com
from cardkit.lds.decode import decode_file
from cardkit.lds.dg1 import Dg1
from cardkit.lds.dg2 import Dg2
from cardkit.lds.dg3 import Dg3
from cardkit.lds.dg11 import Dg11
from cardkit.lds.dg12 import Dg12
from cardkit.lds.dg13 import Dg13
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.security_infos import (
    ActiveAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PaceInfo,
)
from cardkit.profile import load_profile
from cardkit.records import CitizenRecord, Sex

VN = load_profile("vn-cccd-2021")
GENERIC = load_profile("icao-td1-generic")

# The citizen of the Vietnamese MRZ example (DOMAIN.md §3).
RECORD = CitizenRecord(
    id_number="001093047064",
    full_name="Võ Văn Hiếu",
    date_of_birth=date(1993, 1, 5),
    sex=Sex.MALE,
    nationality="Việt Nam",
    ethnicity="Kinh",
    religion="Không",
    place_of_origin="Xã Đông Mỹ, Thanh Trì, Hà Nội",
    place_of_residence="Số 12 Phố Hàng Bông, Hoàn Kiếm, Hà Nội",
    identifying_marks="Sẹo chấm C:1cm dưới sau đuôi mắt phải",
    date_of_issue=date(2021, 3, 15),
    date_of_expiry=date(2033, 1, 5),
    father_name="Võ Văn Thắng",
    mother_name="Bùi Mai Ngọc",
    spouse_name="",
    old_id_number="465466759",
    photo_path=Path("unused.jpg"),
    fingerprint_paths=(),
    can="688835",
)


def _image(size: tuple[int, int], mode: str = "RGB", fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format=fmt)
    return buf.getvalue()


PHOTO = _image((480, 640))
FINGER = _image((600, 700), "L")
KEYS = ChipPublicKeys(
    chip_authentication=ec.generate_private_key(ec.BrainpoolP256R1()).public_key(),
    active_authentication=ec.generate_private_key(ec.SECP256R1()).public_key(),
)


def test_vietnamese_card_files() -> None:
    lds = build_lds(RECORD, VN, photo=PHOTO, fingerprints=[FINGER, FINGER], keys=KEYS)
    names = [spec.name for spec in lds.files]
    assert names == ["EF.COM", "DG1", "DG2", "DG3", "DG13", "DG14", "DG15", "EF.CardAccess"]

    com = Com.from_bytes(lds.files[files.COM])
    assert com.data_groups == (1, 2, 3, 13, 14, 15)
    assert (com.lds_version, com.unicode_version) == ("0108", "040000")

    # DG1 carries exactly the MRZ of DOMAIN.md §3, every check digit valid.
    dg1 = Dg1.from_bytes(lds.files[files.dg(1)])
    assert dg1.mrz.lines[:2] == ("IDVNM0930470641001093047064<<2", "9301054M3301052VNM<<<<<<<<<<<8")
    assert check(str(dg1.mrz)) == []

    dg2 = Dg2.from_bytes(lds.files[files.dg(2)])
    face = dg2.faces[0]
    assert (face.image_format, face.width, face.height) == ("jpeg", 240, 320)
    assert Image.open(io.BytesIO(face.image)).size == (240, 320)
    assert len(face.image) <= VN.photo.max_bytes

    assert len(Dg3.from_bytes(lds.files[files.dg(3)]).describe()["positions"]) == 2  # type: ignore[arg-type]

    dg13 = Dg13.from_bytes(lds.files[files.dg(13)])
    assert dg13.id_number == RECORD.id_number and dg13.full_name == RECORD.full_name
    assert (dg13.date_of_birth, dg13.sex, dg13.date_of_expiry) == (
        "05/01/1993",
        "Nam",
        "05/01/2033",
    )
    assert (dg13.father_name, dg13.mother_name) == (RECORD.father_name, RECORD.mother_name)
    assert dg13.old_id_number == "465466759"

    dg14 = Dg14.from_bytes(lds.files[files.dg(14)])
    kinds = {type(info) for info in dg14.infos}
    assert {PaceInfo, ChipAuthenticationPublicKeyInfo, ActiveAuthenticationInfo} <= kinds
    assert Dg15.from_bytes(lds.files[files.dg(15)]).public_key() == KEYS.active_authentication

    card_access = CardAccess.from_bytes(lds.files[files.CARD_ACCESS])
    (pace,) = card_access.infos
    assert isinstance(pace, PaceInfo) and pace.parameter_id == 13  # brainpoolP256r1, 9303-11 §9.5.1

    for spec, data in lds.files.items():
        decoded_spec, content = decode_file(data)
        assert decoded_spec == spec and content.raw == data


def test_no_keys_leaves_out_dg14_dg15_and_com_agrees() -> None:
    lds = build_lds(RECORD, VN, photo=PHOTO)
    assert Com.from_bytes(lds.files[files.COM]).data_groups == (1, 2, 13)
    assert set(lds.data_groups()) == {1, 2, 13}


def test_generic_profile_uses_dg11_dg12_jpeg2000_and_rsa_aa() -> None:
    keys = replace(KEYS, active_authentication=rsa.generate_private_key(65537, 2048).public_key())
    record = replace(RECORD, date_of_expiry=None)
    lds = build_lds(record, GENERIC, photo=PHOTO, keys=keys)
    assert set(lds.data_groups()) == {1, 2, 11, 12, 14, 15}
    dg1 = Dg1.from_bytes(lds.files[files.dg(1)])
    assert dg1.mrz.document_code == "I<" and dg1.mrz.date_of_expiry == "<<<<<<"
    assert Dg2.from_bytes(lds.files[files.dg(2)]).faces[0].image_format == "jpeg2000"
    dg11 = Dg11.from_bytes(lds.files[files.dg(11)])
    assert dg11.personal_number == RECORD.id_number and dg11.full_date_of_birth == "19930105"
    assert Dg12.from_bytes(lds.files[files.dg(12)]).date_of_issue == "20210315"
    assert isinstance(Dg15.from_bytes(lds.files[files.dg(15)]).public_key(), rsa.RSAPublicKey)


def test_missing_chip_key_is_an_error() -> None:
    with pytest.raises(EncodingError, match="chip authentication"):
        build_lds(RECORD, VN, photo=PHOTO, keys=ChipPublicKeys(None, KEYS.active_authentication))


def test_undecodable_photo_is_an_image_error() -> None:
    with pytest.raises(ImageError):
        build_lds(RECORD, VN, photo=b"not an image")
