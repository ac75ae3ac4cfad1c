"""Print card faces (``cardkit print``): card images or records → PDF (and PNG per face).

Sources:

- a card image folder, or a folder of card images (a prepared batch): the printed data comes
  from the chip's own files, DG13 (the Vietnamese citizen data) and DG1 (the MRZ, printed exactly
  as the chip holds it), the photo from DG2 and the fingerprints from DG3 when present;
- a records file (CSV, JSON, JSON Lines): every record is validated, valid ones are printed (the
  MRZ built exactly as for DG1) and invalid ones reported with their problems.

The QR code carries the payload of DOMAIN.md §5 (:class:`cardkit.records.qr.QrPayload`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from cardkit.errors import CardkitError, EncodingError, ProfileError
from cardkit.layout.compose import CardData
from cardkit.layout.fonts import FontFiles, find_fonts
from cardkit.layout.model import Layout
from cardkit.lds.build import build_mrz
from cardkit.lds.dg1 import Dg1
from cardkit.lds.dg2 import Dg2
from cardkit.lds.dg3 import POSITION_LEFT_INDEX, POSITION_RIGHT_INDEX, Dg3
from cardkit.lds.dg13 import Dg13
from cardkit.profile import Profile, load_profile
from cardkit.records import CitizenRecord, Sex, load_records, validate_all
from cardkit.records.model import NO_EXPIRY_TEXT
from cardkit.records.qr import QrPayload
from cardkit.services.card_image import MANIFEST, CardImage, read_card_image
from cardkit.services.prepare import card_id_for

Sheet = str  # "card" or "a4"
DPIS = (300, 600)


def _dmy(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def layout_of(profile: Profile) -> Layout:
    if profile.layout is None:
        where = profile.source or profile.name
        raise ProfileError(f"{where}: no [layout] table, so this profile cannot print card faces")
    return profile.layout


# --- card data from a record ------------------------------------------------------------------


def card_data_from_record(record: CitizenRecord, profile: Profile, card_id: str) -> CardData:
    """The card face of ``record``: the MRZ exactly as DG1 gets it (``build_mrz``)."""
    mrz = build_mrz(record, profile).lines
    values = {
        "id_number": record.id_number,
        "full_name": record.full_name,
        "date_of_birth": _dmy(record.date_of_birth),
        "sex": record.sex.vietnamese,
        "nationality": record.nationality,
        "ethnicity": record.ethnicity,
        "religion": record.religion,
        "place_of_origin": record.place_of_origin,
        "place_of_residence": record.place_of_residence,
        "identifying_marks": record.identifying_marks,
        "date_of_issue": _dmy(record.date_of_issue),
        "date_of_expiry": (
            NO_EXPIRY_TEXT if record.date_of_expiry is None else _dmy(record.date_of_expiry)
        ),
        "old_id_number": record.old_id_number,
        "issuing_authority": profile.document.issuing_authority,
        "father_name": record.father_name,
        "mother_name": record.mother_name,
        "spouse_name": record.spouse_name,
    }
    try:
        photo = record.photo_path.read_bytes()
        # Records list the right index finger first; the layout's boxes are left, then right.
        prints = [p.read_bytes() for p in record.fingerprint_paths]
    except OSError as exc:
        raise CardkitError(f"card {card_id}: cannot read an image ({exc.strerror})") from None
    right = prints[0] if prints else None
    left = prints[1] if len(prints) > 1 else None
    return CardData(
        card_id=card_id,
        values=values,
        qr_text=QrPayload.from_record(record).to_text(),
        mrz=(mrz[0], mrz[1], mrz[2]),
        photo=photo,
        fingerprints=(left, right),
    )


# --- card data from a card image --------------------------------------------------------------


def _parse_dmy(text: str | None, what: str, card_id: str) -> date:
    try:
        return datetime.strptime(text or "", "%d/%m/%Y").date()
    except ValueError:
        raise EncodingError(f"card {card_id}: DG13 {what} is not a dd/mm/yyyy date") from None


def card_data_from_image(folder: Path, profile: Profile) -> CardData:
    """The card face of a prepared card image, from its own DG1, DG2, DG3 and DG13."""
    image = read_card_image(folder)
    card_id = image.card_id
    groups = image.data_groups()
    if 1 not in groups or 2 not in groups or 13 not in groups:
        raise CardkitError(
            f"card {card_id}: printing from a card image needs DG1, DG2 and DG13 "
            "(print from the records file instead)"
        )
    dg1 = Dg1.from_bytes(groups[1])
    mrz = dg1.mrz.lines
    if len(mrz) != 3:
        raise CardkitError(f"card {card_id}: DG1 holds a TD3 MRZ; a card face is TD1")
    dg13 = Dg13.from_bytes(groups[13])
    faces = Dg2.from_bytes(groups[2]).faces
    if not faces:
        raise CardkitError(f"card {card_id}: DG2 holds no face image")
    left: bytes | None = None
    right: bytes | None = None
    if 3 in groups:
        for finger in Dg3.from_bytes(groups[3]).fingers:
            if finger.position == POSITION_LEFT_INDEX:
                left = finger.image
            elif finger.position == POSITION_RIGHT_INDEX:
                right = finger.image
    values = {
        name: getattr(dg13, name) or ""
        for name in (
            "id_number", "full_name", "date_of_birth", "sex", "nationality", "ethnicity",
            "religion", "place_of_origin", "place_of_residence", "identifying_marks",
            "date_of_issue", "date_of_expiry", "old_id_number", "father_name", "mother_name",
            "spouse_name",
        )
    }  # fmt: skip
    values["issuing_authority"] = profile.document.issuing_authority
    sex_word = unicodedata.normalize("NFC", values["sex"]).strip().lower()
    sex = Sex.MALE if sex_word == "nam" else Sex.FEMALE if sex_word == "nữ" else None
    if sex is None:
        raise EncodingError(f"card {card_id}: DG13 sex is neither Nam nor Nữ")
    qr = QrPayload(
        id_number=values["id_number"],
        old_id_number=values["old_id_number"],
        full_name=values["full_name"],
        date_of_birth=_parse_dmy(dg13.date_of_birth, "date of birth", card_id),
        sex=sex,
        place_of_residence=values["place_of_residence"],
        date_of_issue=_parse_dmy(dg13.date_of_issue, "date of issue", card_id),
    )
    return CardData(
        card_id=card_id,
        values=values,
        qr_text=qr.to_text(),
        mrz=(mrz[0], mrz[1], mrz[2]),
        photo=faces[0].image,
        fingerprints=(left, right),
    )


# --- sources ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    """A record or card image that is not printed, and why (no personal data in ``detail``)."""

    source: str
    detail: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    """What a print run reads: the cards to print (produced lazily) and the ones left out."""

    kind: str  # "card image", "batch", "records"
    count: int
    cards: Callable[[], Iterator[CardData | Skipped]] = field(repr=False)
    rejected: tuple[Skipped, ...] = ()


def is_card_image(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def open_source(path: Path, profile: Profile, today: date) -> Source:
    """Classify ``path`` (card image, batch folder or records file) and prepare its cards."""
    if is_card_image(path):
        return Source("card image", 1, lambda: _images([path], profile))
    if path.is_dir():
        folders = sorted(p for p in path.iterdir() if is_card_image(p))
        if not folders:
            raise CardkitError(f"{path}: no card images (folders with {MANIFEST}) in it")
        return Source("batch", len(folders), lambda: _images(folders, profile))
    results = validate_all(load_records(path), profile, today)
    good = [(r.raw.row, r.record) for r in results if r.record is not None]
    rejected = tuple(
        Skipped(
            f"{path}:{r.raw.row}",
            f"rejected: {len(r.problems)} problem(s)",
            tuple(f"{p.field}: {p.message} [{p.code}]" for p in r.problems),
        )
        for r in results
        if r.record is None
    )

    def cards() -> Iterator[CardData | Skipped]:
        for row, record in good:
            assert record is not None
            card_id = card_id_for(path, row)
            try:
                yield card_data_from_record(record, profile, card_id)
            except CardkitError as exc:
                yield Skipped(f"{path}:{row}", str(exc))

    return Source("records", len(good), cards, rejected)


def _images(folders: Iterable[Path], profile: Profile) -> Iterator[CardData | Skipped]:
    for folder in folders:
        try:
            yield card_data_from_image(folder, profile)
        except CardkitError as exc:
            yield Skipped(str(folder), str(exc))


# --- printing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintSummary:
    printed: tuple[str, ...]  # card ids, in page order
    skipped: tuple[Skipped, ...]
    pdf: Path
    pages: int
    pngs: tuple[Path, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.skipped


def print_cards(
    cards: Iterable[CardData | Skipped],
    profile: Profile,
    out_pdf: Path,
    *,
    png_dir: Path | None = None,
    dpi: int = 300,
    sheet: str = "card",
    fonts: FontFiles | None = None,
    progress: Callable[[str], None] | None = None,
) -> PrintSummary:
    """Render every card to ``out_pdf`` (and PNGs per face into ``png_dir``). A card whose text
    does not fit or whose images cannot be decoded is skipped and reported, the others printed."""
    # Imported here: ReportLab and the renderers are only needed when something is printed.
    from cardkit.layout.render_pdf import PdfWriter
    from cardkit.layout.render_png import PngRenderer

    if dpi not in DPIS:
        raise CardkitError(f"--dpi must be one of {', '.join(map(str, DPIS))}")
    if sheet not in ("card", "a4"):
        raise CardkitError("--sheet must be card or a4")
    layout = layout_of(profile)
    fonts = fonts or find_fonts()
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    writer = PdfWriter(out_pdf, layout, fonts, "a4" if sheet == "a4" else "card")
    png = PngRenderer(layout, fonts, dpi) if png_dir is not None else None
    printed: list[str] = []
    skipped: list[Skipped] = []
    pngs: list[Path] = []
    try:
        for item in cards:
            if isinstance(item, Skipped):
                skipped.append(item)
                continue
            try:
                composed = writer.composer.compose(item)
                # Images are decoded while drawing: draw the PNG first so that an undecodable
                # image skips the card before it reaches the PDF.
                if png is not None and png_dir is not None:
                    pngs.extend(png.write(composed, png_dir))
                writer.add(composed)
            except CardkitError as exc:
                skipped.append(Skipped(item.card_id, str(exc)))
                continue
            printed.append(item.card_id)
            if progress is not None:
                progress(item.card_id)
    finally:
        writer.close()
    return PrintSummary(tuple(printed), tuple(skipped), out_pdf, writer.pages, tuple(pngs))


def print_path(
    source: Path,
    out_pdf: Path,
    *,
    profile: Profile | str | None = None,
    png_dir: Path | None = None,
    dpi: int = 300,
    sheet: str = "card",
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> PrintSummary:
    """``cardkit print``: read ``source`` and print its cards; the profile defaults to the card
    image's own (its manifest names it) or vn-cccd-2021."""
    if profile is None or isinstance(profile, str):
        name = profile
        if name is None and is_card_image(source):
            name = read_card_image(source).profile
        profile = load_profile(name or "vn-cccd-2021")
    opened = open_source(source, profile, today or date.today())
    summary = print_cards(
        opened.cards(),
        profile,
        out_pdf,
        png_dir=png_dir,
        dpi=dpi,
        sheet=sheet,
        progress=progress,
    )
    return PrintSummary(
        summary.printed,
        opened.rejected + summary.skipped,
        summary.pdf,
        summary.pages,
        summary.pngs,
    )


def batch_printer(
    record: CitizenRecord, image: CardImage, profile: Profile, out_dir: Path
) -> list[Path]:
    """The print step of a production batch (cardkit.batch.runner.Printer): the card's faces
    as ``<card_id>-front.png`` / ``-back.png`` at 300 dpi and a card-size ``<card_id>.pdf``.
    Idempotent: a resumed batch may print the same card again and gets the same files."""
    data = card_data_from_record(record, profile, image.card_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf = out_dir / f"{image.card_id}.pdf"
    summary = print_cards([data], profile, pdf, png_dir=out_dir, dpi=300, sheet="card")
    if not summary.ok:
        raise CardkitError(f"{image.card_id}: {summary.skipped[0].detail}")
    return [pdf, *summary.pngs]
