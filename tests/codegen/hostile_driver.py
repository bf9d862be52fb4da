"""Run the hostile cases in a separate evaluator process (root, or ``nobody`` via ``setpriv``); print JSON results.

    python hostile_driver.py CONFIG_JSON

After each case it lists processes left behind by the sandbox; the caller checks the host (files, IPC, network).
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hostile_cases import CASES, FORGE_RECORD, PROMPT, TEST  # noqa: E402

from toksmith.codegen import sandbox  # noqa: E402
from toksmith.codegen.sandbox import Job, SandboxLimits, run_job  # noqa: E402


def leftovers() -> list[int]:
    """Processes of the sandbox's uids other than this evaluator and its workers, after the kernel's teardown."""
    deadline = time.monotonic() + 10.0  # a killed PID namespace's processes are reaped asynchronously
    while (found := _leftovers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _leftovers() -> list[int]:
    ours = {os.getpid()} | {p.pid for w in sandbox._Worker._workers.values() for p in (w.server, w.checker)}
    servers = {w.server.pid for w in sandbox._Worker._workers.values()}
    for entry in os.scandir("/proc"):  # user-namespace mode: the server's child is the slot's PID 1, ours too
        try:
            if entry.name.isdigit() and int(open(f"/proc/{entry.name}/stat").read().rsplit(")", 1)[1].split()[1]) in servers:
                if os.getuid() != 0:
                    ours.add(int(entry.name))
        except (OSError, IndexError, ValueError):
            pass
    uids = {os.getuid()} if os.getuid() != 0 else set(range(sandbox._uid_base(), sandbox._uid_base() + 256))
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) not in ours:
            try:
                if entry.stat().st_uid in uids and not _spare(entry.name, ours):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _spare(pid: str, ours: set[int]) -> bool:
    """The next run's process, forked ahead by a server (user-namespace mode, where it has the server's uid): it
    still holds capabilities, which every run drops for good before its program starts."""
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    return int(status["PPid"]) in ours and int(status["CapEff"], 16) != 0


def main() -> None:
    cfg = json.loads(sys.argv[1])
    subs = {"__CANARY_DIR__": cfg["canary_dir"], "__CANARY__": cfg["canary"], "__PORT__": str(cfg["port"]),
            "__KEY__": str(cfg["key"]), "__EVALUATOR__": str(os.getpid()), "__FORGE__": repr(FORGE_RECORD),
            "__VENV__": sys.prefix}
    out = {}
    for name in cfg["cases"]:
        completion, overrides, _ = CASES[name]
        for k, v in subs.items():
            completion = completion.replace(k, v)
        limits = SandboxLimits(**{"timeout_s": 5.0, "isolation": "full", **overrides})
        res = run_job(Job(PROMPT + completion, test=TEST, prelude=PROMPT, entry_point="add"), limits)
        out[name] = {"passed": res.passed, "status": res.status, "error": res.error, "isolation": res.isolation,
                     "stdout": res.stdout[-2000:], "stderr": res.stderr[-500:], "duration_s": res.duration_s,
                     "leftovers": leftovers()}
    out["_evaluator_alive"] = run_job(Job(PROMPT + "    return a + b\n", test=TEST, prelude=PROMPT, entry_point="add")).passed
    print(json.dumps(out))


if __name__ == "__main__":
    main()
