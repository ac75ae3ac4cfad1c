"""Names in the MRZ alphabet: transliteration (ICAO 9303-3 §4.6, §6 Table A) and truncation.

The MRZ admits only ``A``–``Z``, ``0``–``9`` and the filler ``<`` (9303-3 §4.3–§4.4). A name is
brought there in three steps:

1. **Transliterate** each character. 9303-3 §6 Table A gives the recommended transliteration of
   the multinational Latin-based letters. Almost every entry is "the base letter without its
   diacritic", which Unicode canonical decomposition (NFD, then dropping combining marks) gives
   for free, and which is exactly what Vietnamese needs (ă â ê ô ơ ư and the five tone marks).
   The letters that do not decompose, or that Table A spells with two letters, are listed in
   :data:`_SPECIAL`. Where Table A offers a choice (``Ä`` "AE or A", ``Ñ`` "N or NXX",
   ``Ü`` "UE or UXX or U") the first one is used, except ``Ñ`` → ``N``: the ``NXX`` escape is
   an option few issuers use and a reader would show it as part of the name.
2. **Punctuation** (9303-3 §4.6): an apostrophe is dropped and the parts joined (D'ARTAGNAN →
   DARTAGNAN); a hyphen, a comma or a space becomes one filler (MARIE-ELISE → MARIE<ELISE);
   other punctuation is dropped.
3. **Truncate** to the width of the name field when the name is too long (9303-5 §4.2.3 for
   TD1, 9303-4 §4.2.3 for TD3): see :func:`mrz_name`.

A character with no transliteration (CJK, Cyrillic: 9303-3 §6 B is language dependent and not
implemented) raises :class:`~cardkit.errors.EncodingError` naming that one character, never the
whole name.
"""

from __future__ import annotations

import re
import unicodedata

from cardkit.errors import EncodingError

FILLER = "<"

#: Table A entries (9303-3 §6) that canonical decomposition does not produce: two-letter
#: transliterations, and letters with a stroke/bar/ligature that have no decomposition.
#: Keys are upper case: the input is upper-cased first (``ß``.upper() is already ``SS``).
_SPECIAL: dict[str, str] = {
    "Ä": "AE",  # 00C4 "AE or A"
    "Å": "AA",  # 00C5 "AA or A"
    "Æ": "AE",  # 00C6
    "Ð": "D",  # 00D0 Eth
    "Ö": "OE",  # 00D6 "OE or O"
    "Ø": "OE",  # 00D8
    "Ü": "UE",  # 00DC "UE or UXX or U"
    "Þ": "TH",  # 00DE Thorn (Iceland)
    "Đ": "D",  # 0110 D stroke: Vietnamese Đ has no decomposition (DOMAIN.md §3)
    "Ħ": "H",  # 0126
    "ı": "I",  # 0131 dotless i (upper() maps it to I already; kept for clarity)
    "Ĳ": "IJ",  # 0132
    "Ŀ": "L",  # 013F L middle dot (compatibility decomposition only)
    "Ł": "L",  # 0141
    "Ŋ": "N",  # 014A Eng
    "Œ": "OE",  # 0152
    "Ŧ": "T",  # 0166
    "ẞ": "SS",  # 1E9E capital sharp s
}

#: Characters that separate name components: one filler each (9303-3 §4.6 hyphen, comma).
_SEPARATORS = frozenset("-,<\u2010\u2011\u2012\u2013\u2014\u2212")
#: Apostrophes: dropped, the parts on either side joined (9303-3 §4.6).
_APOSTROPHES = frozenset("'`\u2018\u2019\u02bc\u02b9\u00b4")

_MRZ_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _letter(ch: str) -> str | None:
    """The MRZ spelling of one upper-case letter, or None when Table A has none."""
    if ch in _MRZ_CHARS:
        return ch
    special = _SPECIAL.get(ch)
    if special is not None:
        return special
    # Canonical decomposition, combining marks dropped: À → A, Ễ → E, Ư → U, Ǿ → Ø → OE.
    out = []
    for part in unicodedata.normalize("NFD", ch):
        if unicodedata.combining(part):
            continue
        if part in _MRZ_CHARS:
            out.append(part)
        elif part in _SPECIAL and part != ch:
            out.append(_SPECIAL[part])
        else:
            return None
    return "".join(out) or None


