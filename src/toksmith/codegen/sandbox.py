"""Run untrusted, model-generated Python isolated, and decide pass/fail in a trusted process it cannot reach.

A :class:`Job` is the untrusted ``source`` plus the benchmark's ``test`` (and, for HumanEval, the trusted
``prelude``, the prompt). Each worker slot has two warm processes: a fork server (``sandbox_runner.py``) that
runs each source isolated (in a process it forked and isolated ahead of the request), and a checker
(``sandbox_checker.py``) that runs the test code unchanged against proxies of the names the source defined.
They talk over a per-run socketpair that carries only JSON-like plain data (arguments in, return values out), so
the verdict is the checker's, never the program's: rebinding
``os._exit``, stealing a nonce from ``sys._getframe()``, or returning an object whose ``__eq__`` is always True
cannot produce a pass. Design after MultiPL-E's ``safe_subprocess`` (new session, ``killpg``, capped output,
an ``evil_programs/`` suite) and nanochat's ``execution.py`` (rlimits, scrubbed env, result dataclass, an
honest list of what is covered).

Isolation modes (``ExecResult.isolation`` says which applied; ``tests/codegen/test_hostile.py`` runs every
hostile case in the first two):

* ``root-namespaces`` (the evaluator is root): the program is PID 1 of new PID (fresh ``/proc``), IPC, UTS and
  mount namespaces per run, in a network namespace per worker slot (only a down loopback; a slot's runs follow
  one another and each is dead before the next starts its work); a private uid per slot, no capabilities;
* ``user-namespaces`` (not root; the kernel allows unprivileged user namespaces): the same namespaces inside a
  user namespace per slot that maps only the evaluator's uid (to uid 0, with every capability dropped before the
  program starts);
* ``rlimits`` (neither works, or ``isolation="rlimits"``): rlimits, a new session, ``socket`` replaced in the
  program (``ctypes`` gets around it), a host temp dir; when the evaluator is root the program still gets a
  private uid (and every process of that uid is killed after the run), otherwise it runs as the evaluator's uid
  and is protected only by file permissions. A warning is logged once. ``isolation="full"`` refuses it.

Covered in both namespace modes, as the hostile suite shows:

* verdict: the checker's only (above); a return value that is not plain builtin data (a subclass included)
  becomes an opaque handle that equals only itself and has only its truth value (what plain ``True`` gives too); the program's exports never
  shadow a builtin; HumanEval helpers (``poly``) come from the trusted prompt;
* wall clock ``timeout_s`` (selectors on the pipes, a pidfd and the checker), then SIGKILL to the run's PID 1
  through its pidfd ends its whole PID namespace, ``setsid`` daemons too; a CPU-limit kill reads as ``timeout``; ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_NPROC``
  (fork bombs stop at ``max_processes``), ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE``, no core dumps, no new privileges;
* files: every host mount is read-only, host ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are hidden behind empty
  read-only tmpfs; the work dir is a fresh tmpfs capped at ``max_disk_mb`` and ``max_files`` (mounted before
  the ``chdir``, so relative writes work); nothing is left on the host when a run or the evaluator is killed;
* network: a network namespace with only a down loopback (``socket`` and raw ``ctypes`` calls both fail);
* IPC: SysV shm/msg/sem and POSIX message queues live in the run's IPC namespace and die with it;
* ``/proc`` shows the run's own processes only; signals cannot reach the evaluator, the checker or other runs;
* stdin is ``/dev/null``; stdout/stderr are unbuffered pipes captured up to ``max_output_bytes`` (the run is
  killed beyond), so output printed before a crash, ``os._exit`` or a kill is kept; the environment is scrubbed.

Not covered: kernel exploits; CPU time of the shared cores up to the limits; reading world-readable host files
(read-only mounts stop writes, not reads); GPU access control. A job without a ``test`` (``run_program``) passes
when the program reports having reached its end, which the program itself can forge: only tests give verdicts.
All forks of a slot's server share one hash seed, so ``set`` order is the same from run to run.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import re
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

from ..errors import ToksmithError, check_fields, unknown_name

log = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("sandbox_runner.py")
CHECKER = Path(__file__).with_name("sandbox_checker.py")
ISOLATION_MODES = ("auto", "full", "rlimits")
ISOLATIONS = ("root-namespaces", "user-namespaces", "rlimits")
STATUSES = ("passed", "failed", "timeout", "memory", "crashed", "output_limit", "file_limit")
TEMP_PREFIX = "toksmith-sbx-"
ENV_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class SandboxLimits:
    """Per-execution limits. Defaults let every HumanEval/MBPP reference pass with 2 workers on 2 busy cores."""

    timeout_s: float = 20.0  # wall clock; MBPP task 123 (~2.6 s CPU) took 8.3 s wall at load 4.5 on 2 cores
    cpu_s: int = 10  # RLIMIT_CPU soft limit (SIGXCPU), hard = soft + 1 (SIGKILL); load does not inflate it
    memory_mb: int = 2048  # RLIMIT_AS of the program process
    max_processes: int = 32  # RLIMIT_NPROC of the program (threads count too)
    max_file_mb: int = 16  # RLIMIT_FSIZE: largest file the program may write
    max_disk_mb: int = 64  # size of the work dir's tmpfs (namespace modes)
    max_files: int = 1000  # inodes of the work dir's tmpfs (namespace modes)
    max_open_files: int = 128  # RLIMIT_NOFILE
    max_output_bytes: int = 1 << 16  # stdout + stderr captured; the run is killed beyond this
    isolation: str = "auto"  # auto: best available; full: namespaces or refuse; rlimits: rlimits only

    def __post_init__(self) -> None:
        check_fields(self, positive=("timeout_s", "cpu_s", "memory_mb", "max_processes", "max_file_mb", "max_disk_mb",
                                     "max_files", "max_open_files", "max_output_bytes"))
        if self.isolation not in ISOLATION_MODES:
            raise unknown_name("SandboxLimits.isolation", self.isolation, ISOLATION_MODES)


@dataclass(frozen=True)
class Job:
    """What to run: the untrusted ``source``; the trusted ``test`` run against it (see the module docstring)."""

    source: str
    test: str = ""  # benchmark test code, run unchanged in the checker; "" = pass when the source ran to its end
    prelude: str = ""  # trusted code run in the checker before the test (HumanEval: the prompt)
    entry_point: str = ""  # when set, the only name the test sees from the program (HumanEval's candidate)
    shadow: tuple[str, ...] = ()  # builtin names the program may redefine for the test (MBPP 126 defines ``sum``)


@dataclass(frozen=True)
class ExecResult:
    """What one execution did. ``passed`` is the trusted checker's verdict."""

    passed: bool
    status: str  # one of STATUSES
    exit_code: int | None  # the program's exit code, or 128 + signal number; None if ended after its verdict
    duration_s: float
    stdout: str  # truncated to max_output_bytes
    stderr: str
    error: str = ""  # exception type that failed the run ("AssertionError", "SystemExit", "MemoryError"...)
    isolation: str = ""  # one of ISOLATIONS


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


