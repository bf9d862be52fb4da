"""Benchmark records, prompt formats and problem selection."""

from __future__ import annotations

import pytest

from toksmith.codegen.benchmarks import BENCHMARKS, load_benchmark, select_problems
from toksmith.errors import ToksmithError


def test_sizes_and_standard_split():
    assert len(load_benchmark("humaneval")) == 164
    test = load_benchmark("mbpp")
    assert len(test) == 500 and test[0].task_id == "mbpp/11" and test[-1].task_id == "mbpp/510"
    assert len(load_benchmark("mbpp", "all")) == 974
    assert len(load_benchmark("mbpp-sanitized")) == 257
    assert len(load_benchmark("mbpp-sanitized", "all")) == 427
    assert set(BENCHMARKS) == {"humaneval", "mbpp", "mbpp-sanitized"}


def test_humaneval_prompt_and_program():
    p = load_benchmark("humaneval")[0]
    assert p.task_id == "HumanEval/0" and p.prompt.startswith("from typing import List")
    prog = p.program(p.reference)
    assert prog.startswith(p.prompt + p.reference) and prog.rstrip().endswith("check(has_close_elements)")
    assert "\ndef" in p.stop and "\nif __name__" in p.stop


def test_mbpp_three_shot_prompt():
    p = load_benchmark("mbpp")[0]
    shots = p.prompt.split("[DONE]")
    assert len(shots) == 4  # three shots with their code, then the task
    assert "similar_elements" in shots[0] and "is_not_prime" in shots[1] and "heap_queue_largest" in shots[2]
    assert shots[3].rstrip().endswith("[BEGIN]")
    assert p.prompt.count("You are an expert Python programmer") == 4
    assert all(t in p.prompt for t in p.test.splitlines() if t.startswith("assert"))
    assert "\r" not in p.prompt and p.stop == ("[DONE]",)
    assert not p.program(p.reference).startswith("You are")  # MBPP programs do not include the prompt


def test_selection():
    he = load_benchmark("humaneval")
    ids = [p.task_id for p in select_problems(he, "3, HumanEval/0, 10-12")]
    assert ids == ["HumanEval/0", "HumanEval/3", "HumanEval/10", "HumanEval/11", "HumanEval/12"]
    a = select_problems(he, "sample:5", seed=1)
    assert len(a) == 5 and a == select_problems(he, "sample:5", seed=1) != select_problems(he, "sample:5", seed=2)
    assert [p.task_id for p in select_problems(load_benchmark("mbpp"), "11-13")] == ["mbpp/11", "mbpp/12", "mbpp/13"]
    assert len(select_problems(he, "")) == 164


@pytest.mark.parametrize("spec, match", [("HumanEval/999", "unknown problem"), ("sample:0", "N must be"),
                                         ("500-600", "matches no task"), ("Humaneval/1", "did you mean: HumanEval/1")])
def test_bad_selection_is_a_clear_error(spec, match):
    with pytest.raises(ToksmithError, match=match):
        select_problems(load_benchmark("humaneval"), spec)


def test_unknown_benchmark_and_split():
    with pytest.raises(ToksmithError, match="Did you mean: humaneval"):
        load_benchmark("humaneva")
    with pytest.raises(ToksmithError, match="MBPP split"):
        load_benchmark("mbpp", "dev")
