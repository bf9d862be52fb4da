"""The sandbox against hostile programs (tests/codegen/evil_programs/), each checking one property.

Every hostile program must be scored as not passed, with the expected status, and leave the host and the run
intact: sentinel files survive, nothing is written outside the temp dir, no process of the sandbox uids is left,
the loopback server sees no connection, and the evaluator (this pytest process) is alive to run the next one.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from toksmith.codegen import sandbox
from toksmith.codegen.sandbox import SandboxLimits, run_program, run_programs
from toksmith.errors import ToksmithError

EVIL = Path(__file__).parent / "evil_programs"
ROOT = os.geteuid() == 0
FAST = SandboxLimits(timeout_s=3.0, cpu_s=2)
needs_root = pytest.mark.skipif(not ROOT, reason="full isolation (namespaces, own uid) needs root")


def sandbox_processes() -> list[int]:
    """Pids of live processes owned by this evaluator's sandbox uids."""
    base = sandbox._uid_base()
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if base <= entry.stat().st_uid < base + 256:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.fixture
def sentinel():
    """A world-writable directory in /tmp with a world-writable file: only the sandbox's mounts protect it."""
    d = Path(tempfile.mkdtemp(prefix="toksmith-sentinel-"))
    (d / "keep.txt").write_text("precious")
    os.chmod(d, 0o777)
    os.chmod(d / "keep.txt", 0o666)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def evil(name: str, **subs: object) -> str:
    src = (EVIL / f"{name}.py").read_text()
    for key, value in subs.items():
        src = src.replace(f"__{key.upper()}__", str(value))
    return src


def run_evil(name: str, limits: SandboxLimits = FAST, **subs: object):
    t0 = time.monotonic()
    res = run_program(evil(name, **subs), limits)
    wall = time.monotonic() - t0
    assert not res.passed, f"{name} was scored as passed: {res}"
    assert wall < limits.timeout_s + 3, f"{name} was not stopped in time ({wall:.1f} s)"
    return res


def test_ordinary_program_passes_and_prints():
    res = run_program("import re, collections\nprint('hello', re.sub('l', 'L', 'world'))\nassert 1 + 1 == 2\n")
    assert res.passed and res.status == "passed"
    assert res.stdout == "hello worLd\n"
    assert res.isolation == ("root-namespaces" if ROOT else "user-namespaces")


def test_failing_assert_is_failed_with_traceback():
    res = run_program("def f():\n    return 1\nassert f() == 2\n")
    assert res.status == "failed" and res.error == "AssertionError"
    assert "AssertionError" in res.stderr


def test_syntax_error_is_failed():
    res = run_program("def f(:\n")
    assert res.status == "failed" and res.error == "SyntaxError"


def test_infinite_loop_times_out():
    res = run_evil("infinite_loop")
    assert res.status == "timeout"


def test_a_verdict_reached_after_the_deadline_is_a_timeout(monkeypatch):
    """On a loaded machine the evaluator may wake up after the deadline with a pass already waiting: the checker's
    timestamp (not when the evaluator happened to read it) decides. The evaluator's first wait is stretched past the
    deadline here, as a descheduled process would be; a program that also runs past the deadline must not pass."""
    import selectors

    real = selectors.DefaultSelector
    first = []

    class Late(real):
        def select(self, timeout=None):
            if not first:
                first.append(1)
                time.sleep(2.5)  # descheduled: the 1.5 s program finishes, its verdict waits, the deadline passes
            return super().select(timeout)

    monkeypatch.setattr(selectors, "DefaultSelector", Late)
    res = sandbox.run_job(sandbox.Job("import time\ntime.sleep(1.5)\n"), SandboxLimits(timeout_s=1.0, cpu_s=2))
    assert not res.passed and res.status == "timeout", res
    monkeypatch.setattr(selectors, "DefaultSelector", real)
    ok = sandbox.run_job(sandbox.Job("import time\ntime.sleep(0.2)\n"), SandboxLimits(timeout_s=3.0, cpu_s=2))
    assert ok.passed, ok  # the same path on time still passes (and the checker is usable after a late verdict)