_STALE = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-")


@lru_cache(maxsize=1)
def clean_stale_dirs() -> int:
    """Remove work dirs left in the temp dir by evaluations that were killed (their pid is gone); returns how many."""
    n = 0
    base = Path(tempfile.gettempdir())
    for d in base.glob(TEMP_PREFIX + "*"):
        m = _STALE.match(d.name)
        if not m or not d.is_dir() or d.is_symlink():
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
            continue  # its evaluator is alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(d, ignore_errors=True)
        n += 1
    if n:
        log.info("removed %d sandbox work dirs of killed evaluations from %s", n, base)
    return n


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_for_eof(fds: list[int], deadline: float, bufs: dict[int, bytearray], cap: int) -> None:
    """Keep reading (up to the cap) until every writer of the pipes has exited (SIGKILL is asynchronous)."""
    with selectors.DefaultSelector() as sel:
        for fd in fds:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map() and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in sel.select(remaining):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fd)
                elif len(bufs[key.fd]) < cap:
                    bufs[key.fd] += chunk


def _recv_json(sock: socket.socket) -> dict:
    data = sock.recv(1 << 20)
    if not data:
        raise ConnectionError("closed")
    return json.loads(data)


class _Worker:
    """One slot's warm fork server and checker, talking over socketpairs; ``mode`` is what the server set up."""

    _lock = threading.Lock()
    _slot_locks: dict[tuple[int, str], threading.Lock] = {}  # slots start their processes in parallel
    _workers: dict[tuple[int, str], _Worker] = {}

    def __init__(self, mode: str) -> None:
        self.mode = mode
        setup = {"reveal": [list(x) for x in _hidden_dirs()]} if mode == "root" else {}
        self.server, self.server_sock = self._spawn([sys.executable, "-I", str(RUNNER), "--server", "{fd}", mode,
                                                     json.dumps(setup)])
        try:
            self.server_sock.settimeout(30)
            ready = _recv_json(self.server_sock)
            self.server_sock.settimeout(None)
        except (OSError, ValueError) as e:
            ready = {"ready": False, "error": repr(e)}
        if not ready.get("ready"):
            self.close()
            raise OSError(f"the sandbox fork server could not set up {mode!r}: {ready.get('error')}")
        self.checker, self.checker_sock = self._spawn([sys.executable, "-I", str(CHECKER), "{fd}"])

    @staticmethod
    def _spawn(argv: list[str]) -> tuple[subprocess.Popen, socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            proc = subprocess.Popen(
                [a.replace("{fd}", str(theirs.fileno())) for a in argv], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
                env={"PATH": ENV_PATH, "LANG": "C.UTF-8"}, start_new_session=True,
            )
        return proc, ours

    @classmethod
    def get(cls, slot: int, mode: str, fresh: bool = False) -> _Worker:
        with cls._lock:
            lock = cls._slot_locks.setdefault((slot, mode), threading.Lock())
        with lock:
            w = cls._workers.get((slot, mode))
            if fresh or w is None or w.server.poll() is not None or w.checker.poll() is not None:
                if w is not None:
                    w.close()
                w = cls(mode)
                with cls._lock:
                    cls._workers[(slot, mode)] = w
            return w

    def request(self, obj: dict, fds: tuple[int, ...] = ()) -> dict:
        msg = json.dumps(obj).encode()
        if fds:
            socket.send_fds(self.server_sock, [msg], list(fds))
        else:
            self.server_sock.send(msg)
        data, got, _, _ = socket.recv_fds(self.server_sock, 1 << 20, 1)
        if not data:
            for fd in got:
                os.close(fd)
            raise ConnectionError("closed")
        reply = json.loads(data)
        if got:
            reply["pidfd"] = got[0]
        return reply

    def restart_checker(self) -> None:
        self.checker_sock.close()
        self.checker.kill()
        self.checker.wait()
        self.checker, self.checker_sock = self._spawn([sys.executable, "-I", str(CHECKER), "{fd}"])

    def close(self) -> None:
        for sock, proc in ((getattr(self, "server_sock", None), self.server),
                           (getattr(self, "checker_sock", None), getattr(self, "checker", None))):
            if sock is not None:
                sock.close()  # the process sees EOF and exits
            if proc is None:
                continue
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @classmethod
    def close_all(cls) -> None:
        with cls._lock:
            for w in cls._workers.values():
                w.close()
            cls._workers.clear()


atexit.register(_Worker.close_all)

_warned: set[str] = set()


@lru_cache(maxsize=1)
def _userns_works() -> bool:
    try:
        _Worker.get(0, "userns")
        return True
    except OSError as e:
        log.debug("unprivileged user namespaces unavailable: %s", e)
        return False


def isolation_mode(limits: SandboxLimits) -> str:
    """The server mode a run gets: ``root``, ``userns`` or ``rlimits`` (warning once when it is the last)."""
    if limits.isolation != "rlimits":
        if os.geteuid() == 0:
            return "root"
        if _userns_works():
            return "userns"
        if limits.isolation == "full":
            raise ToksmithError("SandboxLimits.isolation='full' needs root or unprivileged user namespaces "
                                "(sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0); "
                                "use isolation='auto' to accept the rlimits-only fallback")
    if "rlimits" not in _warned:
        _warned.add("rlimits")
        log.warning("sandbox: falling back to rlimits only (isolation=%r; namespaces need root or unprivileged "
                    "user namespaces), which does not stop a program from reading world-readable files, reaching "
                    "the network through ctypes or (when not root) writing your files", limits.isolation)
    return "rlimits"


_NAMES = {"root": "root-namespaces", "userns": "user-namespaces", "rlimits": "rlimits"}


def _classify(rc: int | None, verdict: dict | None, timed_out: bool, overflow: bool) -> tuple[str, str]:
    error = (verdict or {}).get("error", "")
    if timed_out:
        return "timeout", error
    if overflow:
        return "output_limit", error
    if verdict is not None and verdict.get("passed"):
        return "passed", ""
    if error == "MemoryError":
        return "memory", error
    sig = rc - 128 if rc is not None and rc > 128 else 0
    if sig in (signal.SIGXCPU, signal.SIGKILL):  # RLIMIT_CPU: PID 1 ignores SIGXCPU, so the hard limit's SIGKILL
        return "timeout", "cpu_s"
    if sig == signal.SIGXFSZ:
        return "file_limit", "SIGXFSZ"
    if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGABRT, signal.SIGFPE):
        return "crashed", signal.Signals(sig).name
    if error == "SandboxError" and rc is not None and rc != 0:
        return "failed", f"exit {rc}"
    return "failed", error or "no verdict"


