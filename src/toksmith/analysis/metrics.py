"""Compression and distribution metrics as pure functions over token counts.

Everything here takes plain numbers or arrays (no tokenizer, no I/O), so each formula can be checked by hand.

References: Dagan, Synnaeve & Rozière (ICML 2024) section 2.1 for NSL and the Table 1 aggregation
(docs/paper.md §4.1; paper §2.1); the authors' ``tokenizer-bench`` ``process_evals.ipynb`` for bytes/chars per token and Rényi
efficiency with alpha = 2.5, itself adapted from Zouhar et al. (2023) ``tokenization-scorer`` (docs/paper.md §4.2).

Definitions used throughout toksmith (stated once here):

* bytes = UTF-8 bytes of the *text* (not of the tokens); chars = ``len(text)`` (code points);
* words = ``len(text.split())``: runs of non-whitespace separated by Unicode whitespace;
* token counts never include BOS/EOS.

Limits: Rényi/Shannon efficiency are normalised by ``log2 |V_used|`` (distinct tokens observed), as in the
paper's code, so they are not comparable across corpora of very different sizes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ToksmithError

# Order in which domains are shown (the paper's Table 1 columns); other domains follow alphabetically.
DOMAIN_ORDER = ("code", "english", "multilingual")


def nsl(tokens: int, reference_tokens: int) -> float:
    """Normalized Sequence Length of one subset: ``NSL = sum_i |T(D_i)| / sum_i |T_ref(D_i)|``.

    The caller passes the two sums. Lower is better; 0.75 means 25% fewer tokens than the reference.

    >>> nsl(750, 1000)
    0.75
    """
    if reference_tokens <= 0:
        raise ToksmithError(f"NSL needs a positive reference token count, got {reference_tokens}; is the subset empty?")
    return tokens / reference_tokens


def ratio(numerator: float, denominator: float, what: str) -> float:
    """``numerator / denominator`` with an error naming the metric when the denominator is zero."""
    if denominator <= 0:
        raise ToksmithError(f"{what}: denominator is {denominator}; the subset has no text")
    return numerator / denominator


def bytes_per_token(n_bytes: int, n_tokens: int) -> float:
    """UTF-8 bytes of the text per token: ``bytes / tokens``. ``bytes_per_token(12, 4) == 3.0``."""
    return ratio(n_bytes, n_tokens, "bytes per token")


def chars_per_token(n_chars: int, n_tokens: int) -> float:
    """Characters (code points) per token: ``chars / tokens``. ``chars_per_token(10, 4) == 2.5``."""
    return ratio(n_chars, n_tokens, "chars per token")


def tokens_per_word(n_tokens: int, n_words: int) -> float:
    """Tokens per whitespace-separated word: ``tokens / words``. ``tokens_per_word(6, 4) == 1.5``."""
    return ratio(n_tokens, n_words, "tokens per word")


def text_stats(text: str) -> tuple[int, int, int]:
    """``(bytes, chars, words)`` of one text: UTF-8 bytes, code points, ``len(text.split())``.

    >>> text_stats("héllo wörld")
    (13, 11, 2)
    """
    return len(text.encode("utf-8")), len(text), len(text.split())


def _probabilities(counts) -> np.ndarray:
    c = np.asarray(list(counts.values()) if isinstance(counts, Mapping) else counts, dtype=np.float64)
    c = c[c > 0]
    if c.size == 0:
        raise ToksmithError("entropy efficiency needs at least one observed token; the counts are all zero")
    return c / c.sum()


def renyi_efficiency(counts, alpha: float = 2.5) -> float:
    """Rényi efficiency of a unigram token distribution (Zouhar et al. 2023; the paper uses alpha = 2.5).

    ``eff = (1 / (1 - alpha)) * log2(sum_t p_t**alpha) / log2(|V_used|)`` with ``p_t = count_t / sum(count)`` and
    ``|V_used|`` the number of distinct tokens observed (not the nominal vocabulary size). ``alpha == 1`` is the
    Shannon limit, :func:`shannon_efficiency`. A uniform distribution has efficiency 1 for every alpha; a single
    observed token (0/0) is treated as that uniform limit and gives 1.0.

    Worked example: counts (2, 1, 1), alpha = 2: ``sum p^2 = 0.25 + 0.0625 + 0.0625 = 0.375``,
    ``-log2(0.375) / log2(3) = 1.415 / 1.585 = 0.893``.

    >>> round(renyi_efficiency([2, 1, 1], alpha=2.0), 3)
    0.893
    """
    if alpha < 0:
        raise ToksmithError(f"Rényi alpha must be >= 0, got {alpha}")
    if math.isclose(alpha, 1.0):
        return shannon_efficiency(counts)
    p = _probabilities(counts)
    if p.size == 1:
        return 1.0
    return float(np.log2(np.sum(p**alpha)) / (1.0 - alpha) / math.log2(p.size))


def shannon_efficiency(counts) -> float:
    """Shannon efficiency: ``-sum_t p_t log2 p_t / log2(|V_used|)`` (the alpha -> 1 limit of Rényi).

    >>> shannon_efficiency([5, 5, 5, 5])
    1.0
    """
    p = _probabilities(counts)
    if p.size == 1:
        return 1.0
    return float(-np.sum(p * np.log2(p)) / math.log2(p.size))


def vocab_share(n_used: int, vocab_size: int) -> float:
    """Share of the vocabulary observed on the data: ``|V_used| / |V|``. ``vocab_share(8000, 32000) == 0.25``."""
    return ratio(n_used, vocab_size, "vocabulary share")


def unigram_counts(token_ids: Sequence[Sequence[int]], size: int) -> np.ndarray:
    """Token frequencies of a batch of encoded documents, as a dense ``int64`` array of length ``size``."""
    if not token_ids:
        return np.zeros(size, dtype=np.int64)
    flat = np.fromiter((i for ids in token_ids for i in ids), dtype=np.int64)
    return np.bincount(flat, minlength=size).astype(np.int64, copy=False)


def mean_token_length(lengths, weights=None) -> float:
    """Mean token length in bytes, ``sum_t w_t len_t / sum_t w_t`` (unweighted over the vocabulary by default).

    >>> mean_token_length([1, 2, 3])
    2.0
    >>> mean_token_length([1, 3], weights=[3, 1])
    1.5
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    w = np.ones_like(lengths) if weights is None else np.asarray(weights, dtype=np.float64)
    return ratio(float(np.sum(lengths * w)), float(np.sum(w)), "mean token length")


