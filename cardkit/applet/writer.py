"""Writing a blank chip through the personalization protocol (DOMAIN.md §7), host side.

:class:`AppletWriter` sends the commands of :mod:`cardkit.applet.commands` over one
:class:`~cardkit.iso7816.connection.Connection` and checks every status word: each refusal is a
:class:`~cardkit.errors.CardError` whose message names the step ("UPDATE BINARY DG2 at offset
4096"), and the step being carried out is always in :attr:`AppletWriter.step`, so a caller that
sees a :class:`~cardkit.errors.TransportError` (the card left the reader) knows exactly where.

**Chunk size.** Files are written with the largest UPDATE BINARY the card takes: extended length
(up to :data:`~cardkit.applet.commands.MAX_UPDATE_DATA` bytes, ISO/IEC 7816-4 §5.1) when the card
advertises it — card capabilities in the ATR's historical bytes (7816-4 §8.1.1.2.7, third software
function byte b7) and the maximum command length in EF.ATR/INFO's DO'7F66' (§12.7.1) — else short
255-byte chunks. A card whose ATR says nothing is tried with a large UPDATE and written in short
chunks from the first 6700 (wrong length) on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cardkit.applet import commands
from cardkit.errors import CardError
from cardkit.iso7816.apdu import SHORT_MAX_DATA, SW, Command, Response
from cardkit.iso7816.atr import ATR_INFO_FID, extended_length_from_atr, max_command_from_atr_info
from cardkit.iso7816.connection import Connection, connection_atr

__all__ = [
    "AlreadyPersonalizedError",
    "AppletLockedError",
    "AppletWriter",
]

FILE_EXISTS = 0x6A89
CARD_ACCESS_FID = 0x011C
#: Header (4) + extended Lc (3): what an UPDATE BINARY adds around its data.
_EXTENDED_OVERHEAD = 7


class AppletLockedError(CardError):
    """The applet is locked (PUT DATA DE AD done): it cannot be personalized again."""


class AlreadyPersonalizedError(CardError):
    """The card already holds LDS files: personalized (perhaps partially) before."""


class AppletWriter:
    """Personalization commands over ``connection``, status words checked, steps named.

    ``extended`` forces (True) or forbids (False) extended-length UPDATE BINARY; None lets the
    card decide (:meth:`detect_extended`). ``on_step`` is called with each step's name before its
    command is sent (progress, operator logs). Counts: :attr:`apdu_count`, :attr:`data_bytes`.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        extended: bool | None = None,
        atr: bytes | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.connection = connection
        self.forced = extended
        self.atr = atr if atr is not None else connection_atr(connection)
        self.on_step = on_step
        self.step = "not started"
        self.apdu_count = 0
        self.data_bytes = 0
        self.extended = extended is True
        self.chunk = commands.MAX_UPDATE_DATA if extended else SHORT_MAX_DATA
        self.fell_back = False

    # -- sending

    def _send(self, step: str, command: Command) -> Response:
        self.step = step
        if self.on_step is not None:
            self.on_step(step)
        response = self.connection.send(command)
        self.apdu_count += 1
        return response

    def _expect_ok(self, step: str, command: Command) -> None:
        response = self._send(step, command)
        if response.sw != SW.OK:
            raise CardError(f"{step}: refused by the card", sw=response.sw)

    # -- decisions

    def detect_extended(self) -> bool:
        """Decide the chunk size (module docstring). Call before :meth:`select_applet`:
        EF.ATR/INFO lives in the master file, current after reset."""
        if self.forced is not None:
            return self.extended
        announced = extended_length_from_atr(self.atr)
        if announced is False:
            self.extended, self.chunk = False, SHORT_MAX_DATA
            return False
        self.extended, self.chunk = True, commands.MAX_UPDATE_DATA
        # Not announced either way (None): try extended, update_file falls back on 6700.
        if announced:
            limit = self._max_command_length()
            if limit is not None:
                self.chunk = max(SHORT_MAX_DATA, min(self.chunk, limit - _EXTENDED_OVERHEAD))
                self.extended = self.chunk > SHORT_MAX_DATA
        return self.extended

    def _max_command_length(self) -> int | None:
        step = "SELECT EF.ATR/INFO"
        if self._send(step, commands.select_file(ATR_INFO_FID)).sw != SW.OK:
            return None
        response = self._send("READ BINARY EF.ATR/INFO", Command(0x00, 0xB0, 0x00, 0x00, ne=256))
        if response.sw not in (SW.OK, SW.WARNING_END_OF_FILE):
            return None
        return max_command_from_atr_info(response.data)

    # -- commands

    def select_applet(self) -> None:
        step = "SELECT eMRTD applet"
        response = self._send(step, commands.select_applet())
        if response.sw == SW.FILE_NOT_FOUND:
            raise CardError(
                f"{step}: the card has no eMRTD applet (AID A0000002471001)", sw=response.sw
            )
        if response.sw != SW.OK:
            raise CardError(f"{step}: refused by the card", sw=response.sw)

    def check_blank(self, named_fids: Iterable[tuple[str, int]]) -> None:
        """Refuse, before anything is written, a card that already holds one of these files:
        AppletLockedError when it refuses a plain READ BINARY of one (6982: locked; EF.CardAccess
        is not asked, it stays free to read after LOCK), AlreadyPersonalizedError otherwise.
        Only SELECT and READ BINARY are sent."""
        found: list[tuple[str, int]] = []
        for name, fid in named_fids:
            response = self._send(f"check {name} is absent", commands.select_file(fid))
            if response.sw == SW.FILE_NOT_FOUND:
                continue
            if response.sw != SW.OK:
                raise CardError(f"check {name} is absent: SELECT refused", sw=response.sw)
            found.append((name, fid))
        if not found:
            return
        # EF.CardAccess stays readable after LOCK (PACE needs it): ask another file.
        for name, fid in found:
            if fid == CARD_ACCESS_FID:
                continue
            self._send(f"select {name}", commands.select_file(fid))
            read = self._send(f"check {name} is readable", Command(0x00, 0xB0, 0, 0, ne=1))
            if read.sw in (SW.SECURITY_STATUS_NOT_SATISFIED, SW.CONDITIONS_NOT_SATISFIED):
                raise AppletLockedError(
                    f"the card is already personalized and locked ({name} exists): "
                    "it cannot be personalized again",
                    sw=read.sw,
                )
            break
        raise AlreadyPersonalizedError(
            f"the card already holds {found[0][0]}: it was personalized (perhaps partially) "
            "before and cannot be personalized again",
            sw=FILE_EXISTS,
        )

    def create_file(self, name: str, fid: int, size: int) -> None:
        step = f"CREATE FILE {name} ({size} bytes)"
        response = self._send(step, commands.create_file(fid, size))
        if response.sw == FILE_EXISTS:
            raise AlreadyPersonalizedError(
                f"{step}: the file exists, the card was personalized (perhaps partially) before",
                sw=response.sw,
            )
        if response.sw in (SW.CONDITIONS_NOT_SATISFIED, SW.SECURITY_STATUS_NOT_SATISFIED):
            raise AppletLockedError(f"{step}: the applet is locked", sw=response.sw)
        if response.sw != SW.OK:
            raise CardError(f"{step}: refused by the card", sw=response.sw)

    def select_file(self, name: str, fid: int) -> None:
        self._expect_ok(f"SELECT {name}", commands.select_file(fid))

    def update_file(self, name: str, data: bytes) -> None:
        """UPDATE BINARY the whole current EF with ``data``, in the largest chunks taken."""
        if len(data) - 1 > commands.MAX_EVEN_OFFSET:
            raise CardError(f"UPDATE BINARY {name}: files over 32 KiB are not supported", sw=0)
        offset = 0
        while offset < len(data):
            chunk = data[offset : offset + self.chunk]
            step = f"UPDATE BINARY {name} at offset {offset} ({len(chunk)} bytes)"
            response = self._send(step, commands.update_binary(offset, chunk))
            if (
                response.sw == SW.WRONG_LENGTH
                and len(chunk) > SHORT_MAX_DATA
                and self.forced is None
            ):
                # The card does not take this much in one APDU: short chunks from here on.
                self.extended, self.chunk, self.fell_back = False, SHORT_MAX_DATA, True
                continue
            if response.sw != SW.OK:
                raise CardError(f"{step}: refused by the card", sw=response.sw)
            offset += len(chunk)
            self.data_bytes += len(chunk)

    def write_file(self, name: str, fid: int, data: bytes) -> None:
        """CREATE FILE, SELECT and UPDATE BINARY of one whole file."""
        self.create_file(name, fid, len(data))
        self.select_file(name, fid)
        self.update_file(name, data)

    def put_data(self, what: str, p1: int, p2: int, data: bytes) -> None:
        """PUT DATA; ``what`` names the object (never its value: these are secrets)."""
        self._expect_ok(f"PUT DATA {what}", commands.put_data(p1, p2, data))

    def lock(self) -> None:
        self._expect_ok("LOCK (PUT DATA DE AD)", commands.lock())