def _start(worker_get, cfg: dict, fds: tuple[int, int, int]) -> tuple[_Worker, int]:
    """Ask the slot's fork server to start a run; one retry with fresh processes if the old ones died."""
    for attempt in (0, 1):
        w = worker_get(attempt == 1)
        try:
            reply = w.request({"op": "run", "cfg": cfg}, fds)
            return w, (reply["pid"], reply["pidfd"])
        except (OSError, ValueError, KeyError) as e:
            if attempt == 1:
                raise ToksmithError(f"the sandbox fork server failed twice ({e}); is {RUNNER} intact?") from None
            log.warning("sandbox fork server failed (%s); restarting it", e)
    raise AssertionError("unreachable")


def run_job(job: Job | str, limits: SandboxLimits = SandboxLimits(), slot: int = 0) -> ExecResult:
    """Execute one job (or a bare program) in the sandbox. ``slot`` (0..255) picks the worker's processes."""
    if isinstance(job, str):
        job = Job(job)
    mode = isolation_mode(limits)
    root = os.geteuid() == 0
    uid = _uid_base() + slot if root else None
    if mode == "userns":
        nproc = limits.max_processes + 4  # the user namespace's own count: reaper, server, next run's spare, leader
    elif root:
        nproc = limits.max_processes
    else:
        nproc = _count_user_processes(os.getuid()) + limits.max_processes
    workdir = None
    if mode == "rlimits":
        clean_stale_dirs()
        workdir = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
    cfg = {
        "source": job.source, "workdir": workdir, "mode": mode, "uid": uid,
        "limits": {"as": limits.memory_mb << 20, "cpu": limits.cpu_s, "fsize": limits.max_file_mb << 20,
                   "nofile": limits.max_open_files, "nproc": nproc, "disk_kb": limits.max_disk_mb << 10,
                   "files": limits.max_files},
        "env": {"PATH": ENV_PATH, "HOME": workdir or "/tmp/work", "TMPDIR": workdir or "/tmp/work", "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"},
    }
    fds: dict[str, int] = {}
    writes: list[int] = []
    check_req = {"op": "check", "test": job.test or "", "prelude": job.prelude, "entry_point": job.entry_point,
                 "shadow": list(job.shadow)}
    try:
        for name in ("out", "err"):
            fds[name], w = os.pipe()
            writes.append(w)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        start = time.monotonic()
        try:
            worker, pid = _start(lambda fresh: _Worker.get(slot, mode, fresh), cfg, (writes[0], writes[1], theirs.fileno()))
        finally:
            for w in writes:
                os.close(w)
            theirs.close()
        with ours:
            socket.send_fds(worker.checker_sock, [json.dumps(check_req).encode()], [ours.fileno()])
        verdict, rc, timed_out, overflow, bufs = _collect(worker, pid, fds, limits, start)
        duration = time.monotonic() - start
    finally:
        for fd in fds.values():
            os.close(fd)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    state, error = _classify(rc, verdict, timed_out, overflow)
    return ExecResult(state == "passed", state, rc, duration, _decode(bufs["out"]), _decode(bufs["err"]), error,
                      _NAMES[mode])


