"""The plan of a study, without running it (``toksmith run CONFIG --dry-run``): per stage, the engine it runs on
and an estimate of tokens, FLOPs and GPU-hours from the cost model.

Training FLOPs are ``6 N T`` (N parameters at the new vocabulary, T tokens), sampling and scoring ``2 N T``;
GPU-hours are ``FLOPs / (gpus * gpu_flops * mfu) / 3600``.

>>> gpu_hours(3.6e15, 1e12, 1.0, 1)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanRow:
    stage: str
    engine: str
    work: str
    tokens: float
    flops: float
    gpu_hours: float


def gpu_hours(flops: float, gpu_flops: float, mfu: float, gpus: int) -> float:
    """Device-hours (summed over ``gpus``; wall hours = this / gpus) for ``flops`` at ``gpu_flops`` peak and ``mfu``."""
    return flops / (gpu_flops * mfu) / 3600


def plan(cfg) -> list[PlanRow]:
    from ..costs import model as M
    from ..costs.shapes import load_shape

    e, t, tk, cg = cfg.engines, cfg.transfer, cfg.tokenizers, cfg.codegen
    shape = load_shape(t.shape)
    n_params = float(M.total_params(shape, tk.size))
    gh = lambda f: gpu_hours(f, e.gpu_flops, e.mfu, e.gpus)  # noqa: E731
    counting = "Ray (distributed pair counting)" if e.counting == "ray" else "local processes"
    training = "accelerate + FSDP" if e.training == "accelerate-fsdp" else "accelerate, one process"
    sampling = "vLLM" if e.sampling == "vllm" else "transformers generate"
    n_train = 1 + len(tk.presets) + len(tk.mixes)
    variants = 1 + len(t.methods)
    ft_tokens = float(t.steps * t.batch_size * t.seq_len * variants)
    eval_tokens = float(variants * (t.steps // t.eval_every + 1) * t.eval_bytes / 3.0)
    n_probs = cg.problems * len(cg.benchmarks)
    gen_tokens = float(variants * cg.passk_problems * cg.n_samples * cg.max_new_tokens)
    score_tokens = float(variants * n_probs * 400)
    speed_tokens = float(2 * cfg.speed.prompts * cfg.speed.new_tokens * cfg.speed.repeats)
    rows = [
        PlanRow("tokenizers", counting, f"{n_train} BPE trainings on {cfg.corpus.chars:,} characters each "
                f"(vocab sweep {min(tk.vocab_sizes):,}-{max(tk.vocab_sizes):,} as prefixes of one training)", 0.0, 0.0, 0.0),
        PlanRow("compare", counting, f"ours vs {', '.join(tk.references)} on {cfg.corpus.heldout_docs} held-out docs/subset", 0.0, 0.0, 0.0),
        PlanRow("costs", "cost model (CPU, seconds)", f"optimal V for {', '.join(cfg.costs.shapes)}, {t.shape}", 0.0, 0.0, 0.0),
        PlanRow("transfer", "one process (CPU or one GPU)", f"{t.model} -> {tk.size:,} tokens with {', '.join(t.methods)}", 0.0, 0.0, 0.0),
        PlanRow("finetune", training, f"{variants} models x {t.steps:,} steps x {t.batch_size * t.seq_len:,} tokens",
                ft_tokens + eval_tokens, 6 * n_params * ft_tokens + 2 * n_params * eval_tokens,
                gh(6 * n_params * ft_tokens + 2 * n_params * eval_tokens)),
        PlanRow("codegen", sampling, f"{variants} models: {n_probs} solutions scored, {cg.passk_problems} problems x "
                f"{cg.n_samples} samples (T={cg.temperature}, top-p {cg.top_p})", gen_tokens + score_tokens,
                2 * n_params * (gen_tokens + score_tokens), gh(2 * n_params * (gen_tokens + score_tokens))),
        PlanRow("speed", sampling, f"{cfg.speed.prompts} prompts x {cfg.speed.new_tokens} tokens, old vs new", speed_tokens,
                2 * n_params * speed_tokens, gh(2 * n_params * speed_tokens)),
        PlanRow("report", "local", "report.html + report.md", 0.0, 0.0, 0.0),
    ]
    return rows


def plan_table(cfg, rows: list[PlanRow]):
    from rich.table import Table

    t = Table(title=f"plan of study {cfg.name} ({cfg.engines.gpus} x {cfg.engines.gpu}, MFU {cfg.engines.mfu:.0%}, "
                    f"model {cfg.transfer.shape})")
    for c in ("stage", "engine", "work", "tokens", "FLOPs", "GPU-hours"):
        t.add_column(c, justify="right" if c in ("tokens", "FLOPs", "GPU-hours") else "left")
    for r in rows:
        t.add_row(r.stage, r.engine, r.work, f"{r.tokens:.3g}" if r.tokens else "-", f"{r.flops:.3g}" if r.flops else "-",
                  f"{r.gpu_hours:,.1f}" if r.gpu_hours else "-")
    total = sum(r.gpu_hours for r in rows)
    t.add_row("total", "", "", f"{sum(r.tokens for r in rows):.3g}", f"{sum(r.flops for r in rows):.3g}", f"{total:,.1f}")
    return t
