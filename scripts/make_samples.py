"""Generate the synthetic sample citizens in profiles/samples/ (deterministic: seeded random).

    .venv/bin/python scripts/make_samples.py [--out profiles/samples]

Writes citizens.csv (good records), citizens.jsonl (a few more good ones, JSON Lines), broken.csv
(one broken rule per record) with broken-expected.json (CSV line → expected problem codes), cartoon
face photos (photos/) and ridge-pattern fingerprint images (fingerprints/). Everyone is invented:
names are common Vietnamese names combined at random, faces are Pillow drawings, ID numbers follow
DOMAIN.md §2 with random serials. Run it again after changing it and commit the outputs.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

from cardkit.profile import load_profile
from cardkit.records.expiry import compute_expiry

SEED = 20261101
#: Every sample card is valid at least until then (the designed 29 February case ends 2029-02-28).
VALID_UNTIL_AT_LEAST = date(2029, 2, 28)
EXPIRY_RULE = load_profile("vn-cccd-2021").expiry
LATEST_ISSUE = date(2026, 11, 1)

COLUMNS = (
    "id_number", "full_name", "date_of_birth", "sex", "nationality", "ethnicity", "religion",
    "place_of_origin", "place_of_residence", "identifying_marks", "date_of_issue",
    "date_of_expiry", "father_name", "mother_name", "spouse_name", "old_id_number",
    "photo_path", "fingerprint_paths", "can",
)  # fmt: skip

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
            "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]  # fmt: skip
MIDDLE = {"M": ["Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Công"],
          "F": ["Thị", "Ngọc", "Thu", "Thanh", "Mai", "Bích", "Kim"]}  # fmt: skip
GIVEN = {
    "M": ["An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khánh", "Long", "Nam", "Phúc", "Quân",
          "Sơn", "Thắng", "Tuấn", "Việt", "Đạt", "Hiếu", "Lộc"],
    "F": ["Anh", "Chi", "Dung", "Hà", "Hạnh", "Hương", "Lan", "Linh", "Mai", "Ngọc", "Phương",
          "Thảo", "Trang", "Vy", "Yến", "Nhung", "Quỳnh", "Uyên"],
}  # fmt: skip
# (province code, place of origin, place of residence): real place names, invented combinations.
PLACES = [
    (
        "001",
        "Xã Đông Mỹ, Thanh Trì, Hà Nội",
        "Số 12 Phố Hàng Bông, Phường Hàng Gai, Hoàn Kiếm, Hà Nội",
    ),
    (
        "079",
        "Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
        "45 Lê Lợi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh",
    ),
    ("048", "Xã Hòa Tiến, Hòa Vang, Đà Nẵng", "78 Bạch Đằng, Phường Hải Châu 1, Hải Châu, Đà Nẵng"),
    (
        "031",
        "Xã Tân Tiến, An Dương, Hải Phòng",
        "23 Lạch Tray, Phường Lạch Tray, Ngô Quyền, Hải Phòng",
    ),
    ("092", "Xã Mỹ Khánh, Phong Điền, Cần Thơ", "9 Hòa Bình, Phường Tân An, Ninh Kiều, Cần Thơ"),
    ("040", "Xã Nam Giang, Nam Đàn, Nghệ An", "Khối 5, Phường Hưng Bình, TP. Vinh, Nghệ An"),
    (
        "046",
        "Phường Thuận Hòa, TP. Huế, Thừa Thiên Huế",
        "15 Lê Lợi, Phường Vĩnh Ninh, TP. Huế, Thừa Thiên Huế",
    ),
    ("038", "Xã Hoằng Lộc, Hoằng Hóa, Thanh Hóa", "Phường Điện Biên, TP. Thanh Hóa, Thanh Hóa"),
    ("066", "Xã Ea Tu, TP. Buôn Ma Thuột, Đắk Lắk", "Phường Tân Lợi, TP. Buôn Ma Thuột, Đắk Lắk"),
    ("036", "Xã Hải Lý, Hải Hậu, Nam Định", "Phường Vị Xuyên, TP. Nam Định, Nam Định"),
    ("056", "Xã Vĩnh Lương, TP. Nha Trang, Khánh Hòa", "Phường Lộc Thọ, TP. Nha Trang, Khánh Hòa"),
    ("089", "Xã Mỹ Hòa Hưng, TP. Long Xuyên, An Giang", "Phường Mỹ Long, TP. Long Xuyên, An Giang"),
]
ETHNICITIES = ["Kinh"] * 8 + ["Tày", "Thái", "Mường", "Khmer", "Hoa", "Ê Đê"]
RELIGIONS = ["Không"] * 6 + ["Phật giáo", "Công giáo", "Cao Đài", "Tin Lành"]
MARKS = ["Nốt ruồi C:2cm trên trước mép trái", "Sẹo chấm C:1cm dưới sau đuôi mắt phải",
         "Nốt ruồi C:1,5cm dưới trước cánh mũi phải", "Sẹo chấm C:3cm trên sau lông mày trái",
         "Nốt ruồi C:2cm dưới sau mép phải"]  # fmt: skip


@dataclass
class Citizen:
    sex: str
    dob: date
    issued: date
    place: tuple[str, str, str]
    name: str = ""
    id_number: str = ""
    expiry: str = ""  # "" = let the loader compute it
    spouse: bool = False
    old_id: bool = False
    can: bool = False
    prints: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def full_name(rng: random.Random, sex: str) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"


def id_number(rng: random.Random, code: str, sex: str, dob: date) -> str:
    g = 2 * ((dob.year - 1900) // 100) + (0 if sex == "M" else 1)
    return f"{code}{g}{dob.year % 100:02d}{rng.randrange(10**6):06d}"


def random_day(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(days=rng.randrange((hi - lo).days + 1))


def designed(rng: random.Random) -> list[Citizen]:
    """Citizens chosen to exercise the rules; the rest of the list is random."""
    hn, hcm, dn = PLACES[0], PLACES[1], PLACES[2]
    return [
        # DOMAIN.md §3: the checked MRZ example, valid until the 40th birthday.
        Citizen("M", date(1993, 1, 5), date(2021, 3, 15), hn, id_number="001093047064",
                expiry="2033-01-05", old_id=True, can=True, prints=2),
        # Born 1955, issued at 66: from 58 on the card never expires.
        Citizen("F", date(1955, 8, 17), date(2021, 6, 2), hcm, expiry="Không thời hạn",
                spouse=True, old_id=True),
        # Issued at 58 exactly: no expiry (computed).
        Citizen("M", date(1963, 4, 30), date(2021, 4, 30), dn, spouse=True, old_id=True),
        # Issued 1 year before 25 (grace window): valid until 40.
        Citizen("F", date(1998, 6, 10), date(2022, 1, 15), PLACES[3], expiry="2038-06-10",
                can=True),
        # Issued 1.5 years before 40: valid until 60.
        Citizen("M", date(1982, 9, 1), date(2021, 3, 1), PLACES[4], spouse=True, prints=2),
        # Born in the 2000s, issued at 14: valid until 25.
        Citizen("F", date(2008, 2, 11), date(2022, 3, 5), PLACES[5], can=True),
        Citizen("M", date(2006, 11, 23), date(2021, 12, 1), PLACES[6], prints=1),
        # 29 February birthday: the 25th falls in 2029 (no 29 Feb) → 28 Feb 2029.
        Citizen("F", date(2004, 2, 29), date(2021, 5, 20), PLACES[7], expiry="2029-02-28"),
        # Issued on the 25th birthday: valid until 40.
        Citizen("M", date(1996, 7, 7), date(2021, 7, 7), PLACES[8], expiry="2036-07-07"),
        # Issued on the 23rd birthday: inside the 2-year window before 25 → until 40.
        Citizen("F", date(2001, 10, 3), date(2024, 10, 3), PLACES[9], can=True, prints=2),
        # Born 1940.
        Citizen("M", date(1940, 1, 20), date(2022, 9, 9), PLACES[10], old_id=True, spouse=True),
        # Latest allowed issue date.
        Citizen("F", date(1987, 12, 31), LATEST_ISSUE, PLACES[11], spouse=True, can=True),
    ]  # fmt: skip


def random_citizen(rng: random.Random) -> Citizen:
    sex = rng.choice("MF")
    while True:
        dob = random_day(rng, date(1945, 1, 1), date(2010, 12, 31))
        lo = max(date(2021, 1, 1), date(dob.year + 14, dob.month, min(dob.day, 28)))
        issued = random_day(rng, lo, LATEST_ISSUE)
        # Sample cards must stay valid for years: the demo verifies every one of them, and a
        # checkpoint rightly calls an expired card INVALID.
        expiry = compute_expiry(dob, issued, EXPIRY_RULE)
        if expiry is None or expiry >= VALID_UNTIL_AT_LEAST:
            break
    adult = issued.year - dob.year >= 22
    return Citizen(
        sex, dob, issued, rng.choice(PLACES),
        spouse=adult and rng.random() < 0.5,
        old_id=dob.year < 2000 and rng.random() < 0.5,
        can=rng.random() < 0.4,
        prints=rng.choice([0, 0, 0, 1, 2]),
    )  # fmt: skip


def finish(rng: random.Random, c: Citizen, ids: set[str]) -> None:
    c.name = c.name or full_name(rng, c.sex)
    while not c.id_number or c.id_number in ids:
        c.id_number = id_number(rng, c.place[0], c.sex, c.dob)
    ids.add(c.id_number)


def row(rng: random.Random, c: Citizen, photo: str, prints: list[str]) -> dict[str, str]:
    father = f"{c.name.split()[0]} {rng.choice(MIDDLE['M'])} {rng.choice(GIVEN['M'])}"
    mother = full_name(rng, "F")
    spouse = full_name(rng, "F" if c.sex == "M" else "M") if c.spouse else ""
    fields = {
        "id_number": c.id_number,
        "full_name": c.name,
        "date_of_birth": c.dob.isoformat(),
        "sex": c.sex,
        "nationality": "Việt Nam",
        "ethnicity": rng.choice(ETHNICITIES),
        "religion": rng.choice(RELIGIONS),
        "place_of_origin": c.place[1],
        "place_of_residence": c.place[2],
        "identifying_marks": rng.choice(MARKS),
        # Half the dates in the Vietnamese dd/mm/yyyy form to exercise both parsers.
        "date_of_issue": c.issued.isoformat()
        if rng.random() < 0.5
        else c.issued.strftime("%d/%m/%Y"),
        "date_of_expiry": c.expiry,
        "father_name": father,
        "mother_name": mother,
        "spouse_name": spouse,
        "old_id_number": f"{rng.randrange(10**8, 10**9)}" if c.old_id else "",
        "photo_path": photo,
        "fingerprint_paths": ";".join(prints[: c.prints]),
        "can": f"{rng.randrange(10**6):06d}" if c.can else "",
    }
    fields.update(c.extra)
    return fields


# ---------------------------------------------------------------------------- images


def face(rng: random.Random, path: Path, size: tuple[int, int] = (480, 640)) -> None:
    """A cartoon face, head and shoulders, on a plain light background (no real person)."""
    w, h = size
    backgrounds = [(236, 242, 250), (245, 245, 245), (226, 236, 248), (240, 246, 240)]
    skins = [(241, 204, 170), (226, 185, 143), (198, 152, 112), (234, 192, 160), (176, 128, 92)]
    hairs = [(25, 20, 18), (45, 32, 25), (70, 50, 35), (110, 110, 110), (210, 210, 210)]
    shirts = [(245, 245, 245), (40, 60, 110), (90, 120, 90), (150, 40, 50), (60, 60, 60)]
    img = Image.new("RGB", size, rng.choice(backgrounds))
    d = ImageDraw.Draw(img)
    skin, hair, shirt = rng.choice(skins), rng.choice(hairs), rng.choice(shirts)
    cx = w // 2 + rng.randint(-12, 12)
    head_w, head_h = rng.randint(190, 235), rng.randint(250, 295)
    top = rng.randint(110, 150)
    long_hair = rng.random() < 0.5
    if long_hair:  # behind the head and shoulders
        box = (cx - head_w // 2 - 25, top - 10, cx + head_w // 2 + 25, top + head_h + 120)
        d.rounded_rectangle(box, radius=80, fill=hair)
    # shoulders and neck
    d.ellipse((cx - 230, h - 170, cx + 230, h + 170), fill=shirt)
    d.rectangle((cx - 45, top + head_h - 40, cx + 45, h - 130), fill=skin)
    # ears, head
    ear_y = top + head_h // 2
    for side in (-1, 1):
        ex = cx + side * head_w // 2
        d.ellipse((ex - 18, ear_y - 30, ex + 18, ear_y + 30), fill=skin)
    d.ellipse((cx - head_w // 2, top, cx + head_w // 2, top + head_h), fill=skin)
    # hair on top
    d.chord((cx - head_w // 2 - 8, top - 20, cx + head_w // 2 + 8, top + head_h // 2 + 10),
            180, 360, fill=hair)  # fmt: skip
    # eyes, brows
    eye_y = top + int(head_h * 0.47)
    gap = rng.randint(42, 55)
    iris = rng.choice([(60, 40, 25), (35, 25, 20), (80, 60, 40)])
    brow_tilt = rng.randint(-6, 6)
    for side in (-1, 1):
        ex = cx + side * gap
        d.ellipse((ex - 20, eye_y - 10, ex + 20, eye_y + 10), fill=(255, 255, 255))
        d.ellipse((ex - 8, eye_y - 8, ex + 8, eye_y + 8), fill=iris)
        d.line((ex - 24, eye_y - 26 + side * brow_tilt, ex + 24, eye_y - 26 - side * brow_tilt),
               fill=hair, width=6)  # fmt: skip
    # nose and mouth
    nose_y = eye_y + rng.randint(45, 60)
    d.line((cx, eye_y + 15, cx - 8, nose_y, cx + 6, nose_y), fill=(150, 100, 80), width=3)
    mouth_y = nose_y + rng.randint(32, 45)
    mw = rng.randint(28, 45)
    d.arc((cx - mw, mouth_y - 18, cx + mw, mouth_y + 12), 20, 160, fill=(160, 60, 60), width=5)
    if rng.random() < 0.25:  # glasses
        for side in (-1, 1):
            ex = cx + side * gap
            d.ellipse((ex - 30, eye_y - 22, ex + 30, eye_y + 22), outline=(30, 30, 30), width=4)
        d.line((cx - gap + 30, eye_y, cx + gap - 30, eye_y), fill=(30, 30, 30), width=4)
    img.save(path, "JPEG", quality=85)


def fingerprint(rng: random.Random, path: Path, size: tuple[int, int] = (256, 320)) -> None:
    """A grayscale ridge pattern (a whorl or loop-like swirl) inside a fingertip outline."""
    w, h = size
    cx, cy = w / 2 + rng.uniform(-20, 20), h / 2 + rng.uniform(-25, 25)
    period = rng.uniform(8.5, 11.0)
    swirl = rng.choice([0, 1, 1, 2])  # whole turns only: no seam where the angle wraps
    stretch = rng.uniform(1.1, 1.5)
    wobble = rng.uniform(3.0, 8.0)
    pixels = []
    for y in range(h):
        for x in range(w):
            ex, ey = (x - w / 2) / (w * 0.46), (y - h / 2) / (h * 0.47)
            if ex * ex + ey * ey > 1:
                pixels.append(255)
                continue
            dx, dy = x - cx, (y - cy) / stretch
            # Low-frequency warp so ridges bend like skin rather than a perfect spiral.
            r = math.hypot(dx, dy) + 6 * math.sin(x / 37.0) * math.cos(y / 29.0)
            theta = math.atan2(dy, dx)
            phase = 2 * math.pi * r / period + swirl * theta + math.sin(y / 23.0) * wobble / period
            pixels.append(int(128 + 110 * math.sin(phase)))
    img = Image.new("L", size)
    img.putdata(pixels)
    img.save(path, "PNG")


# ---------------------------------------------------------------------------- files


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent
                        / "profiles" / "samples")  # fmt: skip
    out = parser.parse_args().out
    rng = random.Random(SEED)
    (out / "photos").mkdir(parents=True, exist_ok=True)
    (out / "fingerprints").mkdir(parents=True, exist_ok=True)

    prints = []
    for i in range(1, 7):
        name = f"fingerprints/finger-{i:02d}.png"
        fingerprint(rng, out / name)
        prints.append(name)

    ids: set[str] = set()
    citizens = designed(rng)
    while len(citizens) < 32:
        citizens.append(random_citizen(rng))
    extra = [random_citizen(rng) for _ in range(3)]  # the JSON Lines file
    broken_bases = [random_citizen(rng) for _ in range(26)]
    for c in citizens + extra + broken_bases:
        finish(rng, c, ids)

    def person_rows(group: list[Citizen], prefix: str) -> list[dict[str, str]]:
        rows = []
        for i, c in enumerate(group, start=1):
            photo = f"photos/{prefix}-{i:02d}.jpg"
            face(rng, out / photo)
            mine = rng.sample(prints, 2)
            rows.append(row(rng, c, photo, mine))
        return rows

    write_csv(out / "citizens.csv", person_rows(citizens, "citizen"))

    jsonl_rows = person_rows(extra, "extra")
    # One name in NFD (decomposed), as some exports write it: accepted, normalised to NFC.
    jsonl_rows[0]["full_name"] = unicodedata.normalize("NFD", jsonl_rows[0]["full_name"])
    jsonl_rows[1]["fingerprint_paths"] = ""
    with (out / "citizens.jsonl").open("w", encoding="utf-8") as f:
        for r in jsonl_rows:
            obj: dict[str, object] = {k: v for k, v in r.items() if v != ""}
            if r["fingerprint_paths"]:
                obj["fingerprint_paths"] = r["fingerprint_paths"].split(";")
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")

    # Broken records: each a good record with exactly one rule broken.
    Image.new("RGB", (120, 160), (230, 230, 230)).save(out / "photos/broken-too-small.jpg", "JPEG")
    (out / "photos/broken-not-an-image.jpg").write_text("this is not a JPEG file\n")
    base_rows = person_rows(broken_bases, "broken")
    cases: list[tuple[str, dict[str, str]]] = []

    def case(code: str, **changes: str) -> None:
        r = dict(base_rows[len(cases)])
        r.update(changes)
        cases.append((code, r))

    def with_g(r: dict[str, str], g: int) -> str:
        return r["id_number"][:3] + str(g) + r["id_number"][4:]

    case("id.format", id_number=base_rows[0]["id_number"][:11])
    case("id.province", id_number="003" + base_rows[1]["id_number"][3:])
    b = base_rows[2]
    g = int(b["id_number"][3])
    case("id.sex", id_number=with_g(b, g ^ 1), sex=b["sex"])
    b = base_rows[3]
    g = int(b["id_number"][3])
    case("id.century", id_number=with_g(b, (g + 2) % 4))
    b = base_rows[4]
    yy = (int(b["id_number"][4:6]) + 1) % 100
    case("id.year", id_number=b["id_number"][:4] + f"{yy:02d}" + b["id_number"][6:])
    b = base_rows[5]
    case("date.order", date_of_issue=(date.fromisoformat(b["date_of_birth"]) - timedelta(days=400))
         .isoformat(), date_of_expiry="")  # fmt: skip
    case("date.future", date_of_issue="2099-01-01", date_of_expiry="")
    b = base_rows[7]
    case("date.invalid", date_of_birth=b["date_of_birth"][:5] + "02-30")
    case("date.format", date_of_issue="15.03.2021")
    b = base_rows[9]
    case("expiry.mismatch", date_of_expiry="2099-12-31")
    case("name.mrz", full_name=base_rows[10]["full_name"] + " 2")
    case("sex.value", sex="X")
    case("nationality.value", nationality="Lào")
    case("field.missing", full_name="")
    case("photo.missing", photo_path="photos/does-not-exist.jpg")
    case("photo.decode", photo_path="photos/broken-not-an-image.jpg")
    case("photo.size", photo_path="photos/broken-too-small.jpg")
    case("fingerprint.count", fingerprint_paths=";".join(prints[:3]))
    case("fingerprint.decode", fingerprint_paths="photos/broken-not-an-image.jpg")
    case("can.format", can="12345")
    case("old_id.format", old_id_number="12345678")
    case("text.length", place_of_residence="Số 1 " + "Đường Trần Hưng Đạo, " * 10 + "Hà Nội")
    case("text.whitespace", ethnicity="Kinh ")
    case("text.control", ethnicity="Kinh\u200b")
    case("id.duplicate", **{k: v for k, v in base_rows[14].items() if k != "photo_path"})
    case("row.cells", can="")
    rows = [r for _, r in cases]
    write_csv(out / "broken.csv", rows)
    # The row.cells record: drop its last (empty) cell so the row is one cell short.
    lines = (out / "broken.csv").read_text(encoding="utf-8").split("\n")
    short = len(
        rows
    )  # header is line 1, so the last record is line len(rows) + 1 → index len(rows)
    assert lines[short].endswith(","), "the row.cells record must end with an empty cell"
    lines[short] = lines[short][:-1]
    (out / "broken.csv").write_text("\n".join(lines), encoding="utf-8")
    expected = {
        "file": "broken.csv",
        "profile": "vn-cccd-2021",
        "today": LATEST_ISSUE.isoformat(),
        "note": "CSV line number → the problem codes cardkit.records.validate_all must report",
        "expect": {str(i + 2): [code] for i, (code, _) in enumerate(cases)},
    }
    (out / "broken-expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {len(citizens)} citizens, {len(extra)} JSON Lines records, {len(cases)} broken")


if __name__ == "__main__":
    main()
