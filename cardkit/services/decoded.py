"""DG1, DG2 and DG13 of a card, decoded once for the checks of an inspection, never raising.

DG1 (the MRZ, ICAO 9303-10 §4.7.1), DG2 (the face, §4.7.2) and DG13 (the holder's details,
DOMAIN.md §4) are decoded by :mod:`cardkit.lds`; a data group that does not decode is kept as a
problem (its number and why), so that a hostile chip's bytes become a finding of the checks that
need it, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cardkit.errors import CardkitError
from cardkit.lds.dg1 import Dg1
from cardkit.lds.dg2 import Dg2
from cardkit.lds.dg13 import Dg13

__all__ = ["Decoded", "decode_groups"]


@dataclass
class Decoded:
    dg1: Dg1 | None = None
    dg13: Dg13 | None = None
    dg2: Dg2 | None = None
    problems: dict[int, str] = field(default_factory=dict)


def decode_groups(groups: Mapping[int, bytes]) -> Decoded:
    out = Decoded()
    for number, parser, attr in ((1, Dg1.from_bytes, "dg1"), (13, Dg13.from_bytes, "dg13"),
                                 (2, Dg2.from_bytes, "dg2")):  # fmt: skip
        raw = groups.get(number)
        if raw is None:
            continue
        try:
            setattr(out, attr, parser(raw))
        except CardkitError as exc:
            out.problems[number] = str(exc)
        except Exception as exc:  # hostile bytes must never escape as a crash
            out.problems[number] = f"unreadable ({type(exc).__name__})"
    return out
