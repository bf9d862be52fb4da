"""Continued training: schedule, bits per byte, interrupted run resumes exactly, corrupted checkpoints refused."""

from __future__ import annotations

import logging
import math

import pytest
import torch
from transfer_helpers import stdlib_texts

from toksmith.errors import ToksmithError
from toksmith.references import load_tokenizer
from toksmith.transfer.bpb import bits_per_byte, evaluate_bpb, windows
from toksmith.transfer.finetune import FinetuneConfig, finetune, list_checkpoints, lr_at, read_metrics
from toksmith.transfer.surgery import TransferConfig, transfer

EVAL = ["def add(a, b):\n    return a + b\n", "class Point:\n    x: int = 0\n    y: int = 0\n"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, old_model_dir, new_tok_dir):
    return transfer(TransferConfig(model=str(old_model_dir), tokenizer=new_tok_dir, out_dir=tmp_path_factory.mktemp("t") / "m"))


def _cfg(model_dir, out, **kw):
    base = dict(model=str(model_dir), out_dir=out, seq_len=32, batch_size=2, grad_accum=2, steps=6, warmup_steps=2,
                lr=1e-3, eval_every=0, ckpt_every=0)
    return FinetuneConfig(**{**base, **kw})


def test_lr_schedule_formula():
    assert lr_at(0, 1.0, 10, 110) == pytest.approx(0.1)
    assert lr_at(9, 1.0, 10, 110) == pytest.approx(1.0)
    assert lr_at(60, 1.0, 10, 110) == pytest.approx(0.55)  # docstring example
    assert lr_at(110, 1.0, 10, 110) == pytest.approx(0.1)


def test_bits_per_byte_formula_and_windows():
    assert bits_per_byte(10 * math.log(4), 20) == pytest.approx(1.0)
    assert windows([5, 6, 7], 0, 2) == [([0, 5], [5, 6]), ([6], [7])]
    ids = list(range(10, 30))
    covered = [t for _, y in windows(ids, 0, 7) for t in y]
    assert covered == ids  # every token predicted exactly once


def test_evaluate_bpb_matches_a_direct_computation(model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tok = load_tokenizer(model_dir)
    nll = 0.0
    for text in EVAL:
        ids = torch.tensor([[0] + tok.encode(text)])
        with torch.no_grad():
            logits = model(ids).logits[0, :-1, : tok.vocab_size]
        nll += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
    n_bytes = sum(len(t.encode()) for t in EVAL)
    for seq_len in (512, 5):  # one window per text, and many small windows (less context, so higher loss)
        r = evaluate_bpb(model, tok, EVAL, seq_len=seq_len, batch_size=3)
        assert r["bytes"] == n_bytes and r["tokens"] == sum(len(tok.encode(t)) for t in EVAL)
        if seq_len == 512:
            assert r["bpb"] == pytest.approx(nll / (math.log(2) * n_bytes), rel=1e-5)
        else:
            assert r["bpb"] > nll / (math.log(2) * n_bytes) * 0.9


def test_interrupted_run_resumes_where_it_stopped(model_dir, tmp_path, caplog):
    train = stdlib_texts()
    full = finetune(_cfg(model_dir, tmp_path / "full"), train_texts=train, eval_texts=EVAL)
    assert full["finished"] and (tmp_path / "full" / "final" / "model.safetensors").is_file()

    first = finetune(_cfg(model_dir, tmp_path / "cut", max_steps=3), train_texts=train, eval_texts=EVAL)
    assert first["step"] == 3 and not first["finished"] and "final_model" not in first
    assert [s for s, _ in list_checkpoints(tmp_path / "cut")] == [3]
    with caplog.at_level(logging.INFO, logger="toksmith.transfer.finetune"):
        second = finetune(_cfg(model_dir, tmp_path / "cut"), train_texts=train, eval_texts=EVAL)
    assert "resuming from" in caplog.text and "(step 3)" in caplog.text
    assert second["step"] == 6 and second["finished"]
    assert list_checkpoints(tmp_path / "full") == []  # a finished run keeps final/, not a checkpoint
    with pytest.raises(ToksmithError, match="finished run"):
        finetune(_cfg(model_dir, tmp_path / "cut"), train_texts=train, eval_texts=EVAL)

    a = [r for r in read_metrics(tmp_path / "full") if "loss" in r]
    b = [r for r in read_metrics(tmp_path / "cut") if "loss" in r]
    assert [r["step"] for r in b] == [1, 2, 3, 4, 5, 6]  # the curve continues, no step repeated
    assert [r["blocks"] for r in b] == [r["blocks"] for r in a] == [4, 8, 12, 16, 20, 24]
    for x, y in zip(a, b):  # same data, optimizer state and schedule after the resume
        assert y["loss"] == pytest.approx(x["loss"], rel=1e-4, abs=1e-5)
        assert y["lr"] == pytest.approx(x["lr"])
    assert a[-1]["loss"] < a[0]["loss"]
    assert (tmp_path / "cut" / "curve.png").stat().st_size > 1000


def _snapshot(d):
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(d.rglob("*")) if p.is_file()}


