"""cardkit's eMRTD chip emulator: the chip applet in software (ICAO 9303, ISO/IEC 7816-4).

:class:`EmulatedCard` is the card (driven by the vpcd bridge or, in process, through
:class:`EmulatorConnection`); its state file holds private keys: a virtual card for tests and
demos, see :mod:`cardkit.emulator.state`. :class:`JmrtdApplet` is the genuine JMRTD passport
applet, emulated as its source defines it (:mod:`cardkit.emulator.jmrtd`), with its own state
file (:mod:`cardkit.emulator.jmrtd_state`).
"""

from __future__ import annotations

from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.emulator.jmrtd import JmrtdApplet
from cardkit.emulator.jmrtd_state import JmrtdState
from cardkit.emulator.state import CardState, EmulatorStateError

__all__ = [
    "CardState",
    "EmulatedCard",
    "EmulatorConnection",
    "EmulatorStateError",
    "JmrtdApplet",
    "JmrtdState",
]
