"""Which reader a person means by ``--reader``: the exact name, a part of it, or its index.

``--reader`` accepts what people type (as yubikey-manager's ``--reader`` does): the exact PC/SC
reader name, a case-insensitive substring of one name, or the decimal index that ``cardkit
readers`` prints (pcscd's listing order, which is config-file order: DOMAIN.md §8). With no
``--reader`` at all, the only reader is taken when there is exactly one.

Pure: :func:`resolve_reader` gets the names pcscd listed (``SCardListReaders``, PC/SC
Workgroup spec part 5) as an argument; :func:`cardkit.transport.pcsc.open_reader` and
:func:`cardkit.transport.pcsc.select_reader` list them and call it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cardkit.errors import CardkitError, TransportError

__all__ = [
    "NO_READERS",
    "AmbiguousReaderError",
    "ReaderNotFoundError",
    "listing",
    "resolve_reader",
]

NO_READERS = "no PC/SC readers (is pcscd running?)"


class AmbiguousReaderError(CardkitError):
    """``spec`` designates several readers (``candidates``, in listing order), or it was left
    out while several readers are connected: a usage error (exit 2), not a reader error."""

    def __init__(self, message: str, *, spec: str | None, candidates: Sequence[str]) -> None:
        self.spec = spec
        self.candidates = tuple(candidates)
        super().__init__(message)


class ReaderNotFoundError(TransportError):
    """No reader matches ``spec`` (or there is no reader at all): ``readers`` are the names
    pcscd listed. A TransportError (exit 3): the reader is missing, not the command wrong."""

    def __init__(self, message: str, *, spec: str | None, readers: Sequence[str]) -> None:
        self.spec = spec
        self.readers = tuple(readers)
        super().__init__(message, reader=spec)


def listing(names: Sequence[str], only: Sequence[str] | None = None) -> str:
    """``"0 Virtual PCD 00 00, 1 Virtual PCD 00 01"``: the names with the index ``cardkit
    readers`` prints (the position in ``names``), optionally only those in ``only``."""
    chosen = set(names if only is None else only)
    return ", ".join(f"{index} {name}" for index, name in enumerate(names) if name in chosen)


def _index(spec: str) -> int | None:
    text = spec.strip()
    # ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None


def resolve_reader(spec: str | None, names: Sequence[str]) -> str:
    """The reader name ``spec`` designates among ``names`` (pcscd's listing, in order).

    In this order: ``None`` takes the only reader; an exact name wins; a decimal number is an
    index into ``names`` (when in range; otherwise it is matched as text, so "1252" still finds
    "ACS ACR1252U"); then a case-insensitive substring that matches exactly one name (or, among
    several, the one equal to ``spec`` ignoring case).

    Raises :class:`AmbiguousReaderError` (several matches, or ``None`` with several readers)
    and :class:`ReaderNotFoundError` ("no reader matches 'x'; readers: 0 A, 1 B", or "no PC/SC
    readers (is pcscd running?)" when ``names`` is empty).
    """
    names = list(names)
    if not names:
        raise ReaderNotFoundError(NO_READERS, spec=spec, readers=names)
    if spec is None:
        if len(names) == 1:
            return names[0]
        raise AmbiguousReaderError(
            f"several PC/SC readers: choose one with --reader (a name, a part of it or its "
            f"index): {listing(names)}",
            spec=None,
            candidates=names,
        )
    if spec in names:
        return spec
    index = _index(spec)
    if index is not None and index < len(names):
        return names[index]
    wanted = spec.strip().casefold()
    matches = [name for name in names if wanted and wanted in name.casefold()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        equal = [name for name in matches if name.casefold() == wanted]
        if len(equal) == 1:
            return equal[0]
        raise AmbiguousReaderError(
            f"reader {spec!r} is ambiguous: {listing(names, matches)}",
            spec=spec,
            candidates=matches,
        )
    raise ReaderNotFoundError(
        f"no reader matches {spec!r}; readers: {listing(names)}", spec=spec, readers=names
    )
