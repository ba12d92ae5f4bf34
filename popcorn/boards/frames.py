"""The host link's frames, defined once for the board (:class:`~popcorn.boards.host_link.UARTLink`)
and the host (:mod:`popcorn.boards.host`): every request and reply carries a length and a
CRC, so that a corrupted, truncated or overlong frame is answered with an error code and the
link recovers for the next one.

Request (host to board)::

    REQUEST_SYNC  kind  tag  length (u16, little-endian)  payload (length bytes)  CRC (u16, big-endian)

Reply (board to host), one per request that reached its length field, in the order of
the requests, with the request's tag (any byte the host chooses: it tells which request a
reply answers after frames were lost)::

    REPLY_SYNC  status  tag  length (u16, little-endian)  payload (length bytes)  CRC (u16, big-endian)

The CRC is CRC-16/CCITT-FALSE (:data:`CRC`: polynomial 0x1021, initial 0xFFFF) of every
byte after the sync byte up to the CRC; sent most significant byte first, so that a
receiver's CRC register reads the algorithm's residue after the last byte.

Kinds: :data:`IMAGE` (payload: the image's input words, :func:`~popcorn.boards.host.image_bytes`;
reply payload: the result word) and :data:`WEIGHTS` (a folded build's weight image over the
link instead of the flash, once after reset; reply payload empty). A reply whose status is
not :data:`OK` has an empty payload.

The board discards bytes before a sync byte. After an error it discards every byte until
the line has been idle for its idle time (:data:`IDLE_SECONDS`), so a host resends only
after that long a pause. A frame whose line falls idle that long before its last byte is
:data:`TRUNCATED`; its image is completed with zero bytes inside the board and its result
dropped.
"""

from amaranth.lib.crc import catalog

REQUEST_SYNC = 0xA5
REPLY_SYNC = 0x5A

IMAGE, WEIGHTS = 0x01, 0x02
"""Request kinds."""

OK = 0
BAD_CRC = 1          # the CRC does not match: a bit error
BAD_LENGTH = 2       # the length is not the kind's (an overlong or short frame)
BAD_KIND = 3         # no such kind, or weights to a build that reads them from flash
TRUNCATED = 4        # the line fell idle before the frame's last byte
LINE_ERROR = 5       # the UART lost a byte (receive overrun or framing error)
NO_WEIGHTS = 6       # a folded build could not read its weights from flash
LOADED = 7           # weights sent twice: a folded build takes them once after reset

STATUS = {OK: "ok", BAD_CRC: "bad CRC", BAD_LENGTH: "bad length", BAD_KIND: "bad kind",
          TRUNCATED: "truncated", LINE_ERROR: "line error (overrun or framing)",
          NO_WEIGHTS: "no weights (flash image missing or damaged)",
          LOADED: "weights already loaded"}
"""Status codes and what they mean."""

STATUS_BITS = 3

MAX_PAYLOAD = 0xFFFF
"""The largest payload a frame carries (its 16-bit length)."""

IDLE_SECONDS = 0.002
"""How long the line must stay idle for the board to end a truncated frame, or to listen
again after an error: about 23 bytes at 115 200 baud. A host sends each frame's bytes
back to back and waits at least this long after an error reply before resending."""

CRC = catalog.CRC16_CCITT_FALSE(data_width=8)
"""The frames' CRC (:mod:`amaranth.lib.crc`: the same parameters build the board's
``Processor`` and compute the host's CRC)."""


def crc_bytes(data):
    """The CRC of ``data`` (bytes after the sync byte) as the frame sends it: big-endian."""
    return CRC.compute(data).to_bytes(2, "big")


def frame(sync, code, tag, payload):
    """A frame: ``sync``, ``code`` (kind or status), ``tag``, the length, ``payload`` and
    the CRC."""
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a frame carries at most {MAX_PAYLOAD} bytes, not {len(payload)}")
    body = bytes([code, tag]) + len(payload).to_bytes(2, "little") + payload
    return bytes([sync]) + body + crc_bytes(body)


def request(kind, tag, payload):
    """A request frame of ``kind`` (:data:`IMAGE` or :data:`WEIGHTS`)."""
    return frame(REQUEST_SYNC, kind, tag, payload)


def reply(status, tag, payload=b""):
    """A reply frame, as the board sends it."""
    return frame(REPLY_SYNC, status, tag, payload)


class FrameError(ValueError):
    """Bytes that are not a whole, intact reply frame."""


HEADER = 5
"""Bytes before a frame's payload: sync, kind or status, tag, length."""


def parse_reply(data):
    """``(status, tag, payload, rest)`` of the reply frame at the start of ``data``; raises
    :class:`FrameError` when ``data`` is short, or its sync byte or CRC is wrong."""
    data = bytes(data)
    if len(data) < HEADER + 2:
        raise FrameError(f"a reply frame has at least {HEADER + 2} bytes, got {len(data)}")
    if data[0] != REPLY_SYNC:
        raise FrameError(f"a reply starts with {REPLY_SYNC:#04x}, not {data[0]:#04x}")
    end = HEADER + int.from_bytes(data[3:5], "little") + 2
    if len(data) < end:
        raise FrameError(f"the reply's length says {end} bytes, got {len(data)}")
    if crc_bytes(data[1:end - 2]) != data[end - 2:end]:
        raise FrameError("the reply's CRC does not match its bytes")
    return data[1], data[2], data[HEADER:end - 2], data[end:]