def test_cpu_limit_ends_a_loop_before_the_wall_clock():
    res = run_evil("infinite_loop", SandboxLimits(timeout_s=8.0, cpu_s=1))
    assert res.status == "timeout" and res.error == "cpu_s" and res.duration_s < 5


@needs_root
def test_fork_bomb_is_contained_and_leaves_nothing():
    res = run_evil("fork_bomb", SandboxLimits(timeout_s=2.0, cpu_s=2, max_processes=16))
    assert res.status in ("timeout", "failed", "crashed")
    assert sandbox_processes() == []


def test_memory_bomb_hits_the_address_space_limit():
    res = run_evil("memory_bomb", SandboxLimits(timeout_s=10.0, memory_mb=512))
    assert res.status == "memory" and res.error == "MemoryError"


@needs_root
def test_writing_outside_the_temp_dir_fails(sentinel):
    tag = os.urandom(4).hex()
    res = run_evil("write_outside", sentinel=sentinel, tag=tag)
    assert res.status == "failed" and res.error in ("OSError", "FileNotFoundError", "PermissionError")
    assert (sentinel / "keep.txt").read_text() == "precious"
    assert not (sentinel / "evil.txt").exists()
    assert not Path(f"/tmp/toksmith-evil-{tag}.txt").exists()


@needs_root
def test_deleting_files_fails(sentinel):
    res = run_evil("delete_files", sentinel=sentinel)
    assert res.status == "failed"
    assert (sentinel / "keep.txt").read_text() == "precious"


def _loopback_server():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn.recv(100))
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, accepted, stop, thread


