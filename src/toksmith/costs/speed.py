"""``toksmith speed``: measured generation speed of a real transformers causal LM at several vocabulary sizes.

What it does, with :class:`SpeedConfig`:

1. Builds a random-weight transformers model of a :class:`~toksmith.costs.shapes.ModelShape` (default: the
   SmolLM2-135M shape; weights do not change the speed), on CPU or CUDA (``device="auto"``).
2. V sweep: resizes its embeddings (``resize_token_embeddings``) to each V, times greedy generation of N new
   tokens after a P-token prompt (``generate(do_sample=False, min_new_tokens=N, max_new_tokens=N)``, one warm-up
   round, median of ``repeats`` rounds run round-robin over all jobs, fixed ``torch.set_num_threads``) and
   compares the measured time ratio t(V)/t(V0) with the ratio of the FLOPs model's
   :func:`~toksmith.costs.model.generation_flops`: ``error = predicted / measured - 1``. An affine fit
   ``t = t0 + F / R`` (per-run overhead t0, achieved FLOP/s R) is reported to explain the error.
3. Two (or more) real tokenizers: bytes/token of each on the same code text; the model resized to each
   tokenizer's V; the prompt is the same code text encoded by each; each generates the same amount of text
   (``gen_bytes / bytes_per_token`` tokens). Measured bytes/s = gen_bytes / time = tokens/s * bytes/token.

Limits: random weights, batch 1 by default, the CPU is shared with whatever else runs (hence the median);
the FLOPs model ignores per-step framework overhead, which dominates tiny models (the affine fit shows how much).
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ToksmithError, check_fields
from .model import generation_flops
from .nsl import DEFAULT_BASELINE_BYTES_PER_TOKEN, DEFAULT_CODE_FILES, bytes_per_token, default_code_texts
from .shapes import ModelShape, hf_config_dict, load_shape

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeedConfig:
    model: str | ModelShape = "smollm2-135m"  # preset, config.json, model dir or a shape (random weights)
    vocab_sizes: tuple[int, ...] = (16_000, 32_000, 64_000, 128_000)
    tokenizers: tuple[str, ...] = ("llama2", "cl100k")  # each timed at its own V on the same code text
    prompt_tokens: int = 64  # V sweep: prompt length (random ids)
    new_tokens: int = 64  # V sweep: tokens generated per run
    prompt_bytes: int = 512  # tokenizer runs: prompt = this many bytes of the code text
    gen_bytes: int = 512  # tokenizer runs: generate this much text (gen_bytes / bytes_per_token tokens)
    code_files: tuple[str, ...] = DEFAULT_CODE_FILES  # bytes/token text: stdlib-relative or absolute paths
    nsl: str = "paper-fit"  # V sweep: bytes/token of a V-token tokenizer = bpt_ref / NSL(V) (see report.resolve_curve)
    baseline_bytes_per_token: float = DEFAULT_BASELINE_BYTES_PER_TOKEN
    batch: int = 1
    repeats: int = 3  # timed runs after one warm-up; the median is reported
    threads: int = 0  # torch.set_num_threads; 0 = min(4, cpu count)
    device: str = "auto"  # auto | cpu | cuda
    dtype: str = "auto"  # auto (fp32 on CPU, bf16 on CUDA) | fp32 | bf16 | fp16
    seed: int = 0
    out_dir: str = ""  # speed.json + speed.png here

    def __post_init__(self) -> None:
        check_fields(self, positive=("prompt_tokens", "new_tokens", "prompt_bytes", "gen_bytes", "batch", "repeats"))
        if self.new_tokens < 2:
            raise ToksmithError("SpeedConfig.new_tokens must be >= 2 (one prefill plus decoding steps)")
        if not self.vocab_sizes or any(v < 2 for v in self.vocab_sizes):
            raise ToksmithError(f"SpeedConfig.vocab_sizes must be sizes >= 2, got {self.vocab_sizes}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ToksmithError(f"SpeedConfig.device must be auto, cpu or cuda, got {self.device!r}")
        if self.dtype not in ("auto", "fp32", "bf16", "fp16"):
            raise ToksmithError(f"SpeedConfig.dtype must be auto, fp32, bf16 or fp16, got {self.dtype!r}")


@dataclass(frozen=True)
class VocabTiming:
    vocab_size: int
    seconds: float  # median wall time of one generate() call
    tokens_per_s: float  # batch * new tokens / seconds
    bytes_per_token: float  # of a tokenizer of this V on code: bpt_ref / NSL(V) (SpeedConfig.nsl curve)
    bytes_per_s: float  # tokens_per_s * bytes_per_token
    gflops: float  # predicted FLOPs of the call (model.generation_flops)
    predicted_ratio: float  # gflops / gflops(V0)
    measured_ratio: float  # seconds / seconds(V0)
    error: float  # predicted_ratio / measured_ratio - 1
    cpu_seconds: float  # median process CPU time of the call (on a shared CPU: the work, without waiting)
    measured_ratio_cpu: float
    error_cpu: float  # predicted_ratio / measured_ratio_cpu - 1


@dataclass(frozen=True)
class TokenizerTiming:
    name: str
    vocab_size: int
    bytes_per_token: float
    prompt_tokens: int
    new_tokens: int
    seconds: float
    tokens_per_s: float
    bytes_per_s: float  # batch * gen_bytes / seconds
    predicted_speedup: float  # bytes/s vs the first tokenizer, predicted from FLOPs
    measured_speedup: float  # bytes/s vs the first tokenizer, measured (wall clock)
    error: float
    cpu_seconds: float
    bytes_per_cpu_s: float
    measured_speedup_cpu: float
    error_cpu: float


@dataclass(frozen=True)
class SpeedReport:
    config: SpeedConfig
    device: str
    dtype: str
    threads: int
    shape: ModelShape
    vocab: list[VocabTiming]
    tokenizers: list[TokenizerTiming]
    overhead_s: float  # t0 of the affine fit t = t0 + F / R over the V sweep (CPU time on CPU, wall on CUDA)
    achieved_gflops_per_s: float  # R
    files: dict[str, str]

    def to_json(self) -> dict:
        return asdict(self)


def _device_dtype(cfg: SpeedConfig):
    import torch

    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ToksmithError("SpeedConfig.device is cuda but torch sees no CUDA device; use --device cpu")
    name = cfg.dtype if cfg.dtype != "auto" else ("bf16" if device == "cuda" else "fp32")
    return device, name, {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def build_model(shape: ModelShape, vocab_size: int, device: str, dtype, seed: int = 0,
                attn_implementation: str | None = None):
    """A random-weight transformers causal LM with ``shape`` and ``vocab_size`` (eval mode, on ``device``).

    ``attn_implementation``: transformers' choice by default (SDPA); ``"eager"`` makes attention plain matmuls,
    which torch's FlopCounterMode counts (its CPU flash-attention kernel is not counted)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = dict(hf_config_dict(shape, vocab_size))
    model_type = cfg.pop("model_type")
    config = AutoConfig.for_model(model_type, **cfg, bos_token_id=None, eos_token_id=None, pad_token_id=0)
    if attn_implementation:
        config._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model.eval()


