"""LeanPacket: the same Socket.IO packets as python-socketio's own, found with less work."""
from __future__ import annotations

import pytest
from socketio import packet

from webapp.wire import MALFORMED, LeanPacket, Reason

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
    refused = LeanPacket(encoded_packet='5999-["frame",{"id":1}]')
    assert refused.attachment_count == 0 and refused.packet_type == packet.EVENT
    assert refused.data[0] == MALFORMED and "999 binary attachments" in refused.data[1]


@pytest.mark.parametrize("encoded, said", [
    ("garbage", "not a Socket.IO packet"), ('2["frame"', "JSONDecodeError"), ("9", "type 9"),
    ('2{"id": 1}', "a list that starts with its name"), ("2[]", "a list"), (b"\x89PNG", "not a Socket.IO packet"),
    ("", "an empty packet"), ('4["x"]', "not a Socket.IO packet a client sends"),
    ("2" + "[" * 50_000 + "]" * 50_000, "RecursionError"),
    ('5["frame",{}]', "must announce its attachments"), ('50-["frame",{}]', "must announce its attachments"),
])
def test_a_packet_that_cannot_be_decoded_becomes_an_event_naming_what_is_wrong(encoded, said):
    """python-socketio would log a traceback; the server answers MALFORMED with an error instead."""
    bad = LeanPacket(encoded_packet=encoded)
    assert (bad.packet_type, bad.namespace, bad.attachment_count) == (packet.EVENT, "/", 0)
    assert bad.data[0] == MALFORMED and said in bad.data[1] and isinstance(bad.data[1], Reason)


def test_a_client_cannot_pass_its_own_event_off_as_a_malformed_packet():
    forged = LeanPacket(encoded_packet='2["malformed packet","x\\nINFO forged log line"]')
    assert forged.data[0] == MALFORMED and not isinstance(forged.data[1], Reason)
