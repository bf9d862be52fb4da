"""The metric formulas against closed forms and hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toksmith.analysis import metrics
from toksmith.errors import ToksmithError


def test_nsl_and_ratios():
    assert metrics.nsl(750, 1000) == 0.75
    assert metrics.nsl(1234, 1234) == 1.0
    assert metrics.bytes_per_token(12, 4) == 3.0
    assert metrics.chars_per_token(10, 4) == 2.5
    assert metrics.tokens_per_word(6, 4) == 1.5
    with pytest.raises(ToksmithError, match="reference token count"):
        metrics.nsl(3, 0)
    with pytest.raises(ToksmithError, match="bytes per token"):
        metrics.bytes_per_token(3, 0)


def test_text_stats_definitions():
    # bytes are UTF-8 bytes of the text, chars are code points, words are whitespace-separated runs
    assert metrics.text_stats("héllo wörld") == (13, 11, 2)
    assert metrics.text_stats("  a\tb\n\nc  ") == (10, 10, 3)
    assert metrics.text_stats("中文 🦙") == (3 + 3 + 1 + 4, 4, 2)
    assert metrics.text_stats("") == (0, 0, 0)


def test_aggregate_unequal_subsets_by_hand():
    # code has 3 subsets, english 1, multilingual 2: the domain means weigh subsets equally, the overall mean
    # weighs domains equally (docs/paper.md §4.1; paper §2.1), which differs from a mean over all six subsets.
    per_subset = {
        ("code", "python"): 0.8, ("code", "c"): 0.6, ("code", "go"): 0.7,
        ("english", "en"): 0.9,
        ("multilingual", "de"): 1.1, ("multilingual", "fr"): 1.3,
    }
    a = metrics.aggregate(per_subset)
    assert list(a.domains) == ["code", "english", "multilingual"]
    assert a.domains["code"] == pytest.approx((0.8 + 0.6 + 0.7) / 3)
    assert a.domains["english"] == pytest.approx(0.9)
    assert a.domains["multilingual"] == pytest.approx(1.2)
    assert a.overall == pytest.approx((0.7 + 0.9 + 1.2) / 3)
    assert a.overall != pytest.approx(sum(per_subset.values()) / 6)
    with pytest.raises(ToksmithError):
        metrics.aggregate({})


def test_domain_order_puts_table1_domains_first():
    assert metrics.sort_domains({"zeta", "multilingual", "code", "alpha"}) == ["code", "multilingual", "alpha", "zeta"]


def _renyi_closed_form(counts, alpha):
    p = np.asarray(counts, dtype=float)
    p = p[p > 0] / p.sum()
    return math.log2(np.sum(p**alpha)) / (1 - alpha) / math.log2(len(p))


def test_renyi_small_distributions_closed_form():
    # counts (2, 1, 1), alpha 2: sum p^2 = 3/8, -log2(3/8) / log2(3)
    assert metrics.renyi_efficiency([2, 1, 1], alpha=2.0) == pytest.approx(-math.log2(3 / 8) / math.log2(3))
    # alpha 2.5 on (3, 1): (1/(1-2.5)) log2(0.75^2.5 + 0.25^2.5) / log2(2)
    expected = math.log2(0.75**2.5 + 0.25**2.5) / (1 - 2.5)
    assert metrics.renyi_efficiency([3, 1], alpha=2.5) == pytest.approx(expected)
    # zero counts are unused tokens: they do not enter |V_used|
    assert metrics.renyi_efficiency([3, 0, 1, 0], alpha=2.5) == pytest.approx(expected)
    # alpha 0 is Hartley entropy: log2 |V_used| / log2 |V_used| = 1 for any distribution
    assert metrics.renyi_efficiency([7, 1, 1], alpha=0.0) == pytest.approx(1.0)
    # uniform distributions are perfectly efficient for every alpha
    for alpha in (0.5, 1.0, 2.5, 3.0):
        assert metrics.renyi_efficiency([4, 4, 4, 4, 4], alpha=alpha) == pytest.approx(1.0)
    assert metrics.renyi_efficiency({"a": 5}, alpha=2.5) == 1.0


def test_shannon_closed_form_and_alpha_to_one():
    counts = [5, 3, 1, 1]
    p = np.array(counts) / 10
    shannon = -np.sum(p * np.log2(p)) / math.log2(4)
    assert metrics.shannon_efficiency(counts) == pytest.approx(shannon)
    assert metrics.renyi_efficiency(counts, alpha=1.0) == pytest.approx(shannon)
    # the Rényi family is continuous at alpha = 1
    for eps in (1e-3, 1e-5):
        assert metrics.renyi_efficiency(counts, alpha=1 + eps) == pytest.approx(shannon, abs=1e-3)
        assert metrics.renyi_efficiency(counts, alpha=1 - eps) == pytest.approx(shannon, abs=1e-3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=1000), min_size=2, max_size=30),
       st.floats(min_value=0.1, max_value=5.0).filter(lambda a: abs(a - 1) > 1e-3))
def test_renyi_matches_closed_form_and_is_bounded(counts, alpha):
    eff = metrics.renyi_efficiency(counts, alpha)
    assert eff == pytest.approx(_renyi_closed_form(counts, alpha), rel=1e-9, abs=1e-12)
    assert -1e-9 <= eff <= 1 + 1e-9
    # Rényi entropy is non-increasing in alpha
    assert metrics.renyi_efficiency(counts, alpha + 0.5) <= eff + 1e-9


def test_entropy_needs_observations():
    with pytest.raises(ToksmithError, match="at least one observed token"):
        metrics.shannon_efficiency([0, 0])


def test_unigram_counts_and_token_lengths():
    hist = metrics.unigram_counts([[1, 2, 2], [], [4]], size=6)
    assert hist.tolist() == [0, 1, 2, 0, 1, 0]
    assert metrics.mean_token_length([1, 2, 3]) == 2.0
    assert metrics.mean_token_length([1, 3], weights=[3, 1]) == 1.5
    assert metrics.vocab_share(8000, 32000) == 0.25


# The paper's vocabulary sweep (docs/paper.md §5.3, from the authors' released CSV): real data for the fit.
PAPER_V = [10_000, 16_000, 24_000, 32_000, 48_000, 64_000, 80_000, 100_000, 128_000, 200_000, 256_000]
PAPER_CODE_NSL = [0.919, 0.865, 0.827, 0.805, 0.779, 0.764, 0.754, 0.745, 0.736, 0.721, 0.714]


def test_fit_recovers_known_parameters():
    v = np.array([8e3, 16e3, 32e3, 64e3, 128e3, 256e3])
    y = 0.7 + 0.3 * np.exp(-v / 40e3)
    fit = metrics.fit_saturating(v, y)
    assert (fit.a, fit.b, fit.c / 1e3) == pytest.approx((0.7, 0.3, 40.0), rel=2e-3)
    assert fit.rmse < 1e-4
    y = 0.6 + 0.9 * (v / 1000) ** -0.4
    fit = metrics.fit_saturating(v, y, form="power")
    assert (fit.a, fit.b, fit.c) == pytest.approx((0.6, 0.9, 0.4), rel=2e-3)
    assert fit.predict(v) == pytest.approx(y, abs=1e-4)


def test_fit_on_the_papers_sweep_is_least_squares():
    exp = metrics.fit_saturating(PAPER_V, PAPER_CODE_NSL)
    power = metrics.fit_saturating(PAPER_V, PAPER_CODE_NSL, form="power")
    # the published-notes parameters (a 0.722, b 0.213, c 39k) are a worse fit to all 11 points than ours
    notes = metrics.SaturatingFit("exp", 0.722, 0.213, 39_000, 0.0)
    notes_rmse = float(np.sqrt(np.mean((notes.predict(PAPER_V) - PAPER_CODE_NSL) ** 2)))
    assert exp.rmse < notes_rmse
    assert 0.70 < exp.a < 0.74 and 20_000 < exp.c < 45_000
    # a power law describes the paper's numbers much better than the exponential
    assert power.rmse < exp.rmse / 5
    with pytest.raises(ToksmithError, match=">= 3"):
        metrics.fit_saturating([1, 2], [1, 2])
    with pytest.raises(ToksmithError, match="unknown fit form"):
        metrics.fit_saturating(PAPER_V, PAPER_CODE_NSL, form="log")
