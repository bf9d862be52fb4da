"""Compare any number of tokenizers on the same evaluation texts: the paper's Table 1 and more.

:func:`compare` takes plain data (``{(domain, subset): [text, ...]}`` and tokenizer specs) and returns a
:class:`CompareResult`: one :class:`SubsetRow` per tokenizer and subset (NSL against the baseline, bytes/chars per
token, tokens per word, Rényi (alpha 2.5) and Shannon efficiency, vocabulary use) and one
:class:`TokenizerSummary` per tokenizer (the Table 1 domain averages, vocabulary use over the whole split, token
lengths, the longest tokens seen). :func:`run_compare` is the CLI's entry: it loads the corpus, compares and
writes ``subsets.csv``, ``summary.csv``, ``compare.json`` and one bar chart per domain, each file atomically.

References: docs/paper.md §4.1-4.3 (metric definitions, aggregation), 5.1 (Table 1).
Limits: every tokenizer encodes every text once; nothing is cached between runs.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artifacts import atomic_write_json, atomic_write_text
from ..config import to_dict
from ..errors import ToksmithError, check_fields
from ..progress import progress_bar
from ..references import BASELINE
from ..references import load_tokenizer
from ..tokenizer import TiktokenTokenizer, Tokenizer
from . import metrics
from .counting import TextStats, TokenCounts, count_tokens, subset_stats

log = logging.getLogger(__name__)

RENYI_ALPHA = 2.5  # the paper's notebook (docs/paper.md §4.2)


@dataclass(frozen=True)
class CompareConfig:
    """What ``toksmith compare`` runs."""

    tokenizers: tuple[str, ...]  # reference names, trained directories or tokenizer files
    baseline: str = BASELINE  # NSL = tokens / tokens under this tokenizer (the paper: Llama 2)
    corpus: str | None = None  # None = the embedded default held-out split; see toksmith.analysis.heldout
    out_dir: Path = Path("runs/compare")
    num_threads: int | None = None  # encoder threads; None = all cores
    batch_chars: int = 256_000  # characters per work chunk (bounds memory, keeps every thread busy)
    max_docs_per_subset: int | None = None  # cap per subset (the paper reads ~1,000)
    plots: bool = True
    pattern: str | None = None  # split pattern of a .tiktoken file with no pattern.txt: a regex, a file or a reference name

    def __post_init__(self):
        if not self.tokenizers:
            raise ToksmithError("CompareConfig.tokenizers: give at least one tokenizer (a name, directory or file)")
        check_fields(self, positive=["batch_chars"])
        if self.max_docs_per_subset is not None and self.max_docs_per_subset <= 0:
            raise ToksmithError(f"CompareConfig.max_docs_per_subset must be positive, got {self.max_docs_per_subset}")
        if self.num_threads is not None and self.num_threads <= 0:
            raise ToksmithError(f"CompareConfig.num_threads must be positive, got {self.num_threads}")


@dataclass(frozen=True)
class SubsetRow:
    """One tokenizer on one (domain, subset)."""

    tokenizer: str
    domain: str
    subset: str
    n_docs: int
    n_bytes: int
    n_chars: int
    n_words: int
    n_tokens: int
    nsl: float
    bytes_per_token: float
    chars_per_token: float
    tokens_per_word: float
    renyi: float
    shannon: float
    vocab_used: int
    vocab_share: float


@dataclass(frozen=True)
class TokenizerSummary:
    """One tokenizer over the whole split. Dict metrics map each domain and ``"avg"`` to the Table 1 aggregate."""

    tokenizer: str
    vocab_size: int
    nsl: dict[str, float]
    bytes_per_token: dict[str, float]
    chars_per_token: dict[str, float]
    tokens_per_word: dict[str, float]
    renyi: dict[str, float]
    shannon: dict[str, float]
    n_tokens: int
    vocab_used: int  # distinct ids seen anywhere in the split
    vocab_share: float
    mean_token_bytes_vocab: float  # unweighted over the non-special vocabulary
    mean_token_bytes_used: float  # weighted by frequency on the split
    longest_tokens: tuple[str, ...]  # longest tokens (by bytes) seen on the split, decoded with replacement


@dataclass(frozen=True)
class CompareResult:
    baseline: str
    corpus: str
    renyi_alpha: float
    domains: tuple[str, ...]
    rows: tuple[SubsetRow, ...]
    summaries: tuple[TokenizerSummary, ...]

    def summary(self, tokenizer: str) -> TokenizerSummary:
        for s in self.summaries:
            if s.tokenizer == tokenizer:
                return s
        raise ToksmithError(f"no tokenizer {tokenizer!r} in this result; have {[s.tokenizer for s in self.summaries]}")

    def to_dict(self) -> dict:
        return to_dict(self)


def _label(spec, tok: Tokenizer, seen: set[str]) -> str:
    """A unique display name: the tokenizer's name, or the spec, made unique with a suffix."""
    name = str(spec) if isinstance(spec, str) and not Path(spec).exists() else tok.name
    label, i = name, 2
    while label in seen:
        label, i = f"{name}#{i}", i + 1
    seen.add(label)
    return label


