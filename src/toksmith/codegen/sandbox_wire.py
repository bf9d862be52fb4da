"""The plain-data wire between the sandboxed program and the trusted checker: one codec for both sides.

Imported by ``sandbox_runner.py`` (inside the sandbox, next to the untrusted program) and ``sandbox_checker.py``
(the trusted process that gives the verdict), both started as ``python -I script.py``; each puts this file's
directory on ``sys.path`` just long enough to import it. It imports only the standard library.

Framing on a run's call socket (a stream): a message is a 4-byte little-endian length, then that many bytes of
JSON (at most :data:`MAX_MSG`). On the evaluator's control socket: one JSON datagram a message.

Values: ``None``, ``bool``, ``int``, ``str`` and finite ``float`` are themselves, ``list`` is a JSON list, and
everything else is a one-key object ``{tag: payload}``:

==== =================================== ====================================================
tag  type                                payload
==== =================================== ====================================================
t    ``tuple``                           list of values
d    ``dict``                            list of ``[key, value]`` pairs
s, f ``set``, ``frozenset``              list of values
b    ``bytes``                           hex string
c    ``complex``                         ``[real, imag]`` (values)
x    ``float`` nan, inf, -inf            its ``repr``
T    the builtin types ``int``...        the type's name
C, O ``Counter``, ``OrderedDict``        list of ``[key, value]`` pairs
D    ``defaultdict`` (no factory)        list of ``[key, value]`` pairs
Q    ``deque``                           list of values
h    a value that stayed in the sandbox  the program's handle: ``[id, truth]``; the checker's: ``id``
==== =================================== ====================================================

:func:`decode` with ``strict=True`` (the checker) rebuilds exact builtin types only and raises
:class:`SandboxError` on anything malformed: an ``int`` subclass, an object whose ``__eq__`` always returns True
or a forged frame cannot come out of it.
"""

import builtins
import collections
import json
import socket
import struct

MAX_MSG = 64 << 20
MAX_DEPTH = 100
TYPE_NAMES = ("int", "float", "str", "bool", "bytes", "complex", "list", "tuple", "dict", "set", "frozenset")
TYPES = {name: getattr(builtins, name) for name in TYPE_NAMES}
# stdlib containers rebuilt as themselves (MBPP references return Counter, defaultdict...)
COLLECTIONS = {collections.Counter: "C", collections.OrderedDict: "O", collections.defaultdict: "D",
               collections.deque: "Q"}
PLAIN = (bool, int, str)
SEQUENCES = {"t": tuple, "s": set, "f": frozenset, "Q": collections.deque}
SPECIAL_FLOATS = ("nan", "inf", "-inf")


class SandboxError(Exception):
    """The other side broke the call protocol or died."""


# --- framing ----------------------------------------------------------------------------------------------------

def send(sock, obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack("<I", len(data)) + data)


def recv(sock):
    """The next message; :class:`SandboxError` when the other side hung up or announced more than MAX_MSG."""
    (n,) = struct.unpack("<I", _exact(sock, 4))
    if n > MAX_MSG:
        raise SandboxError("message of %d bytes" % n)
    return json.loads(_exact(sock, n))


def _exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise SandboxError("the program ended")  # what the checker reports; the runner just stops
        buf += chunk
    return bytes(buf)


# --- the evaluator's control socket (SOCK_SEQPACKET): one JSON datagram a message, file descriptors passed along -

def next_request(sock, max_fds):
    """The evaluator's next request (bytes) and the descriptors that came with it; ``(None, [])`` once it is gone."""
    try:
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 24, max_fds)
    except OSError:
        return None, []
    return (msg or None), fds


def answer(sock, obj):
    sock.send(json.dumps(obj).encode())


# --- values -----------------------------------------------------------------------------------------------------

def _refuse(v):
    raise TypeError("cannot pass a %s over the sandbox's wire" % type(v).__name__)


def encode(v, other=_refuse, depth=0):
    """The JSON form of plain data (exact types only); ``other(v)`` gives it for anything else or raises TypeError."""
    if depth > MAX_DEPTH:
        raise TypeError("value nested too deeply")
    t = type(v)
    if v is None or t in PLAIN:
        return v
    if t is float:
        return v if v == v and v not in (float("inf"), float("-inf")) else {"x": repr(v)}
    if t is list:
        return [encode(x, other, depth + 1) for x in v]
    if t is tuple:
        return {"t": [encode(x, other, depth + 1) for x in v]}
    if t is dict:
        return {"d": [[encode(k, other, depth + 1), encode(x, other, depth + 1)] for k, x in v.items()]}
    if t in (set, frozenset):
        return {"s" if t is set else "f": [encode(x, other, depth + 1) for x in v]}
    if t is bytes:
        return {"b": v.hex()}
    if t is complex:
        return {"c": [encode(v.real), encode(v.imag)]}
    if t is collections.deque:
        return {"Q": [encode(x, other, depth + 1) for x in v]}
    if t in COLLECTIONS:
        return {COLLECTIONS[t]: [[encode(k, other, depth + 1), encode(x, other, depth + 1)] for k, x in v.items()]}
    if t is type and TYPES.get(v.__name__) is v:
        return {"T": v.__name__}
    return other(v)


def decode(v, handle=None, strict=False):
    """Values from their JSON form; ``handle(payload)`` rebuilds an ``h`` tag (none: a handle is malformed).

    ``strict`` (the checker, reading what the program sent): the JSON must have exactly the shapes :func:`encode`
    writes, else :class:`SandboxError`; a handle's payload must be ``[int, truth]``. Not strict (the program,
    reading what the checker sent): the same values, with shapes trusted.
    """
    t = type(v)
    if v is None or t in PLAIN or t is float:
        return v
    if t is list:
        return [decode(x, handle, strict) for x in v]
    if t is not dict or len(v) != 1:
        raise SandboxError("malformed value")
    (tag, x), = v.items()
    if strict and tag in ("t", "d", "s", "f", "c", "C", "O", "D", "Q") and type(x) is not list:
        raise SandboxError("malformed value")
    if tag in SEQUENCES:
        return SEQUENCES[tag](decode(y, handle, strict) for y in x)
    if tag in ("d", "C", "O", "D"):
        if strict and any(type(p) is not list or len(p) != 2 for p in x):
            raise SandboxError("malformed value")
        items = [(decode(k, handle, strict), decode(y, handle, strict)) for k, y in x]
        if tag == "d":
            return dict(items)
        if tag == "D":
            return collections.defaultdict(None, items)
        return (collections.Counter if tag == "C" else collections.OrderedDict)(dict(items))
    if tag == "b" and type(x) is str:
        return bytes.fromhex(x)
    if tag == "c" and len(x) == 2:
        return complex(float(decode(x[0], handle, strict)), float(decode(x[1], handle, strict)))
    if tag == "x" and x in SPECIAL_FLOATS:
        return float(x)
    if tag == "T" and type(x) is str and x in TYPES:
        return TYPES[x]
    if tag == "h" and handle is not None and (not strict or (type(x) is list and len(x) == 2 and type(x[0]) is int)):
        return handle(x)
    raise SandboxError("malformed value")
