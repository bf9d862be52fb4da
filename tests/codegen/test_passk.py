"""pass@k against the closed form 1 - C(n-c, k) / C(n, k) (math.comb), on the hand-computed cases and more."""

from __future__ import annotations

from math import comb, isclose

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toksmith.codegen.passk import mean_pass_at_k, pass_at_k, pass_at_k_table
from toksmith.errors import ToksmithError


def closed_form(n: int, c: int, k: int) -> float:
    return 1.0 - comb(n - c, k) / comb(n, k)


@pytest.mark.parametrize("c", [0, 1, 199, 200])
@pytest.mark.parametrize("k", [1, 10, 100, 200])
def test_hand_computed_cases_n200(c, k):
    assert isclose(pass_at_k(200, c, k), closed_form(200, c, k), rel_tol=1e-12, abs_tol=1e-15)


def test_worked_values():
    # c = 0: nothing can pass; c = n: everything passes; c = 1: pass@k = k / n; c = n - 1: 1 unless k = 1.
    assert pass_at_k(200, 0, 100) == 0.0
    assert pass_at_k(200, 200, 1) == 1.0
    assert isclose(pass_at_k(200, 1, 1), 1 / 200)
    assert isclose(pass_at_k(200, 1, 100), 100 / 200)
    assert isclose(pass_at_k(200, 199, 1), 199 / 200)
    assert pass_at_k(200, 199, 2) == 1.0  # n - c = 1 < k


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_matches_closed_form_everywhere(nck):
    n, c, k = nck
    assert isclose(pass_at_k(n, c, k), closed_form(n, c, k), rel_tol=1e-9, abs_tol=1e-12)


def test_k_larger_than_n_raises_instead_of_dropping():
    with pytest.raises(ToksmithError, match="pass@10 needs at least 10 samples"):
        pass_at_k(5, 1, 10)
    with pytest.raises(ToksmithError, match="c=6"):
        pass_at_k(5, 6, 1)
    with pytest.raises(ToksmithError):
        mean_pass_at_k([], 1)


def test_mean_and_table():
    counts = {"a": (4, 2), "b": (4, 0)}
    assert isclose(mean_pass_at_k(counts, 1), (0.5 + 0.0) / 2)
    table = pass_at_k_table(counts, [1, 4])
    assert table["a"] == {"pass@1": 0.5, "pass@4": 1.0} and table["b"] == {"pass@1": 0.0, "pass@4": 0.0}
