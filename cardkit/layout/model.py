"""The card face layout as data, read from the profile's ``[layout]`` table.

Every element is placed in millimetres on the ID-1 card (ISO/IEC 7810: 85.60 × 53.98 mm), origin
at the top-left corner of the face, x to the right, y down. The TD1 machine readable zone sits on
the back (ICAO 9303-5 §4.2, §4.4): three lines of 30 OCR-B characters at a fixed pitch, placed from
the bottom edge; the zone above it is kept clear of every other element. The OCR-B geometry of ICAO
9303-3 §4.2.1 (size 1 characters, 2.54 mm pitch, ten per 25.4 mm) is the default; the line spacing
and the position from the bottom edge are profile values so that a programme can match its
printer's qualification (see the profile's comments for where each value comes from).

``parse_layout`` validates as :mod:`cardkit.profile` does: every error names the file, the table
and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cardkit.errors import ProfileError

Align = Literal["left", "center", "right"]

#: ISO/IEC 7810 ID-1 nominal size, millimetres.
ID1_WIDTH_MM = 85.60
ID1_HEIGHT_MM = 53.98
#: ICAO 9303-3 §4.2.1: OCR-B size 1, ten characters per 25.4 mm.
OCRB_PITCH_MM = 2.54
TD1_LINES, TD1_LINE_LENGTH = 3, 30

#: The values a field box may show (the keys of the card data the printing service builds).
FIELD_NAMES = frozenset(
    {
        "id_number", "full_name", "date_of_birth", "sex", "nationality", "ethnicity",
        "religion", "place_of_origin", "place_of_residence", "identifying_marks",
        "date_of_issue", "date_of_expiry", "old_id_number", "issuing_authority",
        "father_name", "mother_name", "spouse_name",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Box:
    """A rectangle in millimetres: left ``x``, top ``y``, width ``w``, height ``h``."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        if not (self.w > 0 and self.h > 0):
            raise ProfileError("a layout box needs a positive width and height")

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )


@dataclass(frozen=True)
class StaticText:
    """Printed the same on every card: headings, captions."""

    box: Box
    text: str
    size: float  # points
    bold: bool = False
    align: Align = "left"
    color: str = "ink"  # a colour name of the layout ("ink", "accent", "label") or "#rrggbb"


@dataclass(frozen=True)
class FieldBox:
    """One value of the card with its caption.

    ``inline``: the value follows the label on its line (``Số / No.: 0010…``) and wraps under it;
    otherwise the label takes the first line and the value the lines below. The value is set at
    ``size`` points and shrinks in steps down to ``min_size`` to fit ``max_lines`` lines inside the
    box; if it does not fit even then, printing fails naming the record and the field.
    """

    field: str
    box: Box
    label: str
    label_size: float
    size: float
    min_size: float
    max_lines: int
    bold: bool
    upper: bool
    inline: bool
    color: str = "ink"


@dataclass(frozen=True)
class Face:
    background: str  # "#rrggbb"
    texts: tuple[StaticText, ...]
    fields: tuple[FieldBox, ...]
    photo: Box | None = None
    qr: Box | None = None
    emblem: Box | None = None
    chip: Box | None = None
    fingerprints: tuple[Box, ...] = ()

    def boxes(self) -> list[tuple[str, Box]]:
        out: list[tuple[str, Box]] = [(f"text {t.text!r}", t.box) for t in self.texts]
        out += [(f"field {f.field}", f.box) for f in self.fields]
        for name in ("photo", "qr", "emblem", "chip"):
            box = getattr(self, name)
            if box is not None:
                out.append((name, box))
        out += [(f"fingerprint {i + 1}", b) for i, b in enumerate(self.fingerprints)]
        return out


@dataclass(frozen=True)
class MrzZone:
    """The TD1 MRZ on the back (ICAO 9303-5 §4.2, 9303-3 §4.2.1).

    ``left``: left edge of the first character; ``line3_centre``: distance from the card's bottom
    edge to the centre line of the third line; ``line_spacing``: centre line to centre line;
    ``pitch``: character pitch; ``char_height``: nominal OCR-B size 1 character height;
    ``zone_height``: the clear zone above the bottom edge that no other element may enter.
    """

    left: float
    line3_centre: float
    line_spacing: float
    pitch: float
    char_height: float
    zone_height: float

    def centre_from_top(self, line: int, card_height: float) -> float:
        """Centre line of MRZ line ``line`` (0, 1, 2) in millimetres from the top edge."""
        return card_height - self.line3_centre - (TD1_LINES - 1 - line) * self.line_spacing

    def baseline_from_top(self, line: int, card_height: float) -> float:
        """Base line of MRZ line ``line``: OCR-B capitals and digits stand on it."""
        return self.centre_from_top(line, card_height) + self.char_height / 2

    @property
    def width(self) -> float:
        return TD1_LINE_LENGTH * self.pitch


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    colors: dict[str, str]
    front: Face
    back: Face
    mrz: MrzZone

    def color(self, name: str) -> str:
        return name if name.startswith("#") else self.colors[name]