def transliterate(text: str) -> str:
    """``text`` in the MRZ alphabet: upper case, diacritics dropped, separators as single ``<``.

    Leading and trailing separators are removed and runs of separators collapse into one filler,
    so the result never contains ``<<`` (which the MRZ reserves for the primary/secondary split).
    Digits are kept (the MRZ alphabet has them); :func:`mrz_name` rejects them in names.
    """
    # NFC first so that a decomposed input (e + combining circumflex) is one character, then
    # upper case (ß → SS, ŉ → ʼN, đ → Đ).
    upper = unicodedata.normalize("NFC", text).upper()
    out: list[str] = []
    for ch in upper:
        if ch.isspace() or ch in _SEPARATORS:
            out.append(FILLER)
        elif ch in _APOSTROPHES:
            continue
        elif unicodedata.combining(ch):
            # A mark NFC could not compose onto its base: a diacritic, dropped like the others.
            continue
        elif unicodedata.category(ch).startswith("P"):
            continue  # "All other punctuation characters shall be omitted" (9303-3 §4.6)
        else:
            spelled = _letter(ch)
            if spelled is None:
                name = unicodedata.name(ch, "unnamed character")
                raise EncodingError(
                    f"character U+{ord(ch):04X} ({name}) has no transliteration to the MRZ "
                    "alphabet (ICAO 9303-3 §6)"
                )
            out.append(spelled)
    return re.sub("<+", FILLER, "".join(out)).strip(FILLER)


def _components(text: str) -> list[str]:
    return [c for c in transliterate(text).split(FILLER) if c]


def _joined_length(lengths: list[int]) -> int:
    return sum(lengths) + len(lengths) - 1 if lengths else 0


def _shrink(components: list[str], avail: int) -> str:
    """Fit name components into ``avail`` characters, filling them exactly when possible.

    The method is one of those 9303-5 §4.2.3 leaves to the issuer: reduce components to their
    initial, the last one first, until the name fits; if even initials do not fit, drop trailing
    components; then hand the spare positions back one at a time, round-robin over the shortened
    components in order. This reproduces the 9303-5 §4.2.3.1 examples a) and b) and the
    VILARCHAO FERNANDEZ example of §4.2.3.4, and it ends on a letter whenever the field is full,
    which is how a reader knows the name may have been truncated.
    """
    if avail <= 0 or not components:
        return ""
    full = [len(c) for c in components]
    lengths = full[:]
    i = len(lengths) - 1
    while _joined_length(lengths) > avail and i >= 0:
        lengths[i] = 1
        i -= 1
    while len(lengths) > 1 and _joined_length(lengths) > avail:
        lengths.pop()
    spare = avail - _joined_length(lengths)
    shortened = [k for k in range(len(lengths)) if lengths[k] < full[k]]
    while spare > 0 and shortened:
        for k in list(shortened):
            if spare == 0:
                break
            lengths[k] += 1
            spare -= 1
            if lengths[k] == full[k]:
                shortened.remove(k)
    return FILLER.join(c[:n] for c, n in zip(components, lengths, strict=False))


def mrz_name(primary: str, secondary: str, width: int) -> str:
    """The MRZ name field ``PRIMARY<<SECONDARY<NAMES``, filled with ``<`` to exactly ``width``.

    ``primary`` and ``secondary`` are the primary and secondary identifiers as printed (any
    script Table A covers). A name with only one part goes in the primary identifier (9303-5
    §4.2.2.3). When the name does not fit (9303-5 §4.2.3, 9303-4 §4.2.3):

    - the secondary identifier is shortened first (§4.2.3.1), as long as the whole primary
      identifier, ``<<`` and at least the first letter of the secondary identifier fit;
    - otherwise the primary identifier is shortened until ``<<`` and the initial of the first
      secondary component fit (the TD1 data element directory, 9303-5 §4.2.2.3 "Truncation");
    - a primary identifier alone is shortened to fill the field.

    A truncated field ends with a letter in its last position; a name that fits exactly does too
    (§4.2.3.3), so a reader must always assume possible truncation in that case.
    """
    if width < 1:
        raise ValueError("the name field has at least one position")
    prim = _components(primary)
    sec = _components(secondary)
    if not prim:
        prim, sec = sec, []
    if not prim:
        raise EncodingError("name: both the primary and the secondary identifier are empty")
    if any(ch.isdigit() for ch in "".join(prim + sec)):
        raise EncodingError("name: digits are not allowed in the MRZ name field (ICAO 9303-3 §4.6)")
    prim_text = FILLER.join(prim)
    sec_text = FILLER.join(sec)
    field = prim_text + (FILLER * 2 + sec_text if sec else "")
    if len(field) > width:
        if sec and len(prim_text) + 3 <= width:
            field = prim_text + FILLER * 2 + _shrink(sec, width - len(prim_text) - 2)
        elif sec and width >= 4:
            field = _shrink(prim, width - 3) + FILLER * 2 + sec[0][0]
        else:
            field = _shrink(prim, width)
    return field.ljust(width, FILLER)


def split_vietnamese_name(full_name: str) -> tuple[str, str]:
    """``(surname, given_names)`` of a Vietnamese full name written surname first.

    Vietnamese names are written family name, middle name(s), given name (``Nguyễn Văn An``);
    the card's MRZ puts the first word in the primary identifier and the rest in the secondary
    identifier (DOMAIN.md §3). Whitespace is normalised; the letters are returned unchanged.
    """
    words = full_name.split()
    if not words:
        raise EncodingError("full name is empty")
    return words[0], " ".join(words[1:])
