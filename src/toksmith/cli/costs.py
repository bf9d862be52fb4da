"""``toksmith cost`` (price vocabulary sizes, optimal V) and ``toksmith speed`` (measured generation speed)."""

from __future__ import annotations

from pathlib import Path

import math

import typer

from . import app
from .options import print_tables, sizes, split_list, tokenizer_name

_PRESETS_HELP = "model preset, config.json or model dir (repeat); default: all presets"


def _ints(text: str, what: str) -> tuple[int, ...]:
    return sizes(text, what)


def _nsl_spec(spec: str) -> str:
    """``tokenizers:gpt4,r50k`` -> ``tokenizers:cl100k,gpt2`` (the library's aliases); other specs unchanged."""
    if not spec.startswith("tokenizers:"):
        return spec
    return "tokenizers:" + ",".join(tokenizer_name(n) for n in split_list(spec.split(":", 1)[1]))


def _num(value: float, fmt: str) -> str:
    return format(value, fmt) if math.isfinite(value) else "n/a"


@app.command("cost")
def cost(
    model: list[str] = typer.Option([], "--model", "-m", help=_PRESETS_HELP),
    vocab: str = typer.Option("32k,64k,128k,256k", "--vocab", help="vocabulary sizes to tabulate"),
    nsl: str = typer.Option("paper-fit", help="NSL(V): paper-fit | paper-points | FILE.json | tokenizers:a,b,..."),
    nsl_fit: bool = typer.Option(False, help="with tokenizers:..., fit a+b*exp(-V/c) instead of interpolating"),
    bytes_per_token: float = typer.Option(0.0, help="baseline (Llama 2) bytes/token; 0 = measured default 3.58"),
    dtype: str = typer.Option("bf16", help="weight dtype"),
    kv_dtype: str = typer.Option("bf16", help="KV cache dtype"),
    batch: int = typer.Option(1, help="sequences in memory at once"),
    seq_tokens: int = typer.Option(4096, help="sequence length for the KV cache, in baseline tokens"),
    seq_bytes: int = typer.Option(0, help="sequence length in bytes (overrides --seq-tokens)"),
    n_ctx: int = typer.Option(4096, help="average attention context for FLOPs, in baseline tokens"),
    fixed_context: bool = typer.Option(False, help="keep n_ctx in tokens for every V (no NSL scaling)"),
    v_min: int = typer.Option(8000, help="lower end of the optimum search"),
    v_max: int = typer.Option(512000, help="upper end of the optimum search"),
    out: Path = typer.Option(Path("runs/cost"), "--out", "-o", help="directory for cost.json and the PNGs"),
) -> None:
    """Price vocabulary sizes for models: parameters, memory, KV cache, FLOPs per byte, speed, optimal V."""
    from ..costs.nsl import DEFAULT_BASELINE_BYTES_PER_TOKEN
    from ..costs.report import CostConfig, run_cost

    cfg = CostConfig(
        **({"models": tuple(split_list(model))} if model else {}), vocab_sizes=_ints(vocab, "--vocab"),
        nsl=_nsl_spec(nsl),
        nsl_fit=nsl_fit, baseline_bytes_per_token=bytes_per_token or DEFAULT_BASELINE_BYTES_PER_TOKEN,
        dtype=dtype, kv_dtype=kv_dtype, batch=batch, seq_tokens=seq_tokens, seq_bytes=seq_bytes, n_ctx=n_ctx,
        fixed_context=fixed_context, v_min=v_min, v_max=v_max, out_dir=str(out),
    )
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
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="shape preset, config.json or model dir"),
    vocab: str = typer.Option("16k,32k,64k,128k", "--vocab", help="vocabulary sizes of the sweep"),
    tokenizers: str = typer.Option("llama2,cl100k", help="tokenizers to compare on code text ('' = none)"),
    prompt_tokens: int = typer.Option(64, help="prompt length of the V sweep"),
    new_tokens: int = typer.Option(64, help="tokens generated per run in the V sweep"),
    prompt_bytes: int = typer.Option(512, help="prompt size (bytes of code) for the tokenizer runs"),
    gen_bytes: int = typer.Option(512, help="bytes of text generated per tokenizer run"),
    batch: int = typer.Option(1, help="batch size"),
    repeats: int = typer.Option(3, help="timed runs after one warm-up (median)"),
    threads: int = typer.Option(0, help="torch threads (0 = min(4, cores))"),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    dtype: str = typer.Option("auto", help="auto | fp32 | bf16 | fp16"),
    out: Path = typer.Option(Path("runs/speed"), "--out", "-o", help="directory for speed.json and speed.png"),
) -> None:
    """Time real generation at several vocabulary sizes and for real tokenizers; compare with the FLOPs model."""
    from ..costs.speed import SpeedConfig, run_speed

    cfg = SpeedConfig(
        model=model, vocab_sizes=_ints(vocab, "--vocab"),
        tokenizers=tuple(tokenizer_name(t) for t in split_list(tokenizers)), prompt_tokens=prompt_tokens,
        new_tokens=new_tokens, prompt_bytes=prompt_bytes, gen_bytes=gen_bytes, batch=batch, repeats=repeats,
        threads=threads, device=device, dtype=dtype, out_dir=str(out),
    )
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
