"""Reference solutions pass and wrong ones fail, with the default limits and 2 workers.

Default suite: all 164 HumanEval canonical solutions and all 427 sanitized-MBPP references (~15 s on this
2-core machine). The full 974-problem MBPP run takes ~60 s under load, so it is in the slow suite.
"""

from __future__ import annotations

import pytest

from toksmith.codegen.benchmarks import load_benchmark
from toksmith.codegen.sandbox import SandboxLimits, run_jobs


def run_all(problems, completions):
    results = dict(run_jobs([p.job(c) for p, c in zip(problems, completions)], SandboxLimits(), workers=2))
    return {problems[i].task_id: r for i, r in results.items()}


def failures(results):
    return {tid: (r.status, r.error, r.stderr[-200:]) for tid, r in results.items() if not r.passed}


def test_all_humaneval_canonical_solutions_pass():
    problems = load_benchmark("humaneval")
    assert len(problems) == 164
    assert failures(run_all(problems, [p.reference for p in problems])) == {}


def test_all_sanitized_mbpp_references_pass():
    problems = load_benchmark("mbpp-sanitized", "all")
    assert len(problems) == 427
    assert failures(run_all(problems, [p.reference for p in problems])) == {}


@pytest.mark.slow
def test_all_974_mbpp_references_pass():
    problems = load_benchmark("mbpp", "all")
    assert len(problems) == 974
    assert failures(run_all(problems, [p.reference for p in problems])) == {}


def test_all_humaneval_wrong_solutions_fail():
    problems = load_benchmark("humaneval")
    results = run_all(problems, ["    return None\n"] * len(problems))
    assert sum(r.passed for r in results.values()) == 0


def test_wrong_solutions_fail():
    he = load_benchmark("humaneval")[:20]
    mbpp = load_benchmark("mbpp")[:20]
    # HumanEval: an empty body returns None; MBPP: another problem's reference defines the wrong function.
    wrong = run_all(he, ["    return None\n"] * len(he))
    wrong |= run_all(mbpp, [mbpp[(i + 1) % len(mbpp)].reference for i in range(len(mbpp))])
    assert all(not r.passed for r in wrong.values())
    assert {r.error for r in wrong.values()} <= {"AssertionError", "NameError", "TypeError"}