@pytest.mark.parametrize("isolation", ["auto", "rlimits"])
def test_network_socket_is_refused(isolation):
    server, accepted, stop, thread = _loopback_server()
    try:
        res = run_evil("network_socket", SandboxLimits(timeout_s=5.0, isolation=isolation), port=server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        server.close()
    assert res.status == "failed" and res.error in ("OSError", "PermissionError")
    assert accepted == []


@pytest.mark.parametrize("isolation", ["auto", "rlimits"])
@pytest.mark.parametrize("name", ["exit_early", "os_exit"])
def test_exit_before_the_tests_is_not_a_pass(name, isolation):
    res = run_evil(name, SandboxLimits(isolation=isolation))
    assert res.status == "failed"


@pytest.mark.parametrize("isolation", ["auto", "rlimits"])
def test_printing_gigabytes_hits_the_output_cap(isolation):
    limits = SandboxLimits(timeout_s=10.0, max_output_bytes=1 << 16, isolation=isolation)
    res = run_evil("print_gigabytes", limits)
    assert res.status == "output_limit"
    assert len(res.stdout) == 1 << 16


@pytest.mark.parametrize("isolation", ["auto", "rlimits"])
def test_killing_the_parent_spares_the_evaluator(isolation):
    # Without namespaces and an own uid the program could signal the evaluator by pid (documented), so the
    # fallback is only tested against killing its parent.
    targets = f"os.getppid(), {os.getpid()}" if isolation == "auto" and ROOT else "os.getppid(),"
    res = run_evil("kill_parent", SandboxLimits(isolation=isolation), targets=targets)
    assert res.status in ("failed", "crashed")
    assert run_program("assert True\n").passed  # the evaluator and the sandbox still work


@pytest.mark.parametrize("isolation", ["auto", "rlimits"])
def test_segfault_is_a_crash(isolation):
    res = run_evil("segfault", SandboxLimits(isolation=isolation))
    assert res.status == "crashed" and res.error == "SIGSEGV"


def test_stdin_is_closed():
    res = run_evil("block_on_input")
    assert res.status == "failed" and res.error == "EOFError"
    assert res.duration_s < 2.0


@needs_root
def test_detached_grandchild_does_not_survive():
    res = run_evil("orphan_daemon")
    assert res.status == "failed" and res.error == "RuntimeError"
    assert sandbox_processes() == []


def test_environment_is_scrubbed_and_cwd_is_a_fresh_temp_dir():
    os.environ["TOKSMITH_SECRET_FOR_TEST"] = "leak"
    try:
        res = run_program("import os, sys\nprint(sorted(os.environ))\nprint(os.getcwd())\nprint(os.listdir('.'))\n")
    finally:
        del os.environ["TOKSMITH_SECRET_FOR_TEST"]
    env_keys, cwd, listing = res.stdout.splitlines()
    assert "TOKSMITH_SECRET_FOR_TEST" not in env_keys
    assert cwd == "/tmp/work" if ROOT else Path(cwd).name.startswith("toksmith-sbx-")
    assert listing == "['program.py']"


CAPS = "import re\nprint(re.findall(r'(Cap\\w+|NoNewPrivs):\\s*(\\w+)', open('/proc/self/status').read()))\n"


@needs_root
def test_every_run_has_no_capabilities_and_no_new_privileges():
    # the bounding set is emptied once in the fork server; every run (not only the first) must inherit it empty
    for _ in range(3):
        res = run_program(CAPS)
        fields = dict(ast.literal_eval(res.stdout))
        assert set(fields) >= {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"}, fields
        assert {k: int(v, 16) for k, v in fields.items() if k.startswith("Cap")} == dict.fromkeys(
            ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"), 0)
        assert fields["NoNewPrivs"] == "1"


def test_each_run_gets_its_own_environment():
    # the fork server sets the runs' environment once and re-sets it only when it changes (rlimits: HOME per run)
    src = "import os\nprint(os.environ['HOME'], os.environ['TMPDIR'], os.getcwd())\n"
    lim = SandboxLimits(isolation="rlimits")
    homes = []
    for _ in range(2):
        home, tmp, cwd = run_program(src, lim).stdout.split()
        assert home == tmp == cwd
        homes.append(home)
    assert homes[0] != homes[1]


def test_workers_run_in_parallel_and_keep_indices():
    sources = [f"import time\ntime.sleep(0.5)\nassert {i} % 3 != 0\n" for i in range(6)]
    t0 = time.monotonic()
    results = dict(run_programs(sources, workers=3))
    assert time.monotonic() - t0 < 6 * 0.5  # not serial
    assert {i: r.passed for i, r in results.items()} == {i: i % 3 != 0 for i in range(6)}


def test_bad_limits_are_clear_errors():
    with pytest.raises(ToksmithError, match="timeout_s"):
        SandboxLimits(timeout_s=0)
    with pytest.raises(ToksmithError, match="isolation"):
        SandboxLimits(isolation="docker")
    with pytest.raises(ToksmithError, match="workers"):
        list(run_programs(["pass"], workers=0))


def test_a_dead_fork_server_is_replaced():
    assert run_program("pass\n").passed
    mode = sandbox.isolation_mode(SandboxLimits())
    worker = sandbox._Worker.get(0, mode)
    worker.server.kill()
    worker.server.wait()
    res = run_program("print('again')\n")
    assert res.passed and res.stdout == "again\n"
    assert sandbox._Worker.get(0, mode) is not worker


def _server_children(worker) -> dict[int, int]:
    """pid -> uid of the fork server's children (root mode: the server is the process the evaluator started)."""
    pid = worker.server.pid
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        kids = [int(k) for k in f.read().split()]
    out = {}
    for k in kids:
        try:
            out[k] = os.stat(f"/proc/{k}").st_uid
        except FileNotFoundError:
            pass
    return out


def _spares(worker, deadline_s: float = 5.0) -> list[int]:
    """The next run's processes forked ahead: the server's children still running as root (runs drop to their
    own uid before the program starts). Waits out the teardown of runs that were just killed."""
    end = time.monotonic() + deadline_s
    while True:
        kids = _server_children(worker)
        if all(uid == 0 for uid in kids.values()) or time.monotonic() > end:
            return [k for k, uid in kids.items() if uid == 0]
        time.sleep(0.02)


@needs_root
def test_the_next_run_is_forked_ahead_and_follows_the_limits_of_each_request():
    # a 2 MB file: over a 1 MB work dir, under the default; the spare is prepared with the previous request's
    # limits, so each change of max_disk_mb must get a process forked for it, never the stale spare
    write = "open('big', 'wb').write(b'x' * (2 << 20))\n"
    small, default = SandboxLimits(timeout_s=5.0, max_disk_mb=1), SandboxLimits(timeout_s=5.0)
    outcomes = [run_program(write, lim).passed for lim in (default, small, small, default, small)]
    assert outcomes == [True, False, False, True, False]
    worker = sandbox._Worker.get(0, "root")
    assert len(_spares(worker)) == 1  # one process waits for the next request
    # the spares discarded on each change were reaped: no zombie children of the server
    states = {}
    for k in _server_children(worker):
        try:
            states[k] = open(f"/proc/{k}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            pass
    assert "Z" not in states.values(), states


@needs_root
def test_a_spare_killed_from_outside_is_replaced_and_spares_die_with_their_server():
    assert run_program("pass\n").passed
    worker = sandbox._Worker.get(0, "root")
    (spare,) = _spares(worker)
    os.kill(spare, 9)
    res = run_program("print('still here')\n")
    assert res.passed and res.stdout == "still here\n"
    (spare,) = _spares(worker)
    sandbox._Worker.close_all()  # the evaluator goes away: its servers exit, and their spares with them
    end = time.monotonic() + 5.0
    while os.path.exists(f"/proc/{spare}") and time.monotonic() < end:
        time.sleep(0.02)
    assert not os.path.exists(f"/proc/{spare}")


def test_rlimits_fallback_never_runs_programs_as_root(sentinel):
    """As root, the fallback still switches to a private uid: the world-readable-only canary cannot be written."""
    (sentinel / "keep.txt").chmod(0o644)
    src = f"open({str(sentinel / 'keep.txt')!r}, 'w').write('{{\"verdict\": \"passed\", \"ok\": \"x\"}}')\n"
    res = run_program(src, SandboxLimits(isolation="rlimits"))
    assert res.isolation == "rlimits" and not res.passed
    assert (sentinel / "keep.txt").read_text() == "precious"


def test_fallback_warns_once_and_says_so(caplog):
    sandbox._warned.discard("rlimits")
    with caplog.at_level("WARNING", logger="toksmith.codegen.sandbox"):
        a = run_program("pass\n", SandboxLimits(isolation="rlimits"))
        b = run_program("pass\n", SandboxLimits(isolation="rlimits"))
    assert a.isolation == b.isolation == "rlimits" and a.passed and b.passed
    assert sum("falling back to rlimits only" in r.message for r in caplog.records) == 1


def test_work_dirs_of_a_killed_evaluation_are_removed_next_time(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{sandbox.TEMP_PREFIX}{dead.pid}-abc"
    stale.mkdir()
    (stale / "program.py").write_text("x")
    live = tmp_path / f"{sandbox.TEMP_PREFIX}{os.getpid()}-abc"
    live.mkdir()
    sandbox.clean_stale_dirs.cache_clear()
    assert sandbox.clean_stale_dirs() == 1
    assert not stale.exists() and live.exists()


@pytest.mark.parametrize("name", ["relative_write", "output_before_crash"])
def test_relative_writes_pass_and_output_before_a_crash_is_kept(name):
    if name == "relative_write":
        res = run_program("open('out.txt', 'w').write('x')\nassert open('out.txt').read() == 'x'\n")
        assert res.passed
    else:
        res = run_program("print('first')\nimport os\nos._exit(3)\n")
        assert not res.passed and res.stdout == "first\n"
