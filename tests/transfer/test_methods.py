"""Every registered initialisation method on a tiny real Llama: finite loss, tying kept, roles, determinism."""

from __future__ import annotations

import pytest
import torch

from toksmith.errors import ToksmithError
from toksmith.references import load_tokenizer
from toksmith.transfer import fvt
from toksmith.transfer.fvt import token_map
from toksmith.transfer.methods import (
    METHODS,
    SEPARATE_HEAD,
    continuation_logp,
    get_method,
    ModelStats,
    ones_direction,
    weighted_rows,
)
from toksmith.transfer.surgery import is_tied, swap_vocabulary


def _load(d):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(d).eval()


def _swap(src, old_tok_dir, new_tok_dir, texts, method, untie=False, seed=0):
    model = _load(src)
    old, new = load_tokenizer(old_tok_dir), load_tokenizer(new_tok_dir)
    mapping, _ = token_map(old, new, {"bos": 1, "eos": 2, "pad": 0})
    swap_vocabulary(model, mapping, method, 704, seed=seed, untie=untie, old_tok=old, new_tok=new,
                    calib_texts=texts[:2])
    return model, mapping, new


def _loss(model, new, text):
    ids = torch.tensor([[0] + new.encode(text)])
    with torch.no_grad():
        return float(model(input_ids=ids, labels=ids).loss)


def test_registry_holds_the_row_methods():
    assert set(fvt.ROW_METHODS) <= set(METHODS)  # init_rows' methods are registry entries, not a second list
    assert {"fvt", "mean", "random"} <= set(METHODS)
    for name, m in METHODS.items():
        assert m.__doc__ and len(m.__doc__.split()) > 8, name  # idea + source in the docstring
    with pytest.raises(ToksmithError, match="fvt-logprob"):
        get_method("fvtt")


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("fixture", ["old_model_dir", "old_tied_model_dir"])
def test_each_method_on_tiny_llama(request, fixture, method, old_tok_dir, new_tok_dir, texts):
    src = request.getfixturevalue(fixture)
    tied = fixture == "old_tied_model_dir"
    if method in SEPARATE_HEAD and tied:
        with pytest.raises(ToksmithError, match="--untie"):
            _swap(src, old_tok_dir, new_tok_dir, texts, method)
        model, mapping, new = _swap(src, old_tok_dir, new_tok_dir, texts, method, untie=True)
        assert not is_tied(model) and model.config.tie_word_embeddings is False
    else:
        model, mapping, new = _swap(src, old_tok_dir, new_tok_dir, texts, method)
        assert is_tied(model) == tied  # tied stays tied unless untying was asked for
    loss = _loss(model, new, texts[4][:2000])
    assert loss == loss and loss < 50  # finite
    old_m = _load(src)
    E_old, E_new = old_m.get_input_embeddings().weight, model.get_input_embeddings().weight
    # special tokens by role: new bos (0) / eos (1) / pad (2) come from old bos (1) / eos (2) / pad (0)
    if method not in ("mean", "random"):
        for new_id, old_id in ((0, 1), (1, 2), (2, 0)):
            assert mapping[new_id] == [old_id]
        same = [(t, ids[0]) for t, ids in mapping.items() if len(ids) == 1]
        assert len(same) > 50
        for t, old_id in same:  # a token the old vocabulary has keeps its input row bit for bit
            assert torch.equal(E_new[t], E_old[old_id]), (t, old_id)
    again, _, _ = _swap(src, old_tok_dir, new_tok_dir, texts, method, untie=method in SEPARATE_HEAD)
    assert torch.equal(again.get_input_embeddings().weight, E_new)  # deterministic for a seed
    assert torch.equal(again.get_output_embeddings().weight, model.get_output_embeddings().weight)


def test_untie_survives_save_and_reload(old_tied_model_dir, old_tok_dir, new_tok_dir, texts, tmp_path):
    model, _, new = _swap(old_tied_model_dir, old_tok_dir, new_tok_dir, texts, "fvt-logprob", untie=True)
    model.save_pretrained(tmp_path / "m")
    back = _load(tmp_path / "m")
    assert not is_tied(back)
    assert torch.equal(back.get_output_embeddings().weight, model.get_output_embeddings().weight)


def test_weighted_rows_hand_checked():
    E = torch.tensor([[0.0, 0.0], [2.0, 4.0], [4.0, 8.0]])
    out = weighted_rows(E, {0: [1, 2], 1: [], 2: [0]}, 3, lambda ids: [1.0, 3.0][: len(ids)])
    assert torch.allclose(out, torch.tensor([[3.5, 7.0], [2.0, 4.0], [0.0, 0.0]]))


def test_ones_direction_shifts_logits_by_delta():
    g = torch.Generator().manual_seed(0)
    H = torch.nn.functional.normalize(torch.randn(500, 16, generator=g) + 3.0, dim=1) * 4  # RMSNorm-like shell
    c, resid = ones_direction(H, ridge=1e-6)
    assert resid < 0.2
    assert abs(float((H @ c).mean()) - 1.0) < 0.05


def test_continuation_logp_fallbacks():
    s = ModelStats(counts=None, H=None, pair_logp={(1, 2): -0.2}, next_logp={3: -1.5}, mean_logp=-3.0, tokens=3)
    assert continuation_logp(s, [1, 2]) == pytest.approx(-0.2)
    assert continuation_logp(s, [1, 2, 3]) == pytest.approx(-1.7)
    assert continuation_logp(s, [5, 7]) == pytest.approx(-3.0)
    assert continuation_logp(s, [5]) == 0.0


def test_bench_smoke(old_tied_model_dir, new_tok_dir, texts, tmp_path, monkeypatch):
    """bench/transfer_init.py --smoke on a tiny tied Llama: every method gets a row with finite bits/byte."""
    import importlib.util
    import json
    from pathlib import Path

    monkeypatch.setenv("TOKSMITH_CACHE", str(tmp_path / "cache"))
    bench = Path(__file__).resolve().parents[2] / "bench" / "transfer_init.py"
    spec = importlib.util.spec_from_file_location("bench_transfer_init", bench)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (tmp_path / "heldout.txt").write_text(texts[5][:3000])
    out = tmp_path / "bench.json"
    run = mod.main(["--smoke", "--model", str(old_tied_model_dir), "--tokenizer", str(new_tok_dir), "--eval-file",
                    str(tmp_path / "heldout.txt"), "--eval-bytes", "3000", "--jobs", "2", "--out", str(out)])
    assert set(run["rows"]) == {"original", *METHODS}
    for label, row in run["rows"].items():
        assert "error" not in row, (label, row)
        assert 0 < row["bpb"] < 40 and row["tokens_per_byte"] > 0
        assert set(row["continuations"]) == set(mod.PROMPTS)
    assert json.loads(out.read_text())["runs"][-1]["rows"]["fvt"]["bpb"] == run["rows"]["fvt"]["bpb"]
    assert "| fvt-logprob |" in out.with_suffix(".md").read_text()