def _vocab_lengths(tok: Tokenizer) -> np.ndarray:
    """Byte length of every id (0 for special tokens and holes)."""
    special = set(tok.special_tokens.values())
    lengths = np.zeros(tok.vocab_size, dtype=np.int64)
    if isinstance(tok, TiktokenTokenizer):  # the ranks are the whole non-special vocabulary: no per-id calls
        ids = np.fromiter(tok.mergeable_ranks.values(), dtype=np.int64, count=len(tok.mergeable_ranks))
        lengths[ids] = np.fromiter(map(len, tok.mergeable_ranks), dtype=np.int64, count=len(tok.mergeable_ranks))
        return lengths
    for i in range(tok.vocab_size):
        if i not in special:
            try:
                lengths[i] = len(tok.token_bytes(i))
            except (KeyError, IndexError, ValueError):  # ids without a token (holes in some vocabularies)
                pass
    return lengths


def _summary(label: str, tok: Tokenizer, rows: list[SubsetRow], hist: np.ndarray, n_longest: int) -> TokenizerSummary:
    def agg(field: str) -> dict[str, float]:
        a = metrics.aggregate({(r.domain, r.subset): getattr(r, field) for r in rows})
        return {**a.domains, "avg": a.overall}

    lengths = _vocab_lengths(tok)
    if lengths.size < hist.size:
        lengths = np.concatenate([lengths, np.zeros(hist.size - lengths.size, dtype=np.int64)])
    used = np.flatnonzero(hist)
    real = lengths > 0
    longest = used[np.argsort(-lengths[used], kind="stable")][:n_longest]
    return TokenizerSummary(
        tokenizer=label,
        vocab_size=tok.vocab_size,
        nsl=agg("nsl"),
        bytes_per_token=agg("bytes_per_token"),
        chars_per_token=agg("chars_per_token"),
        tokens_per_word=agg("tokens_per_word"),
        renyi=agg("renyi"),
        shannon=agg("shannon"),
        n_tokens=int(hist.sum()),
        vocab_used=int(used.size),
        vocab_share=metrics.vocab_share(int(used.size), tok.vocab_size),
        mean_token_bytes_vocab=metrics.mean_token_length(lengths[real]) if real.any() else 0.0,
        mean_token_bytes_used=metrics.mean_token_length(lengths[used], hist[used]) if used.size else 0.0,
        longest_tokens=tuple(tok.token_bytes(int(i)).decode("utf-8", errors="replace") for i in longest),
    )


def _row(label: str, key: tuple[str, str], st: TextStats, tc: TokenCounts, ref_tokens: int, vocab: int) -> SubsetRow:
    where = f"{label} on {key[0]}/{key[1]}"
    if tc.n_tokens == 0:
        raise ToksmithError(f"{where}: the subset encodes to zero tokens; drop empty documents from the corpus")
    return SubsetRow(
        tokenizer=label, domain=key[0], subset=key[1], n_docs=st.n_docs, n_bytes=st.n_bytes, n_chars=st.n_chars,
        n_words=st.n_words, n_tokens=tc.n_tokens,
        nsl=metrics.nsl(tc.n_tokens, ref_tokens),
        bytes_per_token=metrics.bytes_per_token(st.n_bytes, tc.n_tokens),
        chars_per_token=metrics.chars_per_token(st.n_chars, tc.n_tokens),
        tokens_per_word=metrics.tokens_per_word(tc.n_tokens, st.n_words) if st.n_words else float("inf"),
        renyi=metrics.renyi_efficiency(tc.freqs, RENYI_ALPHA),
        shannon=metrics.shannon_efficiency(tc.freqs),
        vocab_used=tc.n_used,
        vocab_share=metrics.vocab_share(tc.n_used, vocab),
    )


