"""The trusted checker: runs a benchmark's test code unchanged against proxies of the sandboxed program's names.

Started by :mod:`toksmith.codegen.sandbox` as ``python -I sandbox_checker.py FD`` (one per worker slot, reused
from task to task; it never runs program code). For each ``check`` request, which carries one end of a
socketpair whose other end is the sandboxed program's call socket, it

1. waits for the program's ``ready`` message listing the names its top level defined: functions and classes
   become :class:`Proxy` objects (a call sends the arguments to the program and returns its answer), modules
   are imported here by name (standard library only), plain values are copied, other values become opaque
   :class:`Handle` objects;
2. runs the trusted ``prelude`` (HumanEval: the prompt, so helpers such as ``poly`` are the benchmark's own and
   not the completion's), then re-binds the entry point to its proxy;
3. runs the ``test`` text unchanged (HumanEval's ``check`` plus ``check(entry_point)``, MBPP's asserts) and
   answers ``passed`` when it raises nothing.

Only plain data crosses: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``complex`` and ``list``,
``tuple``, ``dict``, ``set``, ``frozenset`` of them, rebuilt here from JSON as exact builtin types, so an object
whose ``__eq__`` always returns True, a subclass of ``int`` or a forged frame cannot reach the test. Any other
return value comes back as a :class:`Handle`: it equals only itself, has only its truth value, and can only be
passed back to the program (MBPP's ``Node`` trees). This file imports only the standard library.
"""

import builtins
import collections
import importlib
import json
import os
import socket
import struct
import sys

MAX_MSG = 64 << 20
TYPE_NAMES = ("int", "float", "str", "bool", "bytes", "complex", "list", "tuple", "dict", "set", "frozenset")
# Standard-library modules whose import does something (opens a browser, prints, starts a GUI) are not mirrored.
NO_IMPORT = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "webbrowser", "pydoc", "ensurepip",
             "venv", "pdb", "code", "__main__", "site"}


class SandboxError(Exception):
    """The program broke the call protocol or died."""


class Handle:
    """A value that stayed in the sandbox: comparable only by identity, usable only as an argument."""

    __slots__ = ("id", "conn", "truth")

    def __init__(self, id_, conn, truth=None):
        self.id, self.conn, self.truth = id_, conn, truth

    def __bool__(self):
        # ``assert f(x)`` only asks for truth, which plain ``True`` would give as well (MBPP returns re.Match)
        if type(self.truth) is not bool:
            raise TypeError("a value the sandboxed program returned is not plain data")
        return self.truth

    def __call__(self, *args, **kwargs):
        return self.conn.call({"handle": self.id}, args, kwargs)

    def __repr__(self):
        return "<sandboxed value %d>" % self.id


class Conn:
    def __init__(self, sock):
        self.sock = sock

    def recv(self):
        head = self._exact(4)
        (n,) = struct.unpack("<I", head)
        if n > MAX_MSG:
            raise SandboxError("message of %d bytes" % n)
        return json.loads(self._exact(n))

    def _exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise SandboxError("the program ended")
            buf += chunk
        return bytes(buf)

    def send(self, obj):
        data = json.dumps(obj).encode()
        self.sock.sendall(struct.pack("<I", len(data)) + data)

    def enc(self, v, depth=0):
        if depth > 100:
            raise TypeError("argument nested too deeply")
        t = type(v)
        if v is None or t in (bool, int, str):
            return v
        if t is float:
            return v if v == v and v not in (float("inf"), float("-inf")) else {"x": repr(v)}
        if t is list:
            return [self.enc(x, depth + 1) for x in v]
        if t is tuple:
            return {"t": [self.enc(x, depth + 1) for x in v]}
        if t is dict:
            return {"d": [[self.enc(k, depth + 1), self.enc(x, depth + 1)] for k, x in v.items()]}
        if t in (set, frozenset):
            return {"s" if t is set else "f": [self.enc(x, depth + 1) for x in v]}
        if t is bytes:
            return {"b": v.hex()}
        if t is complex:
            return {"c": [v.real, v.imag]}
        if t is Handle and v.conn is self:
            return {"h": v.id}
        if t is type and v.__name__ in TYPE_NAMES and getattr(builtins, v.__name__) is v:
            return {"T": v.__name__}
        raise TypeError("cannot pass a %s to the sandboxed program" % t.__name__)

    def dec(self, v):
        """Exact builtin types from the JSON form; anything unexpected is a protocol error."""
        t = type(v)
        if v is None or t in (bool, int, float, str):
            return v
        if t is list:
            return [self.dec(x) for x in v]
        if t is not dict or len(v) != 1:
            raise SandboxError("malformed value")
        (tag, x), = v.items()
        if tag == "t":
            return tuple(self.dec(y) for y in x)
        if tag == "d":
            return {self.dec(k): self.dec(y) for k, y in x}
        if tag == "s":
            return {self.dec(y) for y in x}
        if tag == "f":
            return frozenset(self.dec(y) for y in x)
        if tag == "b" and type(x) is str:
            return bytes.fromhex(x)
        if tag == "c":
            return complex(float(x[0]), float(x[1]))
        if tag == "x" and x in ("nan", "inf", "-inf"):
            return float(x)
        if tag == "h" and type(x) is list and len(x) == 2 and type(x[0]) is int:
            return Handle(x[0], self, x[1])
        if tag == "T" and x in TYPE_NAMES:
            return getattr(builtins, x)
        if tag in ("C", "O", "D") and type(x) is list:
            items = [(self.dec(k), self.dec(y)) for k, y in x]
            if tag == "D":
                return collections.defaultdict(None, items)
            return (collections.Counter if tag == "C" else collections.OrderedDict)(dict(items))
        if tag == "Q" and type(x) is list:
            return collections.deque(self.dec(y) for y in x)
        raise SandboxError("malformed value")

    def call(self, target, args, kwargs):
        msg = dict(target)
        msg["args"] = [self.enc(a) for a in args]
        msg["kwargs"] = [[k, self.enc(v)] for k, v in kwargs.items()]
        self.send(msg)
        reply = self.recv()
        if type(reply) is not dict:
            raise SandboxError("malformed reply")
        if "ok" in reply:
            return self.dec(reply["ok"])
        if "raise" in reply:
            name, message = str(reply["raise"]), str(reply.get("message", ""))
            cls = getattr(builtins, name, None)
            if not (isinstance(cls, type) and issubclass(cls, Exception)) or name in ("StopIteration", "StopAsyncIteration"):
                cls = RuntimeError
            try:
                exc = cls(message)
            except Exception:
                exc = RuntimeError(name + ": " + message)
            raise exc
        raise SandboxError("malformed reply")


