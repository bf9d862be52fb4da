"""Hostile completions (``hostile_cases.py``) in both privilege modes: as root (root namespaces) and as ``nobody``
(unprivileged user namespaces, the evaluator started with ``setpriv``). Each must be scored as not passed with the
expected status, leave no process, IPC object, connection or file behind, and leave the evaluator alive; a
canary file outside the work dir (world-writable, in a world-writable dir) must survive every case untouched.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from toksmith.codegen import sandbox

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from hostile_cases import CASES  # noqa: E402

ROOT = os.geteuid() == 0
NOBODY = 65534
MODES = ["root", "nobody"]
CANARY_TEXT = "precious canary\n"


def _as_nobody(argv: list[str]) -> list[str]:
    """argv run as nobody in a private mount namespace where the interpreter's root-only dirs are visible."""
    script = []
    for i, (parent, children) in enumerate(sandbox._hidden_dirs()):
        for j, c in enumerate(children):
            script.append(f"mkdir -p /run/tsx{i}_{j} 2>/dev/null || true; d{i}_{j}=$(mktemp -d) && "
                          f"mount --bind {shlex.quote(os.path.join(parent, c))} $d{i}_{j}")
        script.append(f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(parent)}")
        for j, c in enumerate(children):
            target = shlex.quote(os.path.join(parent, c))
            script.append(f"mkdir {target} && mount --move $d{i}_{j} {target}")
    script.append("cd / && exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "
                  "--bounding-set=-all \"$@\"")
    return ["unshare", "-m", "--propagation", "private", "sh", "-ec", "; ".join(script), "sh", *argv]


@pytest.fixture(scope="module")
def host():
    """The canary and a loopback server; torn down after both modes ran."""
    d = Path(tempfile.mkdtemp(prefix="toksmith-canary-"))
    canary = d / "canary.txt"
    canary.write_text(CANARY_TEXT)
    os.chmod(d, 0o777)
    os.chmod(canary, 0o666)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[bytes] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn.recv(100) or b"<connected>")
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield {"dir": d, "canary": canary, "port": server.getsockname()[1], "accepted": accepted}
    stop.set()
    thread.join()
    server.close()
    shutil.rmtree(d, ignore_errors=True)


_results: dict[str, dict] = {}


def run_mode(mode: str, host: dict) -> dict:
    if mode in _results:
        return _results[mode]
    if not ROOT:
        pytest.skip("both privilege modes are driven from root (the unprivileged one through setpriv)")
    key = int.from_bytes(os.urandom(3), "big") + 1000
    cfg = {"canary": str(host["canary"]), "canary_dir": str(host["dir"]), "port": host["port"], "key": key,
           "cases": sorted(CASES)}
    argv = [sys.executable, str(HERE / "hostile_driver.py"), json.dumps(cfg)]
    if mode == "nobody":
        argv = _as_nobody(argv)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd="/")
    assert proc.returncode == 0, f"the {mode} evaluator died: {proc.stderr[-3000:]}"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["_key"] = key
    _results[mode] = out
    return out


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("mode", MODES)
def test_hostile_case(mode, name, host):
    res = run_mode(mode, host)[name]
    expected = CASES[name][2]
    assert res["isolation"] == ("root-namespaces" if mode == "root" else "user-namespaces")
    if expected == "passed":
        assert res["passed"] and res["status"] == "passed", res
    else:
        assert not res["passed"] and res["status"] in expected, res
    assert res["leftovers"] == [], f"{name} left processes behind"
    assert host["canary"].read_text() == CANARY_TEXT and sorted(os.listdir(host["dir"])) == ["canary.txt"]


@pytest.mark.parametrize("mode", MODES)
def test_hostile_suite_leaves_the_host_intact(mode, host):
    out = run_mode(mode, host)
    key = out["_key"]
    assert out["_evaluator_alive"]
    assert host["canary"].read_text() == CANARY_TEXT and sorted(os.listdir(host["dir"])) == ["canary.txt"]
    assert host["accepted"] == []  # neither socket nor ctypes got through
    for kind in ("shm", "msg", "sem"):
        rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        assert all(int(r.split()[0]) != key for r in rows), f"a SysV {kind} object was left on the host"
    if Path("/dev/mqueue").is_dir():
        assert not Path(f"/dev/mqueue/toksmith-{key}").exists()
    for p in ("/tmp", "/dev/shm", "/var/tmp"):
        assert not Path(f"{p}/toksmith-evil-{key}").exists()
    # what the programs saw and said
    assert "ipc [" in out["ipc_objects"]["stdout"]  # the objects were created, in the run's own namespace
    pids = json.loads(out["read_host_proc"]["stdout"].split("pids ", 1)[1].splitlines()[0])
    assert max(pids) < 10 and "evaluator visible False" in out["read_host_proc"]["stdout"]
    assert "said this first" in out["output_before_failure_kept"]["stdout"]
    assert "No space left" in out["fill_the_disk"]["stderr"] or out["fill_the_disk"]["status"] == "file_limit"
    assert "No space left" in out["file_count_bomb"]["stderr"]
    said = out["forged_record_everywhere"]["stdout"].split("overwrote ", 1)[1].split()
    assert said[0] == "0" and int(said[2]) > 100, said  # tried many files (the canary, the venv), wrote none
