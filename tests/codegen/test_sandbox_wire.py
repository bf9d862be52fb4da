"""The call socket's codec (``sandbox_wire.py``), shared by the sandboxed runner and the trusted checker.

Every tag round-trips through real JSON to the exact type it came from; the checker's strict decoder refuses
what the encoder never writes (the verdict's safety rests on it), and the framing refuses oversized messages.
"""

from __future__ import annotations

import collections
import json
import math
import os
import socket
import struct

import pytest

from toksmith.codegen import sandbox_checker, sandbox_wire as wire

Counter, OrderedDict, defaultdict, deque = (collections.Counter, collections.OrderedDict, collections.defaultdict,
                                            collections.deque)

# (value, the tag its JSON form carries: None for JSON's own types)
CASES = [
    (None, None), (True, None), (-7, None), (10**30, None), (2.5, None), ("é\n\"", None), ([1, "a", [None]], None),
    ((1, (2,)), "t"), ({1: "a", (2, 3): [4]}, "d"), ({1, 2}, "s"), (frozenset({"x"}), "f"), (b"\x00\xffa", "b"),
    (complex(1.5, -2), "c"), (complex(float("inf"), float("nan")), "c"), (float("nan"), "x"), (float("inf"), "x"),
    (float("-inf"), "x"), (int, "T"), (frozenset, "T"), (Counter("abca"), "C"), (OrderedDict(b=1, a=2), "O"),
    (defaultdict(None, {1: [2]}), "D"), (deque([1, (2,)]), "Q"),
]


def same(a, b) -> bool:
    """Equal, with exactly the same types all the way down (nan equal to nan)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is complex:
        return same(a.real, b.real) and same(a.imag, b.imag)
    if type(a) in (list, tuple, deque):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def through_json(v, *other):
    return json.loads(json.dumps(wire.encode(v, *other)))


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("value, tag", CASES, ids=[f"{type(v).__name__}-{t}" for v, t in CASES])
def test_every_tag_round_trips_to_the_exact_type(value, tag, strict):
    form = through_json(value)
    if tag is None:
        assert type(form) is not dict
    else:
        assert type(form) is dict and list(form) == [tag]
    back = wire.decode(form, strict=strict)
    assert same(back, value), (value, form, back)


def test_every_tag_is_covered():
    tags = {t for _, t in CASES if t} | {"h"}
    assert tags == set("tdsfbcxTCODQh")


def test_handles_go_through_the_hooks_at_any_depth():
    class Node:
        pass

    stored = []

    def other(v):
        stored.append(v)
        return {"h": [len(stored) - 1, True]}

    node = Node()
    form = through_json([1, {"k": (node,)}], other)
    assert form == [1, {"d": [["k", {"t": [{"h": [0, True]}]}]]}] and stored == [node]
    assert wire.decode(form, handle=lambda x: ("handle", x[0], x[1]), strict=True) == [1, {"k": (("handle", 0, True),)}]
    # the program reads the checker's {"h": id} back to its own object
    assert wire.decode({"t": [{"h": 0}]}, handle=stored.__getitem__) == (node,)


def test_encoder_refuses_subclasses_and_other_objects():
    class Int(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    for v in (Int(3), [Int(3)], {1: object()}, Counter, type("T", (), {})):
        with pytest.raises(TypeError):
            wire.encode(v)
    deep: list = []
    for _ in range(150):
        deep = [deep]
    with pytest.raises(TypeError, match="too deeply"):
        wire.encode(deep)


MALFORMED = [
    ("int subclass", type("Int", (int,), {})(3)),
    ("str subclass", type("Str", (str,), {})("a")),
    ("dict with two keys", {"t": [], "s": []}),
    ("empty dict", {}),
    ("bytes tag, int payload", {"b": 5}),
    ("bytes tag, list payload", {"b": ["00"]}),
    ("unknown tag", {"z": 1}),
    ("unknown tag in a list", [1, {"object": "x"}]),
    ("tuple of a string", {"t": "abc"}),
    ("dict of a dict", {"d": {"ab": 1}}),
    ("dict pair of three", {"d": [[1, 2, 3]]}),
    ("Counter of a string", {"C": "ab"}),
    ("deque of an int", {"Q": 3}),
    ("complex of one", {"c": [1.0]}),
    ("complex part forged", {"c": [1.0, {"z": 0}]}),
    ("float name", {"x": "1e5"}),
    ("type not builtin", {"T": "object"}),
    ("type name not a string", {"T": ["int"]}),
    ("handle of an int", {"h": 3}),
    ("handle id a string", {"h": ["0", True]}),
    ("handle of one", {"h": [0]}),
    ("handle id a bool", {"h": [True, True]}),
]


@pytest.mark.parametrize("form", [f for _, f in MALFORMED], ids=[n for n, _ in MALFORMED])
def test_strict_decoder_rejects_what_the_encoder_never_writes(form):
    with pytest.raises(wire.SandboxError):
        wire.decode(form, handle=lambda x: pytest.fail("handle hook reached"), strict=True)


def test_a_handle_without_a_hook_is_malformed():
    with pytest.raises(wire.SandboxError):
        wire.decode({"h": [0, True]}, strict=True)


def test_the_checker_decodes_strictly_and_only_passes_back_its_own_handles():
    conn, other = sandbox_checker.Conn(None), sandbox_checker.Conn(None)
    h = conn.dec({"h": [4, False]})
    assert type(h) is sandbox_checker.Handle and h.id == 4 and h.conn is conn and not h
    assert conn.enc([h, (1,)]) == [{"h": 4}, {"t": [1]}]
    with pytest.raises(TypeError, match="cannot pass a Handle"):
        other.enc(h)
    with pytest.raises(sandbox_checker.SandboxError):
        conn.dec({"b": 1})


def test_framing_round_trips_and_refuses_oversized_or_cut_messages():
    a, b = socket.socketpair()
    with a, b:
        msg = {"ready": {"f": ["call"], "x": ["value", "é" * 1000]}}
        wire.send(a, msg)
        assert wire.recv(b) == msg
        a.sendall(struct.pack("<I", wire.MAX_MSG + 1))
        with pytest.raises(wire.SandboxError, match="message of"):
            wire.recv(b)
        a.sendall(struct.pack("<I", 10) + b"{}")
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(wire.SandboxError):
            wire.recv(b)


def test_control_socket_requests_carry_descriptors_and_end_with_the_evaluator():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    with ours, theirs:
        socket.send_fds(ours, [b'{"op": "check"}'], [w])
        os.close(w)
        msg, fds = wire.next_request(theirs, 3)
        assert json.loads(msg) == {"op": "check"} and len(fds) == 1
        os.write(fds[0], b"x")
        os.close(fds[0])
        assert os.read(r, 1) == b"x"
        os.close(r)
        wire.answer(theirs, {"passed": True})
        assert json.loads(ours.recv(100)) == {"passed": True}
        ours.close()
        assert wire.next_request(theirs, 3) == (None, [])