class Proxy:
    """Stands for a function or class the program defined; calling it calls it in the sandbox."""

    __slots__ = ("conn", "name")

    def __init__(self, conn, name):
        self.conn, self.name = conn, name

    def __call__(self, *args, **kwargs):
        return self.conn.call({"name": self.name}, args, kwargs)

    def __repr__(self):
        return "<sandboxed %s>" % self.name


def namespace(conn, ready, only=None, shadow=()):
    """The test's globals: the program's names (shadowing a builtin only if named in ``shadow``), or only ``only``."""
    g = {"__name__": "__main__", "__builtins__": builtins}
    if type(ready) is not dict:
        raise SandboxError("malformed ready message")
    for name, spec in ready.items():
        if type(name) is not str or not name.isidentifier() or type(spec) is not list or not spec:
            continue
        if (name in vars(builtins) and name not in shadow) or (only is not None and name != only):
            continue
        if spec[0] == "call":
            g[name] = Proxy(conn, name)
        elif spec[0] == "module" and len(spec) == 2 and type(spec[1]) is str:
            top = spec[1].split(".")[0]
            if top in sys.stdlib_module_names and top not in NO_IMPORT and name in (top, spec[1].split(".")[-1]):
                try:
                    g[name] = importlib.import_module(spec[1])
                except Exception:
                    pass
        elif spec[0] == "value" and len(spec) == 2:
            g[name] = conn.dec(spec[1])
    return g


def check(req, sock):
    conn = Conn(sock)
    try:
        first = conn.recv()
        if type(first) is dict and "error" in first:
            return {"passed": False, "error": str(first["error"])[:100], "message": str(first.get("message", ""))[:500],
                    "where": "program"}
        if type(first) is not dict or "ready" not in first:
            raise SandboxError("malformed ready message")
        entry = req.get("entry_point") or None
        g = namespace(conn, first["ready"], entry, set(req.get("shadow", ())))
        if req.get("prelude"):
            exec(compile(req["prelude"], "<prompt>", "exec"), g)
        if entry:  # the prompt's empty definition must not stand in for the program's
            if first["ready"].get(entry) == ["call"]:
                g[entry] = Proxy(conn, entry)
            else:
                g.pop(entry, None)
        exec(compile(req["test"], "<test>", "exec"), g)
        return {"passed": True}
    except SandboxError as e:
        return {"passed": False, "error": "SandboxError", "message": str(e)}
    except BaseException as e:  # AssertionError and whatever the test or the proxies raised
        return {"passed": False, "error": type(e).__name__, "message": str(e)[:500], "where": "test"}


def serve(fd):
    sock = socket.socket(fileno=fd)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 24, 1)
        except OSError:
            return
        if not msg:
            return
        try:
            req = json.loads(msg)
            if len(fds) != 1:
                raise ValueError("no call socket")
            with socket.socket(fileno=fds[0]) as call:
                reply = check(req, call)
        except (OSError, ValueError) as e:
            for f in fds:
                try:
                    os.close(f)
                except OSError:
                    pass
            reply = {"passed": False, "error": "CheckerError", "message": repr(e)}
        sys.stdout.flush()
        sock.send(json.dumps(reply).encode())


if __name__ == "__main__":
    serve(int(sys.argv[1]))
