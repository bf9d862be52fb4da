"""The paper's three levers as experiments: train a grid of tokenizers, compare them on one held-out split.

* ``vocab``: vocabulary sizes (the paper: 10k..256k, docs/paper.md §5.3); NSL against V per domain is fitted with
  ``a + b exp(-V/c)`` and with the power law ``a + b (V/1k)^-c`` (:func:`toksmith.analysis.metrics.fit_saturating`);
* ``preset``: pre-tokenization regexes (gpt4, gpt4-num2, punct, punct-num2, identity, gpt2; docs/paper.md §3; paper Table 2);
* ``mix``: training-data shares of code / English / multilingual (docs/paper.md §5.2; paper §2.3, Fig. 2), written ``code=0.7+english=0.3``.

Every grid point is a ``TrainConfig`` that differs from the base config in one field. Its tokenizer is cached at
``<out>/tokenizers/<config_hash>/`` (hash of the full TrainConfig, corpus included), so a repeated or extended
sweep trains only the new points. A vocab sweep trains only its largest size: greedy BPE learns merges in the
same order whatever the target size, so every smaller vocabulary is a prefix of the largest (:func:`truncated`,
checked against direct training in the tests). All points are compared on the same evaluation texts: the
held-out split of the base corpus (it is chosen by content hash, so it does not move with the mix), or
``eval_corpus``.

Limits: points are trained one after another (each trainer already uses all cores); the prefix shortcut applies
to split presets only (identity tokenizers load through HF and are trained once per size); the default backend is
toksmith's native trainer (see ``DEFAULT_SWEEP_BACKEND``), pass ``backend="hf"`` for the paper's.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import atomic_write_json, atomic_write_text, config_hash
from ..bpe import TrainConfig
from ..config import to_dict
from ..errors import ToksmithError, unknown_name
from ..references import BASELINE
from .compare import CompareResult, compare, csv_text, write_result
from .metrics import FIT_FORMS, SaturatingFit, fit_saturating

log = logging.getLogger(__name__)

LEVERS = ("vocab", "preset", "mix")
# Defaults small enough for the embedded corpus on 2 cores in a few minutes; --paper-grid gives the paper's.
DEFAULT_GRID = {
    "vocab": ("4k", "8k", "16k", "32k"),
    "preset": ("gpt4", "gpt4-num2", "punct", "punct-num2", "identity", "gpt2"),
    "mix": ("code=1.0", "code=0.7+english=0.3", "code=0.34+english=0.33+multilingual=0.33", "english=0.5+multilingual=0.5"),
}
PAPER_GRID = {
    "vocab": ("10k", "16k", "24k", "32k", "48k", "64k", "80k", "100k", "128k", "200k", "256k"),
    "preset": DEFAULT_GRID["preset"],
    "mix": ("code=1.0", "code=0.7+english=0.3", "code=0.5+english=0.5", "code=0.34+english=0.33+multilingual=0.33",
            "code=0.5+multilingual=0.5", "english=1.0"),
}
DEFAULT_SWEEP_CHARS = 5_000_000  # least training characters per tokenizer for the default sweep
# The most merges the first C characters of the default corpus support (GPT-4 preset, max token length 128, min
# frequency 2), measured by bench/sweep_budget.py (output: bench/sweep_budget.json): 16.7k at 1M, 47.0k at 5M,
# 72.5k at 10M, 110.9k at 20M, 165.3k at 40M; fit merges = 2.844 * C ** 0.6282, within 3% of every point. The
# default budget is sized from it for the largest vocabulary asked, with a margin of BUDGET_MARGIN.
BUDGET_FIT = (2.844, 0.6282)
BUDGET_MARGIN = 1.25
# The embedded corpus runs dry near 55M characters; 80M gave 194k merges at most (bench/sweep_budget.py --mb 80).
DEFAULT_CORPUS_MAX_MERGES = 190_000
DEFAULT_SWEEP_VOCAB = 16_000  # base vocabulary for the preset and mix levers on the small default corpus
# toksmith's native trainer: same algorithm as the paper's HF trainer (they differ only on ties), measured 6x
# faster with the gpt4 preset (1.3 s vs 8.1 s, 5M chars, 16k) and 12x with identity (6 s vs 71 s, 1M chars, 4k).
DEFAULT_SWEEP_BACKEND = "toksmith"


def default_sweep_chars(n_merges: int) -> int:
    """Training characters of the default corpus that give ``n_merges`` merges with a margin (whole millions).

    ``chars = (BUDGET_MARGIN * n_merges / k) ** (1 / alpha)`` with ``(k, alpha) = BUDGET_FIT``, at least
    ``DEFAULT_SWEEP_CHARS``.

    >>> default_sweep_chars(16_000 - 262), default_sweep_chars(100_000 - 262)
    (5000000, 25000000)
    """
    k, alpha = BUDGET_FIT
    need = (BUDGET_MARGIN * n_merges / k) ** (1.0 / alpha)
    return max(DEFAULT_SWEEP_CHARS, int(math.ceil(need / 1e6)) * 1_000_000)


def parse_vocab(value: str) -> int:
    """``"16k"`` -> 16000, ``"32000"`` and ``"32_000"`` -> 32000."""
    from ..config import parse_size

    try:
        v = parse_size(value, "sweep value")
    except ToksmithError:
        raise ToksmithError(f"sweep value {value!r} is not a vocabulary size (write 32000 or 32k)") from None
    if v < 300:
        raise ToksmithError(f"sweep vocabulary size {value!r} is too small (at least 300: specials + 256 bytes)")
    return v


def parse_mix(value: str) -> dict[str, float]:
    """``"code=0.7+english=0.3"`` -> ``{"code": 0.7, "english": 0.3}`` (shares must sum to 1)."""
    mix = {}
    for part in value.split("+"):
        name, sep, share = part.partition("=")
        try:
            mix[name.strip()] = float(share)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ToksmithError(f"sweep mix {value!r}: write domain=share joined by '+', e.g. code=0.7+english=0.3")
    if abs(sum(mix.values()) - 1.0) > 1e-6:
        raise ToksmithError(f"sweep mix {value!r}: shares sum to {sum(mix.values()):g}, not 1")
    return mix


@dataclass(frozen=True)
class SweepConfig:
    """One lever, its grid, the base training config, and where the results go."""

    lever: str  # "vocab" | "preset" | "mix"
    values: tuple[str, ...]  # the grid, as written on the command line
    base: TrainConfig  # every point is this config with one field changed; base.corpus is the training corpus
    eval_corpus: str | None = None  # None = the held-out split of base.corpus
    baseline: str = BASELINE
    out_dir: Path = Path("runs/sweep")
    num_threads: int | None = None
    derive_prefixes: bool = True  # vocab lever: train the largest size once, take smaller ones as its prefixes

    def __post_init__(self):
        if not isinstance(self.base, TrainConfig):
            raise ToksmithError(f"SweepConfig.base must be a TrainConfig, got {type(self.base).__name__}")
        if self.base.corpus is None:
            from .heldout import default_corpus_config

            object.__setattr__(self, "base", dataclasses.replace(self.base, corpus=default_corpus_config()))
        if self.lever not in LEVERS:
            raise unknown_name("sweep lever", self.lever, LEVERS)
        if not self.values:
            raise ToksmithError("SweepConfig.values: give at least one grid value")
        if len(set(self.values)) != len(self.values):
            raise ToksmithError(f"SweepConfig.values has duplicates: {self.values}")
        if self.lever == "vocab" and len(self.values) < 3:
            log.warning("a vocab sweep with fewer than 3 sizes gets no curve fit")
        for v in self.values:  # fail on a bad value before training anything
            self.point_config(v)

    def point_config(self, value: str):
        """The TrainConfig of one grid point: the base with one field changed."""
        base = self.base
        if self.lever == "vocab":
            return dataclasses.replace(base, vocab_size=parse_vocab(value))
        if self.lever == "preset":
            from ..pretokenize import PRESETS

            if value not in PRESETS:
                raise unknown_name("pre-tokenization preset", value, PRESETS)
            return dataclasses.replace(base, preset=value)
        return dataclasses.replace(base, corpus=dataclasses.replace(base.corpus, mix=parse_mix(value)))

    @classmethod
    def build(cls, lever: str, values: str | None = None, base_config: Path | None = None,
              corpus_chars: int | None = None, vocab_size: int | None = None, eval_corpus: str | None = None,
              baseline: str = BASELINE, out_dir: Path = Path("runs/sweep"), paper_grid: bool = False,
              backend: str | None = None) -> SweepConfig:
        """From CLI options: a grid (given, the default or the paper's) and a base TrainConfig (file or default)."""
        from ..config import from_dict, load_config
        from .heldout import default_corpus_config

        if lever not in LEVERS:
            raise unknown_name("sweep lever", lever, LEVERS)
        grid = tuple(v.strip() for v in values.split(",") if v.strip()) if values else (
            PAPER_GRID if paper_grid else DEFAULT_GRID)[lever]
        if base_config is not None:
            text = Path(base_config).read_text(encoding="utf-8") if Path(base_config).is_file() else ""
            section = "train" if "[train]" in text or '"train"' in text else None
            base = load_config(TrainConfig, base_config, section=section)
        else:
            base = from_dict(TrainConfig, {"vocab_size": DEFAULT_SWEEP_VOCAB, "backend": DEFAULT_SWEEP_BACKEND})
        if backend is not None:
            base = dataclasses.replace(base, backend=backend)
        if vocab_size is not None:
            base = dataclasses.replace(base, vocab_size=vocab_size)
        if base.corpus is None and corpus_chars is None:
            largest = max([parse_vocab(v) for v in grid] if lever == "vocab" else [base.vocab_size])
            n_merges = dataclasses.replace(base, vocab_size=largest).n_merges
            if n_merges > DEFAULT_CORPUS_MAX_MERGES:
                raise ToksmithError(
                    f"V={largest:,} needs {n_merges:,} merges; the embedded default corpus supports about "
                    f"{DEFAULT_CORPUS_MAX_MERGES:,} (bench/sweep_budget.json): drop the larger sizes or pass "
                    "--config with a TrainConfig whose corpus is larger")
            corpus_chars = default_sweep_chars(n_merges)
            if corpus_chars > DEFAULT_SWEEP_CHARS:
                log.info("default budget %s chars per tokenizer: V=%s needs %s merges (bench/sweep_budget.json)",
                         f"{corpus_chars:,}", f"{largest:,}", f"{n_merges:,}")
        if base.corpus is None or corpus_chars is not None:
            chars = corpus_chars or base.corpus.total_chars
            corpus = default_corpus_config(total_chars=chars) if base.corpus is None else dataclasses.replace(
                base.corpus, total_chars=chars)
            base = dataclasses.replace(base, corpus=corpus)
        return cls(lever=lever, values=grid, base=base, eval_corpus=eval_corpus, baseline=baseline, out_dir=out_dir)


@dataclass(frozen=True)
class SweepPoint:
    value: str
    label: str
    config_hash: str
    tokenizer_dir: str
    reused: bool  # found in the cache (or derived from a cached tokenizer), not trained in this run
    train_seconds: float
    derived_from: str | None = None  # vocab lever: config hash of the larger tokenizer this is a prefix of


@dataclass(frozen=True)
class SweepResult:
    lever: str
    points: tuple[SweepPoint, ...]
    compare: CompareResult
    fits: dict[str, tuple[SaturatingFit, ...]]  # vocab lever: domain (and "avg") -> one fit per form

    def nsl(self, point: SweepPoint) -> dict[str, float]:
        return self.compare.summary(point.label).nsl


def _label(lever: str, value: str) -> str:
    if lever == "vocab":
        return f"V={parse_vocab(value) // 1000}k" if parse_vocab(value) % 1000 == 0 else f"V={parse_vocab(value)}"
    if lever == "mix":  # "c70/e30"; full domain names when two share an initial
        mix = parse_mix(value)
        short = len({d[0] for d in mix}) == len(mix)
        return "/".join(f"{d[0] if short else d}{round(s * 100)}" for d, s in mix.items())
    return value


def train_point(train_cfg, cache_root: Path) -> tuple[Path, bool, float]:
    """Train one grid point into ``cache_root/<config_hash>/`` unless it is already there."""
    from ..bpe import train_tokenizer
    from ..tokenizer import MANIFEST_FILE

    h = config_hash(to_dict(train_cfg))
    out = cache_root / h
    if (out / MANIFEST_FILE).is_file():
        log.info("reusing cached tokenizer %s", out)
        return out, True, 0.0
    t0 = time.perf_counter()
    train_tokenizer(train_cfg, out)
    return out, False, time.perf_counter() - t0


def truncated(tok, vocab_size: int, name: str):
    """The first ``vocab_size`` ids of a trained tiktoken-backed tokenizer, as a tokenizer of its own.

    Greedy BPE is a prefix process: the merges learned for a vocabulary of V are the first merges learned for
    any larger one on the same data and settings (tested in ``tests/analysis/test_sweep.py``), so one training
    run at the largest size serves every smaller size of a vocab sweep.
    """
    from ..tokenizer import TiktokenTokenizer

    if not isinstance(tok, TiktokenTokenizer) or tok.pattern is None:
        return None
    ranks = {b: r for b, r in tok.mergeable_ranks.items() if r < vocab_size}
    specials = {s: i for s, i in tok.special_tokens.items() if i < vocab_size}
    return TiktokenTokenizer(name, pattern=tok.pattern, mergeable_ranks=ranks, special_tokens=specials)


def fit_vocab_curves(sizes: list[int], nsl: dict[str, list[float]]) -> dict[str, tuple[SaturatingFit, ...]]:
    """Both curve forms for every domain, where there are at least 3 sizes."""
    if len(sizes) < 3:
        return {}
    return {d: tuple(fit_saturating(sizes, ys, form=f) for f in FIT_FORMS) for d, ys in nsl.items()}


def run_sweep(cfg: SweepConfig) -> SweepResult:
    """Train (or reuse) every grid point, compare all on the same split, fit, write tables and plots."""
    from ..references import load_tokenizer
    from .heldout import heldout_from_config, load_heldout

    out = Path(cfg.out_dir)
    data = load_heldout(cfg.eval_corpus) if cfg.eval_corpus else heldout_from_config(cfg.base.corpus)
    points, toks = [], []
    largest = None  # vocab lever: (path, tokenizer) of the largest size, trained first, truncated for the rest
    order = sorted(cfg.values, key=parse_vocab, reverse=True) if cfg.lever == "vocab" else list(cfg.values)
    for i, value in enumerate(order, 1):
        train_cfg = cfg.point_config(value)
        label = _label(cfg.lever, value)
        tok = truncated(largest[1], train_cfg.vocab_size, label) if largest and cfg.derive_prefixes else None
        if tok is not None:
            log.info("sweep %s point %d/%d: %s, the first %d ids of %s", cfg.lever, i, len(order), label,
                     train_cfg.vocab_size, largest[0].name)
            point = SweepPoint(value, label, config_hash(to_dict(train_cfg)), str(largest[0]), True, 0.0,
                               derived_from=largest[0].name)
        else:
            log.info("sweep %s point %d/%d: %s", cfg.lever, i, len(order), label)
            path, reused, seconds = train_point(train_cfg, out / "tokenizers")
            tok = load_tokenizer(path)
            if cfg.lever == "vocab" and largest is None:
                largest = (path, tok)
            tok.name = label
            point = SweepPoint(value, label, path.name, str(path), reused, round(seconds, 2))
        toks.append(tok)
        points.append(point)
    if cfg.lever == "vocab":  # report in ascending size
        pairs = sorted(zip(points, toks), key=lambda pt: parse_vocab(pt[0].value))
        points, toks = [p for p, _ in pairs], [t for _, t in pairs]
    result_cmp = compare(toks, data, baseline=cfg.baseline, num_threads=cfg.num_threads,
                         corpus_name=cfg.eval_corpus or "held-out split of the training corpus", progress=True)
    groups = ["avg", *result_cmp.domains]
    nsl = {g: [result_cmp.summary(p.label).nsl[g] for p in points] for g in groups}
    fits = fit_vocab_curves([parse_vocab(p.value) for p in points], nsl) if cfg.lever == "vocab" else {}
    result = SweepResult(cfg.lever, tuple(points), result_cmp, fits)
    _write(result, cfg, out)
    return result


def sweep_records(result: SweepResult) -> list[dict]:
    rows = []
    for p in result.points:
        s = result.compare.summary(p.label)
        rec = {"label": p.label, "value": p.value, "vocab_size": s.vocab_size, "nsl_avg": round(s.nsl["avg"], 4)}
        rec.update({f"nsl_{d}": round(s.nsl[d], 4) for d in result.compare.domains})
        rec.update({"renyi_avg": round(s.renyi["avg"], 4), "bytes_per_token_avg": round(s.bytes_per_token["avg"], 4),
                    "vocab_share": round(s.vocab_share, 4), "config_hash": p.config_hash, "reused": p.reused,
                    "derived_from": p.derived_from or "", "train_seconds": p.train_seconds})
        rows.append(rec)
    return rows


def _write(result: SweepResult, cfg: SweepConfig, out: Path) -> None:
    from .plots import plot_categorical_sweep, plot_vocab_sweep

    write_result(result.compare, out / "compare", cfg)
    records = sweep_records(result)
    atomic_write_text(out / "sweep.csv", csv_text(records))
    fits = {d: [dataclasses.asdict(f) for f in fs] for d, fs in result.fits.items()}
    atomic_write_json(out / "sweep.json", {"config": to_dict(cfg), "points": records, "fits": fits})
    groups = ["avg", *result.compare.domains]
    nsl = {g: [result.nsl(p)[g] for p in result.points] for g in groups}
    if cfg.lever == "vocab":
        sizes = [parse_vocab(p.value) for p in result.points]
        plot_vocab_sweep(sizes, nsl, result.fits, out / "nsl_vs_vocab.png", cfg.baseline)
    else:
        plot_categorical_sweep([p.label for p in result.points], nsl, out / f"nsl_per_{cfg.lever}.png",
                               cfg.baseline, cfg.lever)


def sweep_table(result: SweepResult) -> list:
    """Rich tables: NSL per grid point and domain; for the vocab lever, the fitted curves."""
    from rich.table import Table

    domains = result.compare.domains
    t = Table(title=f"{result.lever} sweep: NSL vs {result.compare.baseline}")
    for col in ("point", "vocab", "Avg", *domains, "Rényi2.5", "cached"):
        t.add_column(col, justify="left" if col == "point" else "right", no_wrap=col == "point")
    for r in sweep_records(result):
        t.add_row(r["label"], f"{r['vocab_size']:,}", f"{r['nsl_avg']:.3f}", *(f"{r[f'nsl_{d}']:.3f}" for d in domains),
                  f"{r['renyi_avg']:.3f}", "prefix" if r["derived_from"] else "yes" if r["reused"] else f"{r['train_seconds']:.0f}s")
    tables = [t]
    if result.fits:
        f = Table(title="NSL(V) fits: exp a + b·exp(-V/c); power a + b·(V/1k)^-c")
        for col in ("domain", "form", "a", "b", "c", "RMSE"):
            f.add_column(col, justify="right" if col not in ("domain", "form") else "left")
        for d, fs in result.fits.items():
            for fit in fs:
                c = f"{fit.c / 1000:.1f}k" if fit.form == "exp" else f"{fit.c:.3f}"
                f.add_row(d, fit.form, f"{fit.a:.3f}", f"{fit.b:.3f}", c, f"{fit.rmse:.4f}")
        tables.append(f)
    return tables
