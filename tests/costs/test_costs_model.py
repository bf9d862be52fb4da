"""Cost formulas, NSL curves and optima: worked examples, closed forms, monotone trends, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toksmith.costs import model as M
from toksmith.costs.nsl import (DEFAULT_BASELINE_BYTES_PER_TOKEN, PAPER_CODE_POINTS, Compression, NSLCurve,
                                bytes_per_token, curve_from_tokenizers, default_code_texts, fit_exp, load_curve,
                                measure_tokenizers, paper_code_curve)
from toksmith.costs.optimal import (inference_optimal_v, llama_family, memory_optimal_v,
                                    memory_optimal_v_closed_form)
from toksmith.costs.shapes import SHAPES
from toksmith.errors import ToksmithError

S7 = SHAPES["llama2-7b"]
COMP = Compression()


def test_paper_curve_values():
    c = paper_code_curve()
    assert c(32_000) == pytest.approx(0.722 + 0.213 * math.exp(-32 / 39))
    # the fit stays within 0.035 of every sweep point it was made from (RMSE 0.012)
    err = [abs(c(v) - n) for v, n in PAPER_CODE_POINTS]
    assert max(err) < 0.035 and np.sqrt(np.mean(np.square(err))) < 0.013


def test_points_curve_interpolates_in_log_v():
    c = NSLCurve("points", points=((10_000, 1.0), (40_000, 0.8)))
    assert c(10_000) == 1.0 and c(40_000) == 0.8
    assert c(20_000) == pytest.approx(0.9)  # the geometric midpoint is the arithmetic mean of NSL
    with pytest.raises(ToksmithError, match="outside the NSL points"):
        c(50_000)


def test_fit_exp_recovers_parameters():
    pts = [(v, 0.7 + 0.3 * math.exp(-v / 25_000)) for v in (8e3, 16e3, 32e3, 64e3, 128e3, 256e3)]
    f = fit_exp(pts)
    assert (f.a, f.b, f.c) == pytest.approx((0.7, 0.3, 25_000), rel=5e-3)


def test_load_curve_json(tmp_path):
    p = tmp_path / "fit.json"
    p.write_text(json.dumps({"a": 0.7, "b": 0.2, "c": 40000, "points": [[32000, 0.8], [64000, 0.75]]}))
    c = load_curve(p)
    assert (c.kind, c.a, c.c, c.points[0]) == ("fit", 0.7, 40000, (32000.0, 0.8))
    p.write_text(json.dumps({"points": [[32000, 0.8], [64000, 0.75]]}))
    assert load_curve(p).kind == "points"
    p.write_text(json.dumps({"a": 0.7, "b": 0.2}))
    with pytest.raises(ToksmithError, match="missing c"):
        load_curve(p)
    with pytest.raises(ToksmithError, match="a > 0"):
        NSLCurve("fit", a=-1, b=0.1, c=1)


def test_default_bytes_per_token_is_measured_llama2_on_code():
    import toksmith

    measured = bytes_per_token(toksmith.load_reference("llama2"), default_code_texts())
    assert measured == pytest.approx(DEFAULT_BASELINE_BYTES_PER_TOKEN, rel=0.10)


def test_measured_tokenizers_curve():
    import toksmith

    texts = default_code_texts(["textwrap.py", "bisect.py"])
    base = toksmith.load_reference("llama2")
    m = measure_tokenizers([base, toksmith.load_reference("cl100k")], texts, base)
    assert m[0].nsl == pytest.approx(1.0)
    assert 0.6 < m[1].nsl < 0.95  # cl100k compresses code better than Llama 2 (paper: 0.75)
    c = curve_from_tokenizers(m)
    assert c(32_000) == pytest.approx(1.0) and c.domain == (32_000, 100_277)


def test_worked_examples():
    assert M.kv_cache_bytes(S7, 1, 1000) == 2 * 32 * 32 * 128 * 1000 * 2
    # GQA: Llama 2 70B has 8 KV heads of 64 -> 8x smaller cache per layer than MHA
    s70 = SHAPES["llama2-70b"]
    assert M.kv_cache_bytes(s70, 1, 1, "bf16") == 2 * 80 * 8 * 128 * 2
    assert M.logits_bytes(2, 10, 1000) == 2 * 10 * 1000 * 4
    assert M.flops_per_token(S7, 32_000, 0) == 2 * M.nonembedding_params(S7) + 2 * 32_000 * 4096
    assert M.effective_context_bytes(S7, 32_000, COMP) == pytest.approx(4096 * 3.58 / COMP.curve(32_000))
    # the baseline tokenizer itself (V0 = 32k at NSL 1) has relative speed 1 by definition
    base = Compression(NSLCurve("points", points=((32_000, 1.0), (64_000, 1.0))))
    assert M.relative_speed(S7, 32_000, base, 4096) == pytest.approx(1.0)
    assert M.weight_bytes(S7, 32_000, "int4") == M.total_params(S7) / 2
    with pytest.raises(ToksmithError, match="unknown dtype"):
        M.dtype_bytes("bf17")


def test_flops_per_byte_matches_its_definition():
    V = np.array([16_000.0, 64_000.0, 256_000.0])
    nsl = COMP.curve(V)
    expected = M.flops_per_token(S7, V, nsl * 4096) * nsl / COMP.baseline_bytes_per_token
    assert np.allclose(M.flops_per_byte(S7, V, COMP, 4096), expected)


@pytest.mark.parametrize("batch,seq", [(1, 1000), (64, 1000), (8, 4000), (1, 16_000), (1, 100_000)])
def test_memory_optimum_grid_equals_closed_form(batch, seq):
    grid = memory_optimal_v(S7, COMP, batch, seq)
    closed = memory_optimal_v_closed_form(S7, COMP, batch, seq)
    assert grid.vocab_size == pytest.approx(closed, rel=0.01)
    assert bool(grid.at_bound) == (closed == 8000)


def test_inference_optimum_is_a_stationary_point():
    opt = inference_optimal_v(S7, COMP)
    f = lambda v: M.flops_per_byte(S7, v, COMP, 4096)  # noqa: E731
    assert not opt.at_bound
    assert f(opt.vocab_size) <= min(f(opt.vocab_size * 0.9), f(opt.vocab_size * 1.1))


def test_optima_move_the_way_the_paper_says():
    """Bigger models, longer contexts, bigger batches and longer sequences favour bigger vocabularies."""
    fam = [s for s in llama_family() if s.d_model >= 1024]
    v_inf = [inference_optimal_v(s, COMP).vocab_size for s in fam]
    assert v_inf == sorted(v_inf) and v_inf[-1] > 2 * v_inf[0]
    assert inference_optimal_v(S7, COMP, 16_384).vocab_size > inference_optimal_v(S7, COMP, 1024).vocab_size
    v_batch = [memory_optimal_v(S7, COMP, b, 4000).vocab_size for b in (1, 4, 16, 64, 256)]
    assert v_batch == sorted(v_batch) and v_batch[0] == 8000 and v_batch[-1] > 100_000
    v_seq = [memory_optimal_v(S7, COMP, 1, s).vocab_size for s in (1e3, 1e4, 1e5, 1e6)]
    assert v_seq == sorted(v_seq)


def test_notes_illustration_sanity_check():
    """docs/paper.md §6 (n_ctx 4096 fixed, code curve): ~74k for 1.5B, ~96k for 7B, >= 256k for 70B with the
    sweep points; the documented fit gives the same order (see docs/costs.md for the differences)."""
    pts = Compression(NSLCurve("points", points=PAPER_CODE_POINTS))
    got = {n: inference_optimal_v(SHAPES[n], pts, 4096, True) for n in ("paper-1.5b", "llama2-7b", "llama2-70b")}
    assert 60_000 < got["paper-1.5b"].vocab_size < 90_000
    assert 85_000 < got["llama2-7b"].vocab_size < 110_000
    assert got["llama2-70b"].at_bound == "upper"  # >= 256k, the end of the sweep


def test_docs_python_examples_run():
    """The ```python blocks of docs/costs.md run and their asserts hold."""
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "costs.md"
    blocks = doc.read_text(encoding="utf-8").split("```python")[1:]
    assert blocks
    for block in blocks:
        exec(compile(block.split("```")[0], str(doc), "exec"), {})


def test_resolve_curve_specs():
    from toksmith.costs.report import resolve_curve

    assert resolve_curve("paper-fit").kind == "fit"
    assert resolve_curve("paper-points").domain == (10_000, 256_000)
    measured = resolve_curve("tokenizers:llama2,cl100k")
    assert measured.kind == "points" and measured(32_000) == pytest.approx(1.0)
    with pytest.raises(ToksmithError, match="at least two"):
        resolve_curve("tokenizers:llama2")