def _generate_once(model, input_ids, new_tokens: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one greedy ``generate`` of exactly ``new_tokens`` tokens."""
    import torch

    kw = dict(attention_mask=torch.ones_like(input_ids), do_sample=False, min_new_tokens=new_tokens,
              max_new_tokens=new_tokens, use_cache=True)
    with torch.inference_mode():
        if input_ids.is_cuda:
            torch.cuda.synchronize()
        t, c = time.perf_counter(), time.process_time()
        out = model.generate(input_ids, **kw)
        if input_ids.is_cuda:
            torch.cuda.synchronize()
        sec, cpu = time.perf_counter() - t, time.process_time() - c
    if out.shape[1] != input_ids.shape[1] + new_tokens:
        raise RuntimeError(f"generate returned {out.shape[1] - input_ids.shape[1]} tokens, not {new_tokens}")
    return sec, cpu


@dataclass(frozen=True)
class _Job:
    label: str
    vocab_size: int
    input_ids: object  # torch tensor (batch, prompt)
    new_tokens: int


def time_jobs(model, jobs: list[_Job], repeats: int) -> list[list[tuple[float, float]]]:
    """(wall, CPU) seconds of every job ``repeats`` times, round-robin (job order reversed every other round), after
    one warm-up round, resizing the model's embeddings to each job's V before it. On a shared machine, interleaving
    spreads load changes over all jobs instead of biasing the ones that happened to run during a busy spell."""
    times: list[list[tuple[float, float]]] = [[] for _ in jobs]
    for r in range(repeats + 1):
        order = list(range(len(jobs)))[:: -1 if r % 2 else 1]
        for i in order:
            job = jobs[i]
            model.resize_token_embeddings(job.vocab_size, mean_resizing=False)
            sec, cpu = _generate_once(model, job.input_ids, job.new_tokens)
            if r:
                times[i].append((sec, cpu))
            log.info("round %d/%d %s: %.3f s (CPU %.3f s) for %d tokens", r, repeats, job.label, sec, cpu,
                     job.new_tokens)
    return times


def _affine_fit(flops: list[float], seconds: list[float]) -> tuple[float, float]:
    """Least squares ``t = t0 + F / R``; returns (t0, R in FLOP/s)."""
    import numpy as np

    slope, t0 = np.polyfit(np.array(flops), np.array(seconds), 1)
    return float(t0), float(1 / slope) if slope > 0 else float("inf")


def run_speed(cfg: SpeedConfig) -> SpeedReport:
    """Measure the V sweep and the tokenizer comparison (see the module docstring); write JSON + PNG."""
    import torch

    from ..references import load_tokenizer
    from .report import resolve_curve

    shape = load_shape(cfg.model)
    device, dtype_name, dtype = _device_dtype(cfg)
    threads = cfg.threads or min(4, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    sizes = sorted(set(cfg.vocab_sizes))
    gen = torch.Generator().manual_seed(cfg.seed)
    ids = torch.randint(0, sizes[0], (cfg.batch, cfg.prompt_tokens), generator=gen).to(device)
    jobs = [_Job(f"V={V}", V, ids, cfg.new_tokens) for V in sizes]
    tok_info = []
    if cfg.tokenizers:
        texts = default_code_texts(cfg.code_files)
        prompt_text = texts[0].encode("utf-8")[: cfg.prompt_bytes].decode("utf-8", errors="ignore")
        for name in cfg.tokenizers:
            tok = load_tokenizer(name)
            bpt = bytes_per_token(tok, texts)
            prompt = tok.encode(prompt_text)
            n_new = max(2, round(cfg.gen_bytes / bpt))
            tok_info.append((tok.name, bpt, len(prompt)))
            jobs.append(_Job(f"{tok.name} (V={tok.vocab_size}, {bpt:.2f} B/token)", int(tok.vocab_size),
                             torch.tensor([prompt] * cfg.batch, device=device), n_new))
    model = build_model(shape, sizes[0], device, dtype, cfg.seed)
    measured = time_jobs(model, jobs, cfg.repeats)
    times = [statistics.median(w for w, _ in t) for t in measured]
    cpu = [statistics.median(c for _, c in t) for t in measured]
    n = len(sizes)
    flops = [cfg.batch * generation_flops(shape, j.vocab_size, j.input_ids.shape[1], j.new_tokens) for j in jobs]
    s0, f0 = times[0], flops[0]
    curve = resolve_curve(cfg.nsl)
    vocab = []
    for j, s, c, f in zip(jobs[:n], times[:n], cpu[:n], flops[:n]):
        bpt = cfg.baseline_bytes_per_token / curve(j.vocab_size) if curve.domain[0] <= j.vocab_size <= curve.domain[1] \
            else float("nan")
        tps = cfg.batch * j.new_tokens / s
        vocab.append(VocabTiming(j.vocab_size, s, tps, bpt, tps * bpt, f / 1e9, f / f0, s / s0,
                                 (f / f0) / (s / s0) - 1, c, c / cpu[0], (f / f0) / (c / cpu[0]) - 1))
    # two points fit any line exactly: the overhead estimate needs three or more vocabulary sizes
    t0, rate = _affine_fit(flops[:n], cpu[:n] if device == "cpu" else times[:n]) if n > 2 else (math.nan, math.nan)
    tok_rows = []
    for (name, bpt, P), j, s, c, f in zip(tok_info, jobs[n:], times[n:], cpu[n:], flops[n:]):
        pred, meas, meas_cpu = flops[n] / f, times[n] / s, cpu[n] / c
        tok_rows.append(TokenizerTiming(name, j.vocab_size, bpt, P, j.new_tokens, s, cfg.batch * j.new_tokens / s,
                                        cfg.batch * cfg.gen_bytes / s, pred, meas, pred / meas - 1, c,
                                        cfg.batch * cfg.gen_bytes / c, meas_cpu, pred / meas_cpu - 1))
    report = SpeedReport(cfg, device, dtype_name, threads, shape, vocab, tok_rows, t0, rate / 1e9, {})
    if cfg.out_dir:
        report = write_speed_outputs(report)
    return report


def load_speed_report(path: str | Path) -> SpeedReport:
    """Read a ``speed.json`` written by :func:`run_speed` back into a :class:`SpeedReport` (e.g. to re-plot)."""
    import json

    from ..config import from_dict

    path = Path(path)
    if not path.is_file():
        raise ToksmithError(f"speed report {path} does not exist")
    return from_dict(SpeedReport, json.loads(path.read_text(encoding="utf-8")), where=str(path))


def plot_speed(report: SpeedReport, path: str | Path) -> Path:
    """Left: measured time ratios (wall, CPU) and the FLOPs prediction vs V. Right: bytes/s per tokenizer."""
    from ..artifacts import pyplot, save_figure

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    vs = [r.vocab_size for r in report.vocab]
    ax1.plot(vs, [r.measured_ratio for r in report.vocab], "o-", label="measured wall time t(V) / t(V0)")
    if report.device == "cpu":
        ax1.plot(vs, [r.measured_ratio_cpu for r in report.vocab], "^-", label="measured CPU time ratio")
    ax1.plot(vs, [r.predicted_ratio for r in report.vocab], "s--", label="FLOPs model F(V) / F(V0)")
    ax1.set_xscale("log")
    ax1.set_xticks(vs, [f"{v / 1000:g}k" for v in vs])
    ax1.minorticks_off()
    ax1.set_xlabel("vocabulary size V (log scale)")
    ax1.set_ylabel(f"time of generate() relative to V0 = {vs[0] / 1000:g}k")
    c = report.config
    ax1.set_title(f"{report.shape.name} ({report.device}, {report.dtype}, threads {report.threads}): "
                  f"{c.new_tokens} tokens after {c.prompt_tokens}", fontsize=9)
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)
    if report.tokenizers:
        names = [f"{t.name}\nV={t.vocab_size:,}\n{t.bytes_per_token:.2f} B/token" for t in report.tokenizers]
        ax2.bar(names, [t.bytes_per_s for t in report.tokenizers], color=["C0", "C1", "C2", "C3"][: len(names)])
        for i, t in enumerate(report.tokenizers):
            cpu = f", CPU x{t.measured_speedup_cpu:.2f}" if report.device == "cpu" else ""
            ax2.annotate(f"{t.bytes_per_s:.1f} B/s\nwall x{t.measured_speedup:.2f}{cpu}\n"
                         f"FLOPs model x{t.predicted_speedup:.2f}", (i, t.bytes_per_s), ha="center", va="bottom",
                         fontsize=8)
        ax2.set_ylabel("measured bytes of code generated per wall second")
        ax2.set_title(f"Same model shape, {c.gen_bytes} bytes of code per run", fontsize=9)
        ax2.set_ylim(0, max(t.bytes_per_s for t in report.tokenizers) * 1.35)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def write_speed_outputs(report: SpeedReport) -> SpeedReport:
    from dataclasses import replace

    from ..artifacts import atomic_write_json

    out = Path(report.config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"png": str(plot_speed(report, out / "speed.png")), "json": str(out / "speed.json")}
    report = replace(report, files=files)
    atomic_write_json(out / "speed.json", report.to_json())
    return report
