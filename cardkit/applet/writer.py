"""Writing a blank chip through the personalization protocol (DOMAIN.md §7), host side.

:class:`AppletWriter` sends the commands of :mod:`cardkit.applet.commands` in the card's
:class:`~cardkit.applet.dialect.Dialect` (cardkit's applet or JMRTD's) over one
:class:`~cardkit.iso7816.connection.Connection` and checks every status word: each refusal is a
:class:`~cardkit.errors.CardError` whose message names the step ("UPDATE BINARY DG2 at offset
4096"), and the step being carried out is always in :attr:`AppletWriter.step`, so a caller that
sees a :class:`~cardkit.errors.TransportError` (the card left the reader) knows exactly where.

**Chunk size.** Files are written with the largest UPDATE BINARY the card takes: extended length
(up to :data:`~cardkit.applet.commands.MAX_UPDATE_DATA` bytes, ISO/IEC 7816-4 §5.1) when the card
advertises it — card capabilities in the ATR's historical bytes (7816-4 §8.1.1.2.7, third software
function byte b7) and the maximum command length in EF.ATR/INFO's DO'7F66' (§12.7.1) — else short
255-byte chunks. A card whose ATR says nothing is tried with a large UPDATE and written in short
chunks from the first 6700 (wrong length) on. A dialect without extended length (JMRTD's applet)
is written in short chunks from the start. Offsets beyond 32767 use odd-INS UPDATE BINARY where
the dialect has it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cardkit.applet import commands
from cardkit.applet.dialect import CARDKIT, Dialect, identification_of, identify_command
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
FILE_FULL = 0x6A84  # not enough memory space in the file (ISO/IEC 7816-4 §5.1.3)
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
        dialect: Dialect = CARDKIT,
    ) -> None:
        self.connection = connection
        self.dialect = dialect
        if not dialect.capabilities.extended_length:
            extended = False
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

    def identify(self) -> None:
        """Probe the applet (GET DATA ``00 CA 00 FE``, harmless in every state) and refuse, with
        WrongAppletError, one that does not speak this writer's dialect. An applet that says it
        is locked is refused with AppletLockedError. Call after :meth:`select_applet`."""
        response = self._send("identify the applet (GET DATA 00FE)", identify_command())
        identification = identification_of(response)
        self.dialect.identify(identification)
        if identification.life_cycle == "locked":
            raise AppletLockedError(
                "the card is already personalized and locked: it cannot be personalized again",
                sw=SW.CONDITIONS_NOT_SATISFIED,
            )

    def check_blank(self, named_fids: Iterable[tuple[str, int]]) -> None:
        """Refuse, before anything is written, a card that already holds one of these files:
        AppletLockedError when it refuses a plain READ BINARY of one (6982: locked; EF.CardAccess
        is not asked, it stays free to read after LOCK) or, in a dialect whose SELECT needs BAC
        once locked (JMRTD's applet, processSelectFile), refuses the SELECT with 6982;
        AlreadyPersonalizedError otherwise. Files the dialect keeps behind EAC are not asked
        (JMRTD's applet answers 6982 for DG3/DG4 whatever its state). Only SELECT and READ
        BINARY are sent."""
        caps = self.dialect.capabilities
        found: list[tuple[str, int]] = []
        for name, fid in named_fids:
            if fid in caps.eac_files:
                continue
            response = self._send(f"check {name} is absent", commands.select_file(fid))
            if response.sw == SW.FILE_NOT_FOUND:
                continue
            if response.sw == SW.SECURITY_STATUS_NOT_SATISFIED and not caps.plain_read_before_lock:
                raise AppletLockedError(
                    "the card is already personalized and locked (SELECT needs BAC): "
                    "it cannot be personalized again",
                    sw=response.sw,
                )
            if response.sw != SW.OK:
                raise CardError(f"check {name} is absent: SELECT refused", sw=response.sw)
            found.append((name, fid))
        if not found:
            return
        if not caps.plain_read_before_lock:
            raise AlreadyPersonalizedError(
                f"the card already holds {found[0][0]} but is not locked: it was personalized "
                "partially before; `personalize --rewrite` writes it again",
                sw=FILE_EXISTS,
            )
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

    def create_file(self, name: str, fid: int, size: int, *, rewrite: bool = False) -> None:
        """CREATE FILE; with ``rewrite`` an EF that exists (an unlocked card written before) is
        deleted first (cardkit's applet) or re-created within its allocation (JMRTD's)."""
        step = f"CREATE FILE {name} ({size} bytes)"
        response = self._send(step, commands.create_file(fid, size))
        if response.sw == FILE_EXISTS and rewrite:
            self._expect_ok(f"DELETE FILE {name} (rewrite)", commands.delete_file(fid))
            response = self._send(step, commands.create_file(fid, size))
        if response.sw == FILE_EXISTS:
            raise AlreadyPersonalizedError(
                f"{step}: the file exists, the card was personalized (perhaps partially) before",
                sw=response.sw,
            )
        if response.sw in self.dialect.capabilities.locked:
            raise AppletLockedError(f"{step}: the applet is locked", sw=response.sw)
        if response.sw == SW.SECURITY_STATUS_NOT_SATISFIED:
            raise CardError(
                f"{step}: the applet refuses this file without terminal authentication (EAC)",
                sw=response.sw,
            )
        if response.sw == FILE_FULL:
            raise CardError(
                f"{step}: the applet has less room for this file than its size "
                "(an earlier write allocated it smaller)",
                sw=response.sw,
            )
        if response.sw != SW.OK:
            raise CardError(f"{step}: refused by the card", sw=response.sw)

    def select_file(self, name: str, fid: int) -> None:
        self._expect_ok(f"SELECT {name}", commands.select_file(fid))

    def update_file(self, name: str, data: bytes) -> None:
        """UPDATE BINARY the whole current EF with ``data``, in the largest chunks taken: even
        INS while the offset fits P1-P2, odd INS with DO'54' beyond (where the dialect has it)."""
        if (
            len(data) - 1 > commands.MAX_EVEN_OFFSET
            and not self.dialect.capabilities.odd_ins_update
        ):
            raise CardError(
                f"UPDATE BINARY {name}: the {self.dialect.name} applet writes files up to "
                f"{commands.MAX_EVEN_OFFSET + 1} bytes",
                sw=0,
            )
        offset = 0
        while offset < len(data):
            odd = offset > commands.MAX_EVEN_OFFSET
            if odd:
                chunk = data[offset : offset + commands.odd_update_room(self.chunk, offset)]
                command = commands.update_binary_odd(offset, chunk)
            else:  # P1-P2 carry where the chunk starts; it may run past 32767
                chunk = data[offset : offset + self.chunk]
                command = commands.update_binary(offset, chunk)
            step = f"UPDATE BINARY {name} at offset {offset} ({len(chunk)} bytes)"
            response = self._send(step, command)
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

    def write_file(self, name: str, fid: int, data: bytes, *, rewrite: bool = False) -> None:
        """CREATE FILE, SELECT and UPDATE BINARY of one whole file."""
        self.create_file(name, fid, len(data), rewrite=rewrite)
        self.select_file(name, fid)
        self.update_file(name, data)

    def put_data(self, what: str, command: Command) -> None:
        """One PUT DATA the dialect built; ``what`` names the object (never its value: these
        are secrets)."""
        step = f"PUT DATA {what}"
        response = self._send(step, command)
        if response.sw in self.dialect.capabilities.locked:
            raise AppletLockedError(f"{step}: the applet is locked", sw=response.sw)
        if response.sw != SW.OK:
            raise CardError(f"{step}: refused by the card", sw=response.sw)

    def lock(self) -> None:
        self._expect_ok("LOCK (PUT DATA DE AD)", commands.lock())