@dataclass(frozen=True)
class Aggregate:
    """Table 1 aggregation of a per-subset metric: per-domain unweighted means and their mean."""

    domains: dict[str, float]
    overall: float


def sort_domains(domains) -> list[str]:
    """Domains in Table 1 order (code, english, multilingual), then any others alphabetically."""
    known = [d for d in DOMAIN_ORDER if d in domains]
    return known + sorted(d for d in domains if d not in DOMAIN_ORDER)


def aggregate(per_subset: Mapping[tuple[str, str], float]) -> Aggregate:
    """The paper's Table 1 aggregation (docs/paper.md §4.1; paper §2.1).

    ``domain average = mean over that domain's subsets`` (every subset weighs the same, whatever its size);
    ``overall = mean of the domain averages`` (every domain weighs the same, whatever its number of subsets).

    Worked example: code subsets {py: 0.8, c: 0.6}, english {en: 1.0}: code = 0.7, english = 1.0,
    overall = 0.85 (not the 0.8 a mean over the three subsets would give).

    >>> a = aggregate({("code", "py"): 0.8, ("code", "c"): 0.6, ("english", "en"): 1.0})
    >>> round(a.domains["code"], 6), a.domains["english"], round(a.overall, 6)
    (0.7, 1.0, 0.85)
    """
    if not per_subset:
        raise ToksmithError("nothing to aggregate: no (domain, subset) values")
    by_domain: dict[str, list[float]] = {}
    for (domain, _subset), value in per_subset.items():
        by_domain.setdefault(domain, []).append(float(value))
    domains = {d: sum(by_domain[d]) / len(by_domain[d]) for d in sort_domains(by_domain)}
    return Aggregate(domains=domains, overall=sum(domains.values()) / len(domains))


FIT_FORMS = ("exp", "power")


@dataclass(frozen=True)
class SaturatingFit:
    """A fitted diminishing-returns curve of NSL against vocabulary size ``V``.

    * ``form="exp"`` (the issue's form): ``y = a + b * exp(-V / c)``; ``c`` is a vocabulary scale;
    * ``form="power"``: ``y = a + b * (V / 1000) ** (-c)``; ``c`` is an exponent.

    ``a`` is the asymptote (the NSL an infinite vocabulary would reach), ``rmse`` the fit's root mean squared error.
    """

    form: str
    a: float
    b: float
    c: float
    rmse: float

    def predict(self, v):
        v = np.asarray(v, dtype=np.float64)
        return self.a + self.b * _basis(self.form, v, self.c)


def _basis(form: str, v: np.ndarray, c: float) -> np.ndarray:
    return np.exp(-v / c) if form == "exp" else (v / 1000.0) ** (-c)


def fit_saturating(v, y, form: str = "exp", n_grid: int = 400) -> SaturatingFit:
    """Least-squares fit of a saturating curve (see :class:`SaturatingFit`) without scipy.

    For a fixed ``c`` both forms are linear in ``(a, b)``, so ``(a, b)`` come from ordinary least squares and
    ``c`` is searched: on a log grid (``min(v)/20`` .. ``20 max(v)`` for ``exp``, 0.01 .. 5 for ``power``), then
    on a finer grid around the best point. Needs at least 3 points.

    Worked example, the paper's code-NSL vocabulary sweep (docs/paper.md §5.3, 11 sizes from 10k to 256k):
    ``exp`` gives a = 0.728, b = 0.251, c = 29.0k, RMSE 0.0092; ``power`` gives a = 0.668, b = 0.826,
    c = 0.518, RMSE 0.0005, so a power law describes the paper's own numbers 17x better than the exponential.
    """
    if form not in FIT_FORMS:
        raise ToksmithError(f"unknown fit form {form!r}; known: {', '.join(FIT_FORMS)}")
    v = np.asarray(v, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if v.shape != y.shape or v.size < 3:
        raise ToksmithError(f"the saturating fit needs >= 3 (V, NSL) points of equal length; got {v.size} and {y.size}")
    if np.any(v <= 0):
        raise ToksmithError("the saturating fit needs positive vocabulary sizes")

    def solve(c: float) -> tuple[float, float, float]:
        design = np.stack([np.ones_like(v), _basis(form, v, c)], axis=1)
        (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
        return float(np.sum((design @ np.array([a, b]) - y) ** 2)), float(a), float(b)

    lo, hi = (v.min() / 20, v.max() * 20) if form == "exp" else (0.01, 5.0)
    grid = np.geomspace(lo, hi, n_grid)
    best = min(grid, key=lambda c: solve(c)[0])
    step = grid[1] / grid[0]
    c = float(min(np.geomspace(best / step, best * step, n_grid), key=lambda c: solve(c)[0]))
    sse, a, b = solve(c)
    return SaturatingFit(form=form, a=a, b=b, c=c, rmse=float(np.sqrt(sse / v.size)))
