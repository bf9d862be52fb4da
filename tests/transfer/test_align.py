"""Cheap alignment: shared boundaries, frozen body, resume after kill -9 with the same result, settings guard."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from toksmith.errors import ToksmithError
from toksmith.transfer.align import AlignConfig, align, shared_positions
from toksmith.transfer.surgery import TransferConfig, transfer


def _texts(texts):
    src = "\n".join(texts[:3])
    return [src[i : i + 150] for i in range(0, 4500, 150)]


def _model(tmp_path, name, old_tied_model_dir, new_tok_dir):
    return transfer(TransferConfig(model=str(old_tied_model_dir), tokenizer=new_tok_dir, out_dir=tmp_path / name))


def _weights(d):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(d).state_dict()


def test_shared_positions():
    assert shared_positions([2, 3, 5, 7], [3, 7]) == ([1, 3], [0, 1])
    assert shared_positions([1, 2], [3]) == ([], [])


def test_align_trains_only_rows_and_resumes_after_kill(tmp_path, old_tied_model_dir, new_tok_dir, texts):
    train = _texts(texts)
    eval_texts = [texts[5][:1500]]
    cfg = dict(steps=6, seq_len=32, ckpt_every=1, lr=1e-2)
    a = _model(tmp_path, "a", old_tied_model_dir, new_tok_dir)
    before = _weights(a)
    res = align(AlignConfig(model_dir=a, **cfg), eval_texts=eval_texts, train_texts=train)
    assert res["step"] == 6 and res["done"] and 0 < res["bpb_end"] < 20 and 0 < res["bpb_start"] < 20
    after = _weights(a)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("embed_tokens" in k or "lm_head" in k for k in changed)  # body frozen
    import json

    from toksmith.artifacts import sha256_file

    manifest = json.loads((a / "transfer.json").read_text())  # the manifest names the aligned weights, not the old ones
    assert manifest["weights_sha256"] == {"model.safetensors": sha256_file(a / "model.safetensors")}

    b = _model(tmp_path, "b", old_tied_model_dir, new_tok_dir)
    script = textwrap.dedent(f"""
        import os, torch
        torch.set_num_threads(1)
        from toksmith.transfer.align import AlignConfig, align
        train = {train!r}
        def stream():
            for i, t in enumerate(train):
                if i == 1:
                    os.kill(os.getpid(), 9)  # kill -9 in the middle of the run
                yield t
        align(AlignConfig(model_dir={str(b)!r}, **{cfg!r}), train_texts=stream())
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert (b / "align_state.pt").is_file()
    assert 0 < torch.load(b / "align_state.pt", weights_only=False)["step"] < 6  # killed in the middle
    res_b = align(AlignConfig(model_dir=b, **cfg), train_texts=train)
    assert res_b["step"] == 6
    wb = _weights(b)
    for k in after:
        assert torch.equal(after[k], wb[k]), k
    with pytest.raises(ToksmithError, match="other settings"):
        align(AlignConfig(model_dir=b, **{**cfg, "lr": 1e-3}), train_texts=train)


@pytest.mark.parametrize("field,value", [("minutes", 0), ("lr", 0.0), ("steps", 0), ("seq_len", 4)])
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ToksmithError, match=rf"^AlignConfig\.{field} must be "):
        AlignConfig(model_dir="unused", **{"minutes": 1.0, field: value})
