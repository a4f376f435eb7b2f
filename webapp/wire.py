"""Socket.IO packets that find their binary parts without visiting every number.

python-socketio looks for bytes in a packet's data twice (to mark it as a binary event, then
to cut the bytes out as attachments) by recursing into every element. A `result` holds ten
probabilities and four box coordinates per digit, so for a frame of ten digits that is over
400 Python calls, about half a millisecond of the server's own thread per frame. Lists of plain
values are checked here in one C-level pass instead; the wire format is unchanged (the
packet class is python-socketio's documented `serializer` extension point). Incoming packets may
announce one binary attachment at most: python-socketio keeps every attachment a header asks for
until the last arrives, so a header announcing 999 would let one client pile up gigabytes. A packet
that cannot be decoded (bad JSON, an unknown type, too many attachments) becomes a MALFORMED event
for the server to answer with a clear error; python-socketio would log a traceback for it.
"""
from __future__ import annotations

from itertools import repeat
from typing import Any

from socketio import packet

_BINARY = (bytes, bytearray)
MAX_ATTACHMENTS = 1  # a frame from the page carries one image
MALFORMED = "malformed packet"  # the event a packet that cannot be decoded is turned into
_FROM_CLIENTS = (packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK, packet.BINARY_EVENT, packet.BINARY_ACK)
_NOT_PLAIN = (bytes, bytearray, list, dict)  # what makes a list need a closer look


class Reason(str):
    """Why a packet could not be decoded. No JSON decodes to this type, so a client that sends a
    MALFORMED event of its own cannot pass for the decoder."""


def plain(items: list) -> bool:
    """True when no item is binary or a container (isinstance mapped in C, no Python frames)."""
    return not any(map(isinstance, items, repeat(_NOT_PLAIN)))


class LeanPacket(packet.Packet):
    """packet.Packet with cheaper binary detection and extraction; same bytes on the wire."""

    def __init__(self, *args: Any, encoded_packet: Any = None, **kwargs: Any):
        super().__init__(*args, encoded_packet=encoded_packet, **kwargs)
        if encoded_packet is not None and len(encoded_packet) == 0:  # the base class skips decoding it
            self._malformed("an empty packet")

    def decode(self, encoded_packet: Any) -> int:
        try:
            count = super().decode(encoded_packet) or 0
        except (ValueError, TypeError, IndexError, RecursionError) as exc:
            return self._malformed(f"not a Socket.IO packet ({type(exc).__name__}: {str(exc)[:80]})")
        if self.packet_type not in _FROM_CLIENTS:
            return self._malformed(f"not a Socket.IO packet a client sends (type {self.packet_type!r})")
        if self.packet_type in (packet.EVENT, packet.BINARY_EVENT) and not (
                isinstance(self.data, list) and self.data and isinstance(self.data[0], str)):
            return self._malformed("an event must be a list that starts with its name")
        binary = self.packet_type in (packet.BINARY_EVENT, packet.BINARY_ACK)
        if binary and count == 0:  # python-socketio would wait for attachments forever
            return self._malformed("a binary packet must announce its attachments")
        if count > MAX_ATTACHMENTS:
            return self._malformed(f"a packet announced {count} binary attachments; at most {MAX_ATTACHMENTS} are taken")
        return count

    def _malformed(self, reason: str) -> int:
        """Become an event on the main namespace that names what was wrong, with no attachments."""
        self.packet_type, self.namespace, self.id = packet.EVENT, "/", None
        self.data = [MALFORMED, Reason(reason)]
        self.attachment_count, self.attachments = 0, []
        return 0

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        if isinstance(data, _BINARY):
            return True
        if isinstance(data, list):
            return not plain(data) and any(cls.data_is_binary(item) for item in data)
        if isinstance(data, dict):
            return any(cls.data_is_binary(value) for value in data.values())
        return False

    @classmethod
    def _deconstruct_binary_internal(cls, data: Any, attachments: list) -> Any:
        if isinstance(data, _BINARY):
            attachments.append(data)
            return {"_placeholder": True, "num": len(attachments) - 1}
        if isinstance(data, list):
            if plain(data):
                return data
            return [cls._deconstruct_binary_internal(item, attachments) for item in data]
        if isinstance(data, dict):
            return {key: cls._deconstruct_binary_internal(value, attachments) for key, value in data.items()}
        return data
