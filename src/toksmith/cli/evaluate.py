"""``toksmith evaluate``: HumanEval / MBPP pass@k of a model directory, or of completions in a file.

    toksmith evaluate MODEL_DIR --benchmark humaneval --problems 0-9 --out runs/he
    toksmith evaluate --samples runs/he/samples.jsonl --benchmark humaneval --out runs/he-rescored

Defaults come from the config dataclasses (``EvalConfig``, ``GenerationConfig``, ``SandboxLimits``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app

# Read defaults off the dataclasses (light modules: no torch at import).
from ..codegen.evaluate import EvalConfig
from ..codegen.generate import GenerationConfig
from ..codegen.sandbox import SandboxLimits

_E, _G, _L = EvalConfig(), GenerationConfig(), SandboxLimits()


@app.command("evaluate")
def evaluate_cmd(
    model: Optional[Path] = typer.Argument(None, help="HF model directory (with its tokenizer) or 'smollm2'; omit with --samples"),
    benchmark: str = typer.Option(_E.benchmark, "--benchmark", "-b", help="humaneval | mbpp | mbpp-sanitized"),
    split: str = typer.Option(_E.split, help="MBPP split: test (11-510), validation, train, prompt, all"),
    problems: str = typer.Option(_E.problems, "--problems", "-p", help="ids, numbers, ranges a-b, sample:N; empty = all"),
    samples: Optional[Path] = typer.Option(None, "--samples", help="score completions from this JSONL instead of generating"),
    n: int = typer.Option(_G.n_samples, "--n", help="samples per problem"),
    k: list[int] = typer.Option(list(_E.ks), "--k", help="pass@k to report (repeatable); k <= n"),
    temperature: float = typer.Option(_G.temperature, help="0 = greedy; the paper uses 0.6"),
    top_p: float = typer.Option(_G.top_p, help="nucleus sampling mass"),
    max_new_tokens: int = typer.Option(_G.max_new_tokens, help="generation length cap"),
    batch_size: int = typer.Option(_G.batch_size, help="rows per generation batch"),
    token_healing: bool = typer.Option(_G.token_healing, "--token-healing/--no-token-healing", help="N-step token healing"),
    healing_tokens: int = typer.Option(_G.healing_tokens, help="N: prompt tokens to back up"),
    backend: str = typer.Option(_G.backend, help="auto | transformers | vllm"),
    threads: int = typer.Option(_G.threads, help="torch CPU threads (0 = torch default)"),
    seed: int = typer.Option(_E.seed, help="seed for sampling and sample:N"),
    workers: int = typer.Option(_E.workers, help="parallel sandboxes"),
    timeout: float = typer.Option(_L.timeout_s, help="wall-clock seconds per execution"),
    out: Path = typer.Option(_E.out_dir, "--out", "-o", help="run directory (samples, results, summary; resumable)"),
) -> None:
    """Score a model (or completions) on HumanEval / MBPP with sandboxed execution; prints a table."""
    from rich.console import Console

    from ..codegen.evaluate import evaluate, score_samples, summary_table
    from ..errors import ToksmithError

    if (model is None) == (samples is None):
        raise ToksmithError("give either a MODEL directory or --samples FILE (not both)")
    if samples is not None:
        n = max(n, *k)  # scoring a file: n is whatever the file holds; only k is checked, per problem
    gen = GenerationConfig(n_samples=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                           batch_size=batch_size, token_healing=token_healing, healing_tokens=healing_tokens,
                           backend=backend, seed=seed, threads=threads)
    cfg = EvalConfig(benchmark=benchmark, split=split, problems=problems, seed=seed, ks=tuple(k), workers=workers,
                     out_dir=out, generation=gen, limits=SandboxLimits(timeout_s=timeout))
    summary = score_samples(samples, cfg) if samples is not None else evaluate(model, cfg)
    console = Console(soft_wrap=True)
    console.print(summary_table(summary))
    console.print(f"summary: {out / 'summary.json'}", highlight=False)