def test_corrupted_checkpoint_is_refused(model_dir, tmp_path):
    out = tmp_path / "run"
    finetune(_cfg(model_dir, out, max_steps=2), train_texts=stdlib_texts(), eval_texts=EVAL)
    ckpt = list_checkpoints(out)[-1][1]
    with open(ckpt / "optimizer.bin", "r+b") as f:
        f.write(b"garbage")
    before = _snapshot(out)
    with pytest.raises(ToksmithError, match="corrupted: optimizer.bin"):
        finetune(_cfg(model_dir, out), train_texts=stdlib_texts(), eval_texts=EVAL)
    assert _snapshot(out) == before
    (ckpt / "checkpoint.json").unlink()
    before = _snapshot(out)
    with pytest.raises(ToksmithError, match="incomplete or corrupted"):
        finetune(_cfg(model_dir, out), train_texts=stdlib_texts(), eval_texts=EVAL)
    assert _snapshot(out) == before  # nothing overwritten
    with pytest.raises(ToksmithError, match="already holds checkpoints"):
        finetune(_cfg(model_dir, out, resume=False), train_texts=stdlib_texts(), eval_texts=EVAL)


def test_freeze_stage_trains_only_embeddings_and_head(model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    s = finetune(_cfg(model_dir, tmp_path / "frozen", steps=2, freeze_body_steps=2), train_texts=stdlib_texts(), eval_texts=EVAL)
    before = AutoModelForCausalLM.from_pretrained(model_dir)
    after = AutoModelForCausalLM.from_pretrained(s["final_model"])
    b, a = dict(before.named_parameters()), dict(after.named_parameters())
    for name in b:
        if "embed_tokens" in name or "lm_head" in name:
            assert not torch.equal(a[name], b[name]), name
        else:
            assert torch.equal(a[name], b[name]), name


def test_config_validation(tmp_path):
    with pytest.raises(ToksmithError, match="FinetuneConfig.seq_len"):
        FinetuneConfig(model="m", out_dir=tmp_path, seq_len=0)
    with pytest.raises(ToksmithError, match="FinetuneConfig.max_steps"):
        FinetuneConfig(model="m", out_dir=tmp_path, steps=5, max_steps=9)
    with pytest.raises(ToksmithError, match="bf16"):
        FinetuneConfig(model="m", out_dir=tmp_path, bf16="maybe")


def test_default_heldout_is_fixed_and_never_trained_on():
    import itertools

    from toksmith.transfer.data import heldout_texts, training_texts

    a, b = heldout_texts("default", 6000), heldout_texts("default", 6000)
    assert a == b and 0 < sum(len(t.encode()) for t in a) <= 6000
    train = list(itertools.islice(training_texts("default", 2_000_000), 200))
    assert not any(t[:200] in doc for t in a for doc in train)