def compare(
    tokenizers: Sequence[str | Path | Tokenizer],
    data: Mapping[tuple[str, str], Sequence[str]],
    *,
    baseline: str | Path | Tokenizer = BASELINE,
    num_threads: int | None = None,
    batch_chars: int = 256_000,
    corpus_name: str = "custom",
    n_longest: int = 10,
    progress: bool = False,
    pattern: str | None = None,
) -> CompareResult:
    """Measure ``tokenizers`` (and the baseline, always included first) on ``data``; see the module docstring."""
    data = {k: list(v) for k, v in data.items() if len(v)}
    if not data:
        raise ToksmithError("compare: the evaluation data is empty")
    stats = {k: subset_stats(v, where=f"{k[0]}/{k[1]}") for k, v in data.items()}
    keys = sorted(data, key=lambda k: (metrics.sort_domains({d for d, _ in data}).index(k[0]), k[1]))
    specs = [baseline] + [t for t in tokenizers if t != baseline]
    seen: set[str] = set()
    loaded = []
    for spec in specs:
        tok = load_tokenizer(spec, pattern=pattern)
        loaded.append((_label(spec, tok, seen), tok))
    total_work = len(loaded) * sum(st.n_chars for st in stats.values())
    ref_tokens: dict[tuple[str, str], int] = {}
    rows: list[SubsetRow] = []
    summaries: list[TokenizerSummary] = []
    with progress_bar(progress, "encoding", total=total_work) as advance:
        for label, tok in loaded:
            hist = np.zeros(tok.vocab_size, dtype=np.int64)
            tok_rows = []
            for key in keys:
                tc = count_tokens(tok, data[key], num_threads=num_threads, batch_chars=batch_chars)
                ref_tokens.setdefault(key, tc.n_tokens)  # the baseline runs first
                if tc.ids.size and tc.ids[-1] >= hist.size:
                    hist = np.concatenate([hist, np.zeros(int(tc.ids[-1]) + 1 - hist.size, dtype=np.int64)])
                hist[tc.ids] += tc.freqs
                tok_rows.append(_row(label, key, stats[key], tc, ref_tokens[key], tok.vocab_size))
                advance(stats[key].n_chars, f"{label} {key[0]}/{key[1]}")
            rows += tok_rows
            summaries.append(_summary(label, tok, tok_rows, hist, n_longest))
            log.info("%s: NSL %s", label, ", ".join(f"{d} {v:.3f}" for d, v in summaries[-1].nsl.items()))
    return CompareResult(
        baseline=loaded[0][0], corpus=corpus_name, renyi_alpha=RENYI_ALPHA,
        domains=tuple(metrics.sort_domains({d for d, _ in keys})), rows=tuple(rows), summaries=tuple(summaries),
    )


# ---- files --------------------------------------------------------------------------------------------------


def csv_text(rows: list[dict]) -> str:
    """Records with the same keys as CSV text (header from the first record)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def summary_records(result: CompareResult) -> list[dict]:
    """One flat record per tokenizer: vocab, NSL avg + per domain, the other metrics' Table 1 averages, vocab use."""
    out = []
    for s in result.summaries:
        rec: dict = {"tokenizer": s.tokenizer, "vocab_size": s.vocab_size, "nsl_avg": round(s.nsl["avg"], 4)}
        rec.update({f"nsl_{d}": round(s.nsl[d], 4) for d in result.domains})
        rec.update({"bytes_per_token_avg": round(s.bytes_per_token["avg"], 4),
                    "chars_per_token_avg": round(s.chars_per_token["avg"], 4),
                    "tokens_per_word_avg": round(s.tokens_per_word["avg"], 4), "renyi_avg": round(s.renyi["avg"], 4),
                    "shannon_avg": round(s.shannon["avg"], 4),
                    "n_tokens": s.n_tokens, "vocab_used": s.vocab_used, "vocab_share": round(s.vocab_share, 4),
                    "mean_token_bytes_vocab": round(s.mean_token_bytes_vocab, 3),
                    "mean_token_bytes_used": round(s.mean_token_bytes_used, 3)})
        out.append(rec)
    return out


def write_result(result: CompareResult, out_dir: str | Path, config=None, plots: bool = True) -> list[Path]:
    """Write ``subsets.csv``, ``summary.csv``, ``compare.json`` (+ config) and per-domain PNGs into ``out_dir``."""
    out = Path(out_dir)
    written = [
        atomic_write_text(out / "subsets.csv", csv_text([dataclasses.asdict(r) for r in result.rows])),
        atomic_write_text(out / "summary.csv", csv_text(summary_records(result))),
        atomic_write_json(out / "compare.json", {"config": to_dict(config) if config else None, **result.to_dict()}),
    ]
    if plots:
        from .plots import plot_compare

        written += plot_compare(result, out)
    return written


def run_compare(cfg: CompareConfig) -> CompareResult:
    """Load the corpus named by ``cfg``, compare, write the files; returns the result (the CLI prints it)."""
    from .heldout import load_heldout

    data = load_heldout(cfg.corpus, cfg.max_docs_per_subset)
    result = compare(
        cfg.tokenizers, data, baseline=cfg.baseline, num_threads=cfg.num_threads, batch_chars=cfg.batch_chars,
        corpus_name=cfg.corpus or "default held-out split", progress=True, pattern=cfg.pattern,
    )
    for path in write_result(result, cfg.out_dir, cfg, plots=cfg.plots):
        log.info("wrote %s", path)
    return result
