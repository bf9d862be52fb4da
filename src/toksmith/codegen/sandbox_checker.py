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
passed back to the program (MBPP's ``Node`` trees). The wire codec is ``sandbox_wire.py``, shared with the runner;
this file and it import only the standard library.
"""

import builtins
import importlib
import json
import os
import socket
import sys
import time

# ``python -I`` leaves the script's directory off sys.path: on it only for the codec, which is beside this file
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sandbox_wire as wire  # noqa: E402

del sys.path[0]  # the stdlib modules the program names are never looked for in a directory of ours

# Standard-library modules whose import does something (opens a browser, prints, starts a GUI) are not mirrored.
NO_IMPORT = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "webbrowser", "pydoc", "ensurepip",
             "venv", "pdb", "code", "__main__", "site"}


SandboxError = wire.SandboxError  # the program broke the call protocol or died


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
    """The checker's end of one run's call socket: plain data out, exact builtin types or handles back."""

    def __init__(self, sock):
        self.sock = sock

    def recv(self):
        return wire.recv(self.sock)

    def send(self, obj):
        wire.send(self.sock, obj)

    def enc(self, v):
        return wire.encode(v, self._handle_out)

    def _handle_out(self, v):
        if type(v) is Handle and v.conn is self:
            return {"h": v.id}
        raise TypeError("cannot pass a %s to the sandboxed program" % type(v).__name__)

    def dec(self, v):
        """Exact builtin types from the JSON form; anything unexpected is a protocol error (SandboxError)."""
        return wire.decode(v, self._handle_in, strict=True)

    def _handle_in(self, x):  # the strict decoder checked the shape: [int id, truth]
        return Handle(x[0], self, x[1])

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


CODE_CACHE = {}  # (text, filename) -> code object: the same prompt and test are checked many times (n samples)


def compiled(text, filename):
    """``compile(text, filename, "exec")``, cached: a benchmark's trusted texts repeat for every sample."""
    key = (text, filename)
    code = CODE_CACHE.get(key)
    if code is None:
        if len(CODE_CACHE) >= 4096:
            CODE_CACHE.clear()
        code = CODE_CACHE[key] = compile(text, filename, "exec")
    return code


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
            exec(compiled(req["prelude"], "<prompt>"), g)
        if entry:  # the prompt's empty definition must not stand in for the program's
            if first["ready"].get(entry) == ["call"]:
                g[entry] = Proxy(conn, entry)
            else:
                g.pop(entry, None)
        exec(compiled(req["test"], "<test>"), g)
        return {"passed": True}
    except SandboxError as e:
        return {"passed": False, "error": "SandboxError", "message": str(e)}
    except BaseException as e:  # AssertionError and whatever the test or the proxies raised
        return {"passed": False, "error": type(e).__name__, "message": str(e)[:500], "where": "test"}


def serve(fd):
    sock = socket.socket(fileno=fd)
    while True:
        msg, fds = wire.next_request(sock, 1)
        if msg is None:
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
        reply["at"] = time.monotonic()  # when the verdict was reached (system-wide clock): the parent's deadline check
        wire.answer(sock, reply)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
