"""LeanPacket: the same Socket.IO packets as python-socketio's own, found with less work."""
from __future__ import annotations

import pytest
from socketio import packet

from webapp.wire import LeanPacket

REPLY = {
    "id": 7,
    "digits": [{"label": d, "confidence": 0.99, "box": [10 * d, 5, 20, 30], "probs": [0.1] * 10} for d in range(10)],
    "lines": ["0123456789"],
    "rejected": 1,
    "timings_ms": {"decode": 0.7, "total": 9.1},
    "annotated": b"\xff\xd8 jpeg bytes",
    "dropped": 0,
}

CASES = [
    ["result", REPLY],
    ["error", {"id": 3, "message": "not an image"}],
    ["nested", {"a": [1, [2, bytearray(b"x")], {"b": [b"y", "z"]}]}],
    ["plain", [1, 2.5, "three", None, True]],
    ["bytes-first", b"raw", {"then": [b"more"]}],
]


@pytest.mark.parametrize("data", CASES, ids=[c[0] for c in CASES])
def test_packets_on_the_wire_are_identical_to_python_socketio(data):
    ours = LeanPacket(packet.EVENT, data=data, namespace="/")
    theirs = packet.Packet(packet.EVENT, data=data, namespace="/")
    assert ours.packet_type == theirs.packet_type
    assert ours.encode() == theirs.encode()


def test_a_result_goes_as_a_binary_event_with_its_jpeg_attached():
    encoded = LeanPacket(packet.EVENT, data=["result", REPLY], namespace="/").encode()
    assert encoded[0].startswith("51-")  # a binary event with one attachment
    assert encoded[1:] == [REPLY["annotated"]]
    assert '"_placeholder":true' in encoded[0]


def test_the_data_sent_is_left_untouched():
    data = ["result", {"digits": [{"probs": [0.5, 0.5]}], "annotated": b"x"}]
    LeanPacket(packet.EVENT, data=data).encode()
    assert data[1]["annotated"] == b"x" and data[1]["digits"][0]["probs"] == [0.5, 0.5]


def test_an_incoming_packet_may_announce_one_attachment_not_hundreds():
    """python-socketio would keep all 999 attachments such a header asks for, in memory, until the last."""
    one = LeanPacket(encoded_packet='51-["frame",{"id":1,"image":{"_placeholder":true,"num":0}}]')
    assert one.attachment_count == 1
    with pytest.raises(ValueError, match="999 binary attachments"):
        LeanPacket(encoded_packet='5999-["frame",{"id":1}]')