# --- parsing ------------------------------------------------------------------------------------


class _Table:
    """Typed access to one TOML table, naming the file and table in every error."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, dict):
            raise ProfileError(f"{where}: must be a table")
        self.data: dict[str, Any] = raw
        self.where = where
        self.used: set[str] = set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise ProfileError(f"{self.where}: missing key {key!r}")
            return default
        value = self.data[key]
        if isinstance(value, bool) and kind is not bool:
            raise ProfileError(f"{self.where}: {key!r} has the wrong type (bool)")
        if not isinstance(value, kind):
            raise ProfileError(f"{self.where}: {key!r} has the wrong type ({type(value).__name__})")
        return value

    def number(self, key: str, lo: float, hi: float, default: Any = ...) -> float:
        value = float(self.get(key, (int, float), default))
        if not lo <= value <= hi:
            raise ProfileError(f"{self.where}: {key!r} = {value} is outside {lo}..{hi}")
        return value

    def text(self, key: str, choices: set[str] | None = None, default: Any = ...) -> Any:
        value = self.get(key, str, default)
        if choices is not None and value not in choices:
            raise ProfileError(
                f"{self.where}: {key!r} is {value!r}; expected one of {', '.join(sorted(choices))}"
            )
        return value

    def color(self, key: str, default: Any = ...) -> str:
        value = str(self.get(key, str, default))
        if not _is_color(value):
            raise ProfileError(f"{self.where}: {key!r} must be a colour '#rrggbb'")
        return value.lower()

    def box(self, key: str, default: Any = ...) -> Box | None:
        value = self.get(key, list, default)
        return None if value is None else _box(value, f"{self.where}: {key!r}")

    def tables(self, key: str) -> list[Any]:
        value = self.get(key, list, [])
        return list(value)

    def done(self) -> None:
        unknown = set(self.data) - self.used
        if unknown:
            raise ProfileError(f"{self.where}: unknown key(s) {', '.join(sorted(unknown))}")


def _is_color(value: str) -> bool:
    return (
        len(value) == 7
        and value[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in value[1:])
    )


def _box(value: Any, what: str) -> Box:
    if not (
        isinstance(value, list)
        and len(value) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ProfileError(f"{what} must be a box [x, y, width, height] in millimetres")
    x, y, w, h = (float(v) for v in value)
    if w <= 0 or h <= 0:
        raise ProfileError(f"{what} must have a positive width and height")
    return Box(x, y, w, h)


def _colour_ref(table: _Table, colors: dict[str, str]) -> str:
    value = table.text("color", default="ink")
    if not (value in colors or _is_color(value)):
        raise ProfileError(
            f"{table.where}: 'color' is {value!r}; use '#rrggbb' or one of "
            + ", ".join(sorted(colors))
        )
    return str(value)


def _static(raw: Any, where: str, colors: dict[str, str]) -> StaticText:
    t = _Table(raw, where)
    text = StaticText(
        box=_box(t.get("box", list), f"{where}: 'box'"),
        text=t.text("text"),
        size=t.number("size", 2.0, 30.0),
        bold=bool(t.get("bold", bool, False)),
        align=t.text("align", {"left", "center", "right"}, default="left"),
        color=_colour_ref(t, colors),
    )
    t.done()
    return text


def _field(raw: Any, where: str, colors: dict[str, str]) -> FieldBox:
    t = _Table(raw, where)
    name = t.text("field", set(FIELD_NAMES))
    t.where = f"{where} (field {name})"
    size = t.number("size", 2.0, 30.0)
    box = FieldBox(
        field=name,
        box=_box(t.get("box", list), f"{t.where}: 'box'"),
        label=t.text("label", default=""),
        label_size=t.number("label_size", 2.0, 30.0, default=4.5),
        size=size,
        min_size=t.number("min_size", 2.0, 30.0, default=size),
        max_lines=int(t.number("max_lines", 1, 20, default=1)),
        bold=bool(t.get("bold", bool, False)),
        upper=bool(t.get("upper", bool, False)),
        inline=bool(t.get("inline", bool, False)),
        color=_colour_ref(t, colors),
    )
    t.done()
    if box.min_size > box.size:
        raise ProfileError(f"{t.where}: 'min_size' is larger than 'size'")
    if box.inline and not box.label:
        raise ProfileError(f"{t.where}: an inline field needs a label")
    return box


def _face(raw: Any, where: str, colors: dict[str, str]) -> Face:
    t = _Table(raw, where)
    background = t.color("background", default="#ffffff")
    texts = tuple(
        _static(item, f"{where} text #{i + 1}", colors) for i, item in enumerate(t.tables("text"))
    )
    fields = tuple(
        _field(item, f"{where} field #{i + 1}", colors) for i, item in enumerate(t.tables("field"))
    )
    prints = t.get("fingerprints", list, [])
    face = Face(
        background=background,
        texts=texts,
        fields=fields,
        photo=t.box("photo", default=None),
        qr=t.box("qr", default=None),
        emblem=t.box("emblem", default=None),
        chip=t.box("chip", default=None),
        fingerprints=tuple(
            _box(b, f"{where}: 'fingerprints' #{i + 1}") for i, b in enumerate(prints)
        ),
    )
    t.done()
    if len(face.fingerprints) > 2:
        raise ProfileError(f"{where}: at most 2 fingerprint boxes (right and left index finger)")
    names = [f.field for f in face.fields]
    if len(set(names)) != len(names):
        raise ProfileError(f"{where}: a field is placed twice")
    return face


def parse_layout(raw: Any, where: str) -> Layout:
    """Validate the ``[layout]`` table (``where`` names the profile file)."""
    top = _Table(raw, f"{where} [layout]")
    width = top.number("width", 10.0, 300.0, default=ID1_WIDTH_MM)
    height = top.number("height", 10.0, 300.0, default=ID1_HEIGHT_MM)
    colors = {
        "ink": top.color("ink", default="#1a1a1a"),
        "label": top.color("label_color", default="#3a3a3a"),
        "accent": top.color("accent", default="#c0282d"),
        "pattern": top.color("pattern", default="#d9c9a3"),
    }
    front = _face(top.get("front", dict), f"{where} [layout.front]", colors)
    back = _face(top.get("back", dict), f"{where} [layout.back]", colors)
    m = _Table(top.get("mrz", dict), f"{where} [layout.mrz]")
    mrz = MrzZone(
        left=m.number("left", 0.0, width),
        line3_centre=m.number("line3_centre", 0.0, height),
        line_spacing=m.number("line_spacing", 2.0, 10.0),
        pitch=m.number("pitch", 1.0, 5.0, default=OCRB_PITCH_MM),
        char_height=m.number("char_height", 1.0, 5.0, default=2.42),
        zone_height=m.number("zone_height", 5.0, height),
    )
    m.done()
    top.done()
    layout = Layout(width, height, colors, front, back, mrz)
    _check_geometry(layout, where)
    return layout


def _check_geometry(layout: Layout, where: str) -> None:
    """Every box on the card; nothing but the MRZ in the MRZ's clear zone (ICAO 9303-5 §4.4)."""
    card = Box(0.0, 0.0, layout.width, layout.height)
    eps = 1e-6
    for face_name, face in (("front", layout.front), ("back", layout.back)):
        for name, box in face.boxes():
            if not (
                box.x >= -eps
                and box.y >= -eps
                and box.right <= card.right + eps
                and box.bottom <= card.bottom + eps
            ):
                raise ProfileError(f"{where} [layout.{face_name}]: {name} lies outside the card")
    mrz = layout.mrz
    if mrz.left + mrz.width > layout.width + eps:
        raise ProfileError(f"{where} [layout.mrz]: 30 characters at this pitch overflow the card")
    top_of_text = mrz.centre_from_top(0, layout.height) - mrz.char_height / 2
    if (
        top_of_text < layout.height - mrz.zone_height - eps
        or mrz.line3_centre < mrz.char_height / 2
    ):
        raise ProfileError(f"{where} [layout.mrz]: the three lines must lie inside the zone")
    zone = Box(0.0, layout.height - mrz.zone_height, layout.width, mrz.zone_height)
    for name, box in layout.back.boxes():
        if box.overlaps(zone):
            raise ProfileError(
                f"{where} [layout.back]: {name} enters the MRZ zone (ICAO 9303-5 keeps it clear)"
            )
