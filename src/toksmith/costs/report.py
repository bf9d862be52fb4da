"""``toksmith cost``: price vocabulary sizes for one or more models and find their optimal V.

:class:`CostConfig` says which models, which V to tabulate, and the workload (dtype, batch, sequence length,
attention context); :func:`run_cost` returns a :class:`CostReport` (one row per model and V, the two optima per
model) and, given ``out_dir``, writes ``cost.json``, ``cost_curves.png`` and ``optimal_v.png`` there.

The NSL curve is named by ``nsl``: ``paper-fit`` (default, docs/paper.md §5.3 fit), ``paper-points`` (the sweep
interpolated in log V), a JSON file (keys a, b, c and/or points), or ``tokenizers:NAME,NAME,...`` (NSL of real
tokenizers measured on the default code text against Llama 2, interpolated; three or more can be fitted with
``nsl_fit = true``). Formulas: :mod:`toksmith.costs.model`, :mod:`toksmith.costs.optimal`, docs/costs.md.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ToksmithError, check_fields
from . import model as M
from .nsl import (DEFAULT_BASELINE_BYTES_PER_TOKEN, PAPER_CODE_POINTS, Compression, NSLCurve, curve_from_tokenizers,
                  default_code_texts, load_curve, measure_tokenizers, paper_code_curve)
from .optimal import V_MAX, V_MIN, Optimum, inference_optimal_v, memory_optimal_v, plot_cost_curves, plot_optimum_trends
from .shapes import SHAPES, load_shape

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CostConfig:
    """What to price. Sequence lengths are in baseline (Llama 2) tokens of text unless ``seq_bytes`` is given."""

    models: tuple[str, ...] = tuple(k for k in SHAPES if k != "gpt2-xl")  # presets, config.json paths or dirs
    vocab_sizes: tuple[int, ...] = (32_000, 64_000, 128_000, 256_000)  # rows of the table
    nsl: str = "paper-fit"  # paper-fit | paper-points | FILE.json | tokenizers:a,b,c
    nsl_fit: bool = False  # with tokenizers:..., fit a + b exp(-V/c) instead of interpolating
    baseline_bytes_per_token: float = DEFAULT_BASELINE_BYTES_PER_TOKEN  # Llama 2 on code (nsl.py)
    dtype: str = "bf16"  # weights
    kv_dtype: str = "bf16"  # KV cache
    batch: int = 1  # sequences held in memory at once (memory optimum, KV column)
    seq_tokens: int = 4096  # per-sequence length for the KV cache, in baseline tokens of text
    seq_bytes: int = 0  # if > 0: per-sequence length in bytes (overrides seq_tokens via bpt_ref)
    n_ctx: int = 4096  # average attention context for FLOPs, in baseline tokens of text
    fixed_context: bool = False  # True: n_ctx is the same token count for every V (the notes' illustration)
    v_min: int = V_MIN  # search range of the optima
    v_max: int = V_MAX
    out_dir: str = ""  # write cost.json and the PNGs here ("" = nowhere)

    def __post_init__(self) -> None:
        check_fields(self, positive=("batch", "seq_tokens", "n_ctx", "v_min", "v_max", "baseline_bytes_per_token"),
                     seq_bytes=0)
        if self.v_min >= self.v_max:
            raise ToksmithError(f"CostConfig.v_min ({self.v_min}) must be below v_max ({self.v_max})")
        if not self.models:
            raise ToksmithError("CostConfig.models is empty; name at least one model (known presets: "
                                f"{', '.join(SHAPES)})")
        if any(v <= 0 for v in self.vocab_sizes):
            raise ToksmithError(f"CostConfig.vocab_sizes must be positive, got {self.vocab_sizes}")
        M.dtype_bytes(self.dtype), M.dtype_bytes(self.kv_dtype)

    @property
    def seq_ref_tokens(self) -> float:
        return self.seq_bytes / self.baseline_bytes_per_token if self.seq_bytes else float(self.seq_tokens)


def resolve_curve(spec: str, fit: bool = False) -> NSLCurve:
    """Turn :attr:`CostConfig.nsl` into a curve (see the module docstring)."""
    if spec == "paper-fit":
        return paper_code_curve()
    if spec == "paper-points":
        return NSLCurve("points", points=PAPER_CODE_POINTS,
                        source="paper code sweep points (docs/paper.md §5.3), log-V interp.")
    if spec.startswith("tokenizers:"):
        from ..references import BASELINE, load_reference
        from ..references import load_tokenizer

        names = [n for n in spec.split(":", 1)[1].split(",") if n]
        if len(names) < 2:
            raise ToksmithError(f"nsl {spec!r}: name at least two tokenizers, e.g. tokenizers:llama2,cl100k,o200k")
        measured = measure_tokenizers([load_tokenizer(n) for n in names], default_code_texts(),
                                      load_reference(BASELINE))
        return curve_from_tokenizers(measured, fit=fit)
    return load_curve(spec)


@dataclass(frozen=True)
class CostRow:
    model: str
    vocab_size: int
    nsl: float
    params: int
    vocab_params: int
    vocab_share: float
    weight_gb: float
    kv_gb: float
    logits_step_mb: float  # one decoding step for the batch, fp32
    gflops_per_token: float
    gflops_per_byte: float
    effective_context_kb: float
    relative_speed: float  # bytes/s vs the baseline tokenizer, compute-bound
    relative_speed_membound: float  # bytes/s vs the baseline tokenizer, memory-bandwidth-bound


@dataclass(frozen=True)
class ModelSummary:
    model: str
    params: int
    nonembedding_params: int
    own_vocab: int
    inference_optimum: Optimum
    memory_optimum: Optimum
    speed_at_inference_optimum: float  # relative bytes/s at V*_inf (vs the Llama 2 tokenizer)
    flops_saved_vs_32k: float  # 1 - FLOPs/byte(V*_inf) / FLOPs/byte(32k) on the same NSL curve (nan: 32k off it)
    memory_gb_at_own_vocab: float
    memory_gb_at_optimum: float


@dataclass(frozen=True)
class CostReport:
    config: CostConfig
    curve: NSLCurve
    rows: list[CostRow]
    summaries: list[ModelSummary]
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        """Plain, strict-JSON data: a value the curve cannot give (NaN: V outside its range) is ``null``."""
        lo, hi = self.curve.domain
        return _finite({"config": asdict(self.config), "curve": asdict(self.curve),
                        "valid_vocab_range": [lo, hi if math.isfinite(hi) else None],
                        "rows": [asdict(r) for r in self.rows], "summaries": [asdict(s) for s in self.summaries],
                        "files": self.files})


def _finite(obj):
    """NaN/inf floats -> None, recursively (cost.json is strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def cost_row(shape, V: int, comp: Compression, cfg: CostConfig) -> CostRow:
    nsl = float(comp.curve(V))
    return CostRow(
        model=shape.name, vocab_size=V, nsl=nsl, params=int(M.total_params(shape, V)),
        vocab_params=int(M.vocab_params(shape, V)), vocab_share=float(M.vocab_share(shape, V)),
        weight_gb=M.weight_bytes(shape, V, cfg.dtype) / 1e9,
        kv_gb=M.kv_cache_bytes(shape, cfg.batch, nsl * cfg.seq_ref_tokens, cfg.kv_dtype) / 1e9,
        logits_step_mb=M.logits_bytes(cfg.batch, 1, V) / 1e6,
        gflops_per_token=float(M.flops_per_token(shape, V, M.context_tokens(comp, V, cfg.n_ctx, cfg.fixed_context)))
        / 1e9,
        gflops_per_byte=float(M.flops_per_byte(shape, V, comp, cfg.n_ctx, cfg.fixed_context)) / 1e9,
        effective_context_kb=float(M.effective_context_bytes(shape, V, comp)) / 1e3,
        relative_speed=float(M.relative_speed(shape, V, comp, cfg.n_ctx, cfg.fixed_context)),
        relative_speed_membound=float(M.relative_speed_memory_bound(shape, V, comp, cfg.batch, cfg.n_ctx,
                                                                    cfg.dtype, cfg.kv_dtype)),
    )


def run_cost(cfg: CostConfig) -> CostReport:
    """Price every (model, V) of ``cfg``, find each model's optima, and write JSON + plots to ``cfg.out_dir``."""
    curve = resolve_curve(cfg.nsl, cfg.nsl_fit)
    comp = Compression(curve, cfg.baseline_bytes_per_token)
    shapes = [load_shape(m) for m in cfg.models]
    lo, hi = curve.domain
    if lo > cfg.v_max or hi < cfg.v_min:
        raise ToksmithError(
            f"the NSL curve covers V = {lo:,.0f}..{hi:,.0f}, outside the optimum search range {cfg.v_min:,}..{cfg.v_max:,}"
            f"; measure tokenizers inside that range or move it (--v-min/--v-max, CostConfig.v_min/v_max)")
    vocab = [v for v in cfg.vocab_sizes if lo <= v <= hi]
    if len(vocab) < len(cfg.vocab_sizes):
        log.warning("skipping V outside the NSL curve's range %.0f..%.0f: %s", lo, hi,
                    sorted(set(cfg.vocab_sizes) - set(vocab)))
    rows, summaries = [], []
    for s in shapes:
        rows += [cost_row(s, V, comp, cfg) for V in vocab]
        inf = inference_optimal_v(s, comp, cfg.n_ctx, cfg.fixed_context, cfg.v_min, cfg.v_max)
        mem = memory_optimal_v(s, comp, cfg.batch, cfg.seq_ref_tokens, cfg.dtype, cfg.kv_dtype, cfg.v_min, cfg.v_max)
        own = s.vocab_size if lo <= s.vocab_size <= hi else None
        fpb32 = M.flops_per_byte(s, 32_000, comp, cfg.n_ctx, cfg.fixed_context) if lo <= 32_000 <= hi else math.nan
        summaries.append(ModelSummary(
            model=s.name, params=int(M.total_params(s)), nonembedding_params=int(M.nonembedding_params(s)),
            own_vocab=s.vocab_size, inference_optimum=inf, memory_optimum=mem,
            speed_at_inference_optimum=float(M.relative_speed(s, inf.vocab_size, comp, cfg.n_ctx, cfg.fixed_context)),
            flops_saved_vs_32k=float(1 - inf.value / fpb32),
            memory_gb_at_own_vocab=float(M.inference_memory_bytes(s, own, comp, cfg.batch, cfg.seq_ref_tokens,
                                                                  cfg.dtype, cfg.kv_dtype)) / 1e9
            if own else float("nan"),
            memory_gb_at_optimum=mem.value / 1e9,
        ))
    files: dict[str, str] = {}
    if cfg.out_dir:
        files = write_cost_outputs(cfg, comp, shapes, rows, summaries)
    return CostReport(cfg, curve, rows, summaries, files)


def write_cost_outputs(cfg: CostConfig, comp: Compression, shapes, rows, summaries) -> dict[str, str]:
    from ..artifacts import atomic_write_json

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mem_model = next((s.name for s in shapes if s.name == "llama2-7b"), shapes[0].name)
    files = {
        "cost_curves": str(plot_cost_curves(shapes, comp, out / "cost_curves.png", cfg.n_ctx, cfg.fixed_context,
                                            mem_model, (1, 8, 64), cfg.seq_ref_tokens, cfg.dtype, cfg.kv_dtype,
                                            cfg.v_min, cfg.v_max)),
        "optimal_v": str(plot_optimum_trends(shapes, comp, out / "optimal_v.png", cfg.n_ctx,
                                             mem_model, cfg.dtype,
                                             cfg.kv_dtype, v_min=cfg.v_min, v_max=cfg.v_max)),
    }
    report = CostReport(cfg, comp.curve, rows, summaries, files)
    files["json"] = str(atomic_write_json(out / "cost.json", report.to_json(), strict=True))
    return files