def _drain(fds: dict[str, int], bufs: dict[str, bytearray], cap: int) -> None:
    """Read what the pipes hold now, without waiting (the program writes unbuffered, before it answers)."""
    with selectors.DefaultSelector() as sel:
        for name, fd in fds.items():
            sel.register(fd, selectors.EVENT_READ, name)
        while sel.get_map():
            events = sel.select(0)
            if not events:
                return
            for key, _ in events:
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fd)
                elif len(bufs[key.data]) < cap:
                    bufs[key.data] += chunk


def _collect(worker: _Worker, pid: int, fds: dict[str, int], limits: SandboxLimits, start: float):
    """Read output, the run's exit and the checker's verdict until the outcome is known, the deadline passes or
    output overflows. A verdict from the test (pass or an assertion) ends the run at once; when the program
    itself broke off, its own exit status is awaited (briefly) so that a crash is reported as one."""
    sel = selectors.DefaultSelector()
    bufs = {name: bytearray() for name in fds}
    for name, fd in fds.items():
        sel.register(fd, selectors.EVENT_READ, name)
    pid, pidfd = pid  # the pidfd (from the server) is readable when the run's process exits
    sel.register(pidfd, selectors.EVENT_READ, "exit")
    sel.register(worker.checker_sock, selectors.EVENT_READ, "verdict")
    deadline = start + limits.timeout_s
    timed_out = overflow = exited = late = False
    verdict = None
    cap = limits.max_output_bytes
    try:
        while not (verdict is not None and (exited or verdict.get("passed") or verdict.get("where") == "test")):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = verdict is None
                break
            for key, _ in sel.select(remaining):
                if key.data == "exit":
                    sel.unregister(pidfd)
                    exited = True
                    # the checker sees the call socket close; give it a moment, not the whole timeout
                    deadline = min(deadline, time.monotonic() + 2.0)
                elif key.data == "verdict":
                    sel.unregister(worker.checker_sock)
                    try:
                        verdict = _recv_json(worker.checker_sock)
                    except (OSError, ValueError):
                        verdict = {"passed": False, "error": "CheckerError"}
                    if float(verdict.get("at", 0.0)) > start + limits.timeout_s:
                        # reached after the deadline (seen late because this process was descheduled): a timeout
                        late = True
                    deadline = min(deadline, time.monotonic() + 1.0)
                else:
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        sel.unregister(key.fd)
                        continue
                    bufs[key.data] += chunk
                    if len(bufs["out"]) + len(bufs["err"]) > cap:
                        overflow = True
            if overflow or late:
                break
    finally:
        sel.close()
    if late:  # the checker answered (it is free for the next task), but too late: the verdict does not count
        verdict, timed_out = None, True
    _drain(fds, bufs, cap)
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)  # PID 1 of its namespace: everything in it dies
    except ProcessLookupError:
        pass
    os.close(pidfd)
    if worker.mode == "rlimits":
        _kill_group(pid)  # not reaped in this mode until our "wait", so the group id is still the run's
    ended_by_us = not exited
    if verdict is None or not verdict.get("passed"):
        by_fd = {fds["out"]: bufs["out"], fds["err"]: bufs["err"]}
        _wait_for_eof(list(by_fd), time.monotonic() + 2.0, by_fd, cap)  # output up to the kill, all of it
    if verdict is None and not late:  # the checker still waits on a dead or killed run: a fresh one for the next task
        worker.restart_checker()
    passed = bool((verdict or {}).get("passed"))
    if ended_by_us and passed and worker.mode != "rlimits":
        rc = None  # killed after passing: its status says nothing, and the server reaps it on SIGCHLD by itself
    else:
        try:
            rc = worker.request({"op": "wait", "pid": pid, "block": not passed}).get("status")
        except (OSError, ValueError) as e:  # the server died with the run: its status is lost, not its result
            log.warning("sandbox fork server lost run %d (%s)", pid, e)
            rc = None
    if ended_by_us and verdict is not None:
        rc = None  # we killed it after its verdict: its exit status says nothing
    out = {k: bytes(v[:cap]) for k, v in bufs.items()}
    return verdict, rc, timed_out, overflow, out


def run_program(source: str, limits: SandboxLimits = SandboxLimits(), slot: int = 0) -> ExecResult:
    """Execute a bare program; it passes when it runs to its end (forgeable: use :func:`run_job` with a test)."""
    return run_job(Job(source), limits, slot)


def run_jobs(jobs: Iterable[Job | str], limits: SandboxLimits = SandboxLimits(), workers: int = 2) -> Iterator[tuple[int, ExecResult]]:
    """Execute many jobs with ``workers`` parallel sandboxes; yields ``(index, result)`` as each finishes."""
    if not 1 <= workers <= 256:
        raise ToksmithError(f"workers must be in 1..256, got {workers}")
    slots: queue.Queue[int] = queue.Queue()
    for s in range(workers):
        slots.put(s)

    def one(job: Job | str) -> ExecResult:
        slot = slots.get()
        try:
            return run_job(job, limits, slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
        futures = {pool.submit(one, job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


run_programs = run_jobs  # bare programs or jobs
