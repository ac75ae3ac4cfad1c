"""What one inspection of a card gives (``cardkit verify``): :class:`Inspection` — the report of
ICAO 9303-11 §7's inspection procedure (verdict and checks, :mod:`cardkit.report`), the holder's
data (:class:`~cardkit.services.person.PersonalData`), the face of DG2 and how the chip was read —
and :class:`Face`, the first face image of DG2 (ISO/IEC 19794-5; ICAO 9303-10 §4.7.2).

Values only: :func:`cardkit.services.verify.verify_card` makes them. No secret (MRZ key, CAN,
session keys) is ever kept in them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cardkit.report import Check, Report, Status, Verdict
from cardkit.services.person import PersonalData

__all__ = ["Face", "FaceFormat", "Inspection"]

FaceFormat = Literal["jpeg", "jpeg2000"]


@dataclass(frozen=True)
class Face:
    """The first face image of DG2 (ISO/IEC 19794-5), bytes as stored on the chip."""

    data: bytes = field(repr=False)
    format: FaceFormat
    width: int
    height: int

    @property
    def extension(self) -> str:
        return ".jpg" if self.format == "jpeg" else ".jp2"

    def describe(self) -> dict[str, object]:
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
        }


@dataclass(frozen=True)
class Inspection:
    """One verified card: the report (verdict and checks), the holder's data, the face, and how
    the chip was read. No secret (MRZ key, CAN, session keys) is kept."""

    report: Report
    person: PersonalData | None = None
    face: Face | None = None
    access: str | None = None
    apdu_count: int = 0
    read_errors: tuple[str, ...] = ()
    access_denied: bool = False  # the chip refused the CAN/MRZ: enter it again (not a forgery)
    profile: str | None = None  # the profile the card was held to (given or inferred)
    policy: str | None = None  # the verification policy's name

    @property
    def verdict(self) -> Verdict:
        return self.report.verdict

    def failures(self) -> tuple[Check, ...]:
        return self.report.by_status(Status.FAIL)

    def describe(self) -> dict[str, object]:
        """JSON-serialisable (the face as its metadata, not its bytes)."""
        return {
            **self.report.to_dict(),
            "person": self.person.describe() if self.person is not None else None,
            "face": self.face.describe() if self.face is not None else None,
            "access": self.access,
            "apdu_count": self.apdu_count,
            "read_errors": list(self.read_errors),
            "access_denied": self.access_denied,
            "profile": self.profile,
            "policy": self.policy,
        }
