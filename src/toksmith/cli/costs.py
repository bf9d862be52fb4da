"""``toksmith cost`` (price vocabulary sizes, optimal V) and ``toksmith speed`` (measured generation speed)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import math

import typer

from . import app
from .options import config_option, print_tables, size, sizes, split_list, tokenizer_name

_PRESETS_HELP = "model preset, config.json or model dir (repeatable, comma-separated)"


def _nsl_spec(spec: str) -> str:
    """``tokenizers:gpt4,r50k`` -> ``tokenizers:cl100k,gpt2`` (the library's aliases); other specs unchanged."""
    if not spec.startswith("tokenizers:"):
        return spec
    return "tokenizers:" + ",".join(tokenizer_name(n) for n in split_list(spec.split(":", 1)[1]))


def _num(value: float, fmt: str) -> str:
    return format(value, fmt) if math.isfinite(value) else "n/a"


def _cost(name: str, *decls: str, **kw):
    from ..costs.report import CostConfig

    return config_option(CostConfig, name, *decls, **kw)


def _speed(name: str, *decls: str, **kw):
    from ..costs.speed import SpeedConfig

    return config_option(SpeedConfig, name, *decls, **kw)


def _given(**values) -> dict:
    return {k: v for k, v in values.items() if v is not None}


@app.command("cost")
def cost(
    model: Optional[list[str]] = _cost("models", "--model", "-m", help=_PRESETS_HELP, show="all presets"),
    vocab: Optional[str] = _cost("vocab_sizes", "--vocab", help="vocabulary sizes to tabulate (32k,64k or 32000)"),
    nsl: Optional[str] = _cost("nsl", help="NSL(V): paper-fit | paper-points | FILE.json | tokenizers:a,b,..."),
    nsl_fit: Optional[bool] = _cost("nsl_fit", "--nsl-fit/--no-nsl-fit", help="with tokenizers:..., fit "
                                    "a+b*exp(-V/c) instead of interpolating (needs 3+ tokenizers; extrapolates)"),
    bytes_per_token: Optional[float] = _cost("baseline_bytes_per_token", "--bytes-per-token",
                                             help="baseline (Llama 2) bytes/token, measured on code"),
    dtype: Optional[str] = _cost("dtype", help="weight dtype"),
    kv_dtype: Optional[str] = _cost("kv_dtype", help="KV cache dtype"),
    batch: Optional[int] = _cost("batch"),
    seq_tokens: Optional[str] = _cost("seq_tokens"),
    seq_bytes: Optional[str] = _cost("seq_bytes"),
    n_ctx: Optional[str] = _cost("n_ctx"),
    fixed_context: Optional[bool] = _cost("fixed_context", "--fixed-context/--no-fixed-context",
                                          help="keep n_ctx in tokens for every V (no NSL scaling)"),
    v_min: Optional[str] = _cost("v_min", help="lower end of the optimum search"),
    v_max: Optional[str] = _cost("v_max", help="upper end of the optimum search"),
    out: Path = typer.Option(Path("runs/cost"), "--out", "-o", help="directory for cost.json and the PNGs"),
) -> None:
    """Price vocabulary sizes for models: parameters, memory, KV cache, FLOPs per byte, speed, optimal V."""
    from ..costs.report import CostConfig, run_cost

    cfg = CostConfig(**_given(
        models=tuple(split_list(model)) or None, vocab_sizes=sizes(vocab, "--vocab") if vocab else None,
        nsl=_nsl_spec(nsl) if nsl else None, nsl_fit=nsl_fit, baseline_bytes_per_token=bytes_per_token,
        dtype=dtype, kv_dtype=kv_dtype, batch=batch, seq_tokens=size(seq_tokens, "--seq-tokens"),
        seq_bytes=size(seq_bytes, "--seq-bytes"), n_ctx=size(n_ctx, "--n-ctx"), fixed_context=fixed_context,
        v_min=size(v_min, "--v-min"), v_max=size(v_max, "--v-max"), out_dir=str(out)))
    _print_cost(run_cost(cfg))


def _print_cost(report) -> None:
    from rich.console import Console
    from rich.table import Table

    cfg = report.config
    console = Console()
    lo, hi = report.curve.domain
    tables = []
    t = Table(title=f"optimal vocabulary (batch {cfg.batch}, seq {cfg.seq_ref_tokens:g} baseline tokens, "
                    f"n_ctx {cfg.n_ctx}, {cfg.dtype} weights, {cfg.kv_dtype} KV)")
    for col in ("model", "params", "own V", "V* inference", "FLOPs/byte saved vs 32k", "speed at V*inf",
                "V* memory", "GB at own V", "GB at V*mem"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for s in report.summaries:
        t.add_row(s.model, f"{s.params / 1e9:.3f}B", f"{s.own_vocab:,}", s.inference_optimum.label(),
                  _num(s.flops_saved_vs_32k, ".1%"), f"{s.speed_at_inference_optimum:.3f}x", s.memory_optimum.label(),
                  _num(s.memory_gb_at_own_vocab, ".2f"), f"{s.memory_gb_at_optimum:.2f}")
    tables.append(t)
    t = Table(title="cost per vocabulary size (speed: bytes/s vs Llama 2 32k tokenizer; compute- / memory-bound)")
    for col in ("model", "V", "NSL", "vocab params", "share", "weights GB", "KV GB", "logits/step MB",
                "GFLOP/token", "GFLOP/byte", "context kB", "speed cb", "speed mb"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in report.rows:
        t.add_row(r.model, f"{r.vocab_size:,}", f"{r.nsl:.3f}", f"{r.vocab_params / 1e6:.1f}M",
                  f"{r.vocab_share:.1%}", f"{r.weight_gb:.2f}", f"{r.kv_gb:.3f}", f"{r.logits_step_mb:.2f}",
                  f"{r.gflops_per_token:.3f}", f"{r.gflops_per_byte:.3f}", f"{r.effective_context_kb:.1f}",
                  f"{r.relative_speed:.3f}", f"{r.relative_speed_membound:.3f}")
    tables.append(t)
    print_tables(*tables, console=console)
    console.print(f"NSL(V): {report.curve.source}; baseline bytes/token {cfg.baseline_bytes_per_token:g}; "
                  "speed at V*inf is bytes/s vs the Llama 2 tokenizer (NSL 1), compute-bound")
    if math.isfinite(hi):
        skipped = sorted(v for v in cfg.vocab_sizes if not lo <= v <= hi)
        console.print(f"the measured NSL curve is valid for V = {lo:,.0f}..{hi:,.0f} only (no extrapolation): "
                      f"optima searched there; n/a where a value needs V outside it"
                      + (f"; skipped --vocab {', '.join(f'{v:,}' for v in skipped)}" if skipped else "")
                      + ". Measure 3+ tokenizers with --nsl-fit to extrapolate with a fitted curve")
    elif report.curve.points:
        vs = [v for v, _ in report.curve.points]
        console.print(f"the NSL fit rests on V = {min(vs):,.0f}..{max(vs):,.0f}; values outside are extrapolated "
                      "with the fit")
    for name, path in report.files.items():
        console.print(f"wrote {name}: {path}")


@app.command("speed")
def speed(
    model: Optional[str] = _speed("model", "--model", "-m", help="shape preset, config.json or model dir"),
    vocab: Optional[str] = _speed("vocab_sizes", "--vocab", help="vocabulary sizes of the sweep"),
    tokenizers: Optional[str] = _speed("tokenizers", help="tokenizers to compare on code text ('' = none)"),
    prompt_tokens: Optional[int] = _speed("prompt_tokens"),
    new_tokens: Optional[int] = _speed("new_tokens"),
    prompt_bytes: Optional[int] = _speed("prompt_bytes"),
    gen_bytes: Optional[int] = _speed("gen_bytes"),
    batch: Optional[int] = _speed("batch", help="batch size"),
    repeats: Optional[int] = _speed("repeats"),
    threads: Optional[int] = _speed("threads"),
    device: Optional[str] = _speed("device"),
    dtype: Optional[str] = _speed("dtype"),
    out: Path = typer.Option(Path("runs/speed"), "--out", "-o", help="directory for speed.json and speed.png"),
) -> None:
    """Time real generation at several vocabulary sizes and for real tokenizers; compare with the FLOPs model."""
    from ..costs.speed import SpeedConfig, run_speed

    cfg = SpeedConfig(**_given(
        model=model, vocab_sizes=sizes(vocab, "--vocab") if vocab else None,
        tokenizers=tuple(tokenizer_name(t) for t in split_list(tokenizers)) if tokenizers is not None else None,
        prompt_tokens=prompt_tokens, new_tokens=new_tokens, prompt_bytes=prompt_bytes, gen_bytes=gen_bytes,
        batch=batch, repeats=repeats, threads=threads, device=device, dtype=dtype, out_dir=str(out)))
    _print_speed(run_speed(cfg))


def _print_speed(report) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    tables = []
    c = report.config
    t = Table(title=f"{report.shape.name} generate(): {c.new_tokens} new tokens after {c.prompt_tokens}, batch "
                    f"{c.batch}, {report.device} {report.dtype}, {report.threads} threads (median of {c.repeats})")
    for col in ("V", "seconds", "tokens/s", "bytes/token (NSL curve)", "bytes/s", "GFLOP", "predicted t/t0",
                "measured t/t0", "error", "CPU s", "CPU t/t0", "error (CPU)"):
        t.add_column(col, justify="right")
    for r in report.vocab:
        t.add_row(f"{r.vocab_size:,}", f"{r.seconds:.3f}", f"{r.tokens_per_s:.1f}", f"{r.bytes_per_token:.2f}",
                  f"{r.bytes_per_s:.1f}", f"{r.gflops:.2f}", f"{r.predicted_ratio:.3f}", f"{r.measured_ratio:.3f}",
                  f"{r.error:+.1%}", f"{r.cpu_seconds:.3f}", f"{r.measured_ratio_cpu:.3f}", f"{r.error_cpu:+.1%}")
    print_tables(t, console=console)
    console.print(f"affine fit t = t0 + F/R ({'CPU' if report.device == 'cpu' else 'wall'} time): "
                  f"t0 = {report.overhead_s:.3f} s per call, R = "
                  f"{report.achieved_gflops_per_s:.2f} GFLOP/s")
    if report.overhead_s < 0:
        console.print(f"[bold yellow]warning:[/] the fitted per-call overhead t0 = {report.overhead_s:.3f} s is "
                      "negative, which is not physical: the timings are too noisy or too few for the affine fit "
                      "(raise --repeats or --new-tokens, or pin --threads); read R with care")
    if report.tokenizers:
        t = Table(title=f"same model shape, {c.gen_bytes} bytes of code generated per run")
        for col in ("tokenizer", "V", "bytes/token", "prompt tok", "new tok", "seconds", "tokens/s", "bytes/s",
                    "predicted speedup", "measured speedup", "error", "CPU s", "speedup (CPU)", "error (CPU)"):
            t.add_column(col, justify="left" if col == "tokenizer" else "right")
        for r in report.tokenizers:
            t.add_row(r.name, f"{r.vocab_size:,}", f"{r.bytes_per_token:.3f}", str(r.prompt_tokens),
                      str(r.new_tokens), f"{r.seconds:.3f}", f"{r.tokens_per_s:.1f}", f"{r.bytes_per_s:.1f}",
                      f"{r.predicted_speedup:.3f}x", f"{r.measured_speedup:.3f}x", f"{r.error:+.1%}",
                      f"{r.cpu_seconds:.3f}", f"{r.measured_speedup_cpu:.3f}x", f"{r.error_cpu:+.1%}")
        print_tables(t, console=console)
    for name, path in report.files.items():
        console.print(f"wrote {name}: {path}")
