"""The printed card checked with real readers of the output (issue 7):

- zbarimg (Debian zbar-tools) decodes the QR code from the rendered PNG: the DOMAIN.md §5 payload;
- pdftotext (poppler-utils) extracts the exact MRZ lines (as DG1 holds them) and the Vietnamese
  fields from the PDF;
- pixel analysis of the PNG finds the photo and the MRZ where the profile places them.

The tools are Debian packages scripts/bootstrap.sh installs: in CI (CI=true) a missing tool fails
the test, elsewhere it skips naming the package.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from requirements import need_fonts, unavailable

from cardkit.layout.compose import CardData
from cardkit.lds.build import build_mrz
from cardkit.profile import Profile, load_profile
from cardkit.records import CitizenRecord, load_records, validate_all
from cardkit.records.qr import QrPayload
from cardkit.services.printing import card_data_from_record, print_cards

SAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "samples"
DPI = 300


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        unavailable(f"{tool} not installed (Debian package {package})")
    return path


@dataclasses.dataclass(frozen=True)
class Printed:
    pdf: Path
    out: Path
    card: CardData
    record: CitizenRecord
    profile: Profile


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Printed:
    need_fonts()
    profile = load_profile("vn-cccd-2021")
    results = validate_all(load_records(SAMPLES / "citizens.csv"), profile, date(2026, 11, 1))
    record = results[0].record  # the DOMAIN.md §3 citizen, ID 001093047064
    assert record is not None
    card = card_data_from_record(record, profile, "domain-citizen")
    # A solid magenta photo: easy to find by its colour in the PNG.
    solid = io.BytesIO()
    Image.new("RGB", (480, 640), (255, 0, 255)).save(solid, "PNG")
    marked = dataclasses.replace(card, card_id="magenta", photo=solid.getvalue())
    out = tmp_path_factory.mktemp("print")
    print_cards([card, marked], profile, out / "cards.pdf", png_dir=out, dpi=DPI)
    return Printed(out / "cards.pdf", out, card, record, profile)


def test_zbar_decodes_the_qr_payload(
    printed: Printed,
) -> None:
    zbarimg = need("zbarimg", "zbar-tools")
    out, card, record = printed.out, printed.card, printed.record
    done = subprocess.run(
        [zbarimg, "--quiet", "--raw", "-Sbinary", str(out / "domain-citizen-front.png")],
        capture_output=True, check=True,
    )  # fmt: skip
    decoded = done.stdout.rstrip(b"\n").decode("utf-8")
    assert decoded == QrPayload.from_record(record).to_text() == card.qr_text
    assert QrPayload.parse(decoded) == QrPayload.from_record(record)


def test_pdftotext_finds_the_mrz_and_the_vietnamese_fields(
    printed: Printed,
) -> None:
    pdftotext = need("pdftotext", "poppler-utils")
    pdf, record, profile = printed.pdf, printed.record, printed.profile
    front = subprocess.run(
        [pdftotext, "-f", "1", "-l", "1", "-layout", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    back = subprocess.run(
        [pdftotext, "-f", "2", "-l", "2", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    lines = [line.strip() for line in back.splitlines()]
    # DOMAIN.md §3, checked example (the first line and second line of this citizen).
    assert "IDVNM0930470641001093047064<<2" in lines
    assert "9301054M3301052VNM<<<<<<<<<<<8" in lines
    assert list(build_mrz(record, profile).lines) == [
        line for line in lines if len(line) == 30 and "<" in line
    ]
    for text in (
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM", "CĂN CƯỚC CÔNG DÂN", "VÕ VĂN HIẾU",
        "001093047064", "05/01/1993", "Xã Đông Mỹ, Thanh Trì, Hà Nội", "Việt Nam",
    ):  # fmt: skip
        assert text in front
    assert "Sẹo chấm C:1cm dưới sau đuôi mắt phải" in back and "15/03/2021" in back


def _bbox(
    img: Image.Image, predicate: Callable[[tuple[int, int, int]], bool]
) -> tuple[int, int, int, int]:
    """Bounding box (left, top, right, bottom; exclusive) of the pixels matching ``predicate``."""
    rgb = img.convert("RGB")
    raw = rgb.tobytes()
    xs, ys = [], []
    for i in range(rgb.width * rgb.height):
        if predicate((raw[3 * i], raw[3 * i + 1], raw[3 * i + 2])):
            xs.append(i % rgb.width)
            ys.append(i // rgb.width)
    assert xs, "no matching pixels"
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def test_png_element_positions_match_the_profile(
    printed: Printed,
) -> None:
    out, layout = printed.out, printed.profile.layout
    assert layout is not None and layout.front.photo is not None
    f = DPI / 25.4  # pixels per mm
    front = Image.open(out / "magenta-front.png")
    assert front.size == (round(layout.width * f), round(layout.height * f))
    photo = layout.front.photo
    found = _bbox(front, lambda p: p[0] > 230 and p[1] < 30 and p[2] > 230)
    expected = (photo.x * f, photo.y * f, photo.right * f, photo.bottom * f)
    assert all(abs(a - b) <= 2 for a, b in zip(found, expected, strict=True)), (found, expected)

    back = Image.open(out / "magenta-back.png")
    zone_top = round((layout.height - layout.mrz.zone_height) * f)
    mrz_area = back.crop((0, zone_top, back.width, back.height))
    left, top, right, bottom = _bbox(mrz_area, lambda p: p[0] < 90 and p[1] < 90 and p[2] < 90)
    mrz = layout.mrz
    # The first character's left edge, within the OCR-B glyph's side bearing (< 0.5 mm).
    assert 0 <= left / f - mrz.left <= 0.5
    # The third line stands on its base line (no descenders in the MRZ alphabet).
    baseline = mrz.baseline_from_top(2, layout.height) * f - zone_top
    assert abs(bottom - baseline) <= 2
    # Capitals are OCR-B size 1 tall: top of line 1 at its centre line minus half the height.
    line1_top = (mrz.centre_from_top(0, layout.height) - mrz.char_height / 2) * f - zone_top
    assert abs(top - line1_top) <= 3
    # 30 characters at the ICAO pitch: the last one ends within the 30th pitch cell.
    assert mrz.left + 29 * mrz.pitch <= (right / f) <= mrz.left + 30 * mrz.pitch
