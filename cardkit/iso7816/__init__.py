"""ISO/IEC 7816-4 interindustry values below every protocol: command and response APDUs (short
and extended encoding, status words) and the one-method :class:`~cardkit.iso7816.connection.
Connection` that secure messaging, BAC, PACE, CA and AA talk through (as gmrtd's ``iso7816``
package). No I/O: the PC/SC implementation of a connection lives in :mod:`cardkit.transport`."""
