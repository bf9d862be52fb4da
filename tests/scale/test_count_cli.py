"""Count once, train from the counts: the same tokenizer as training on the text, and the CLI path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from toksmith import ToksmithError
from toksmith.bpe import TrainConfig, train_from_counts, train_from_texts
from toksmith.bpe.native import count_pretokens

from .conftest import needs_native

pytestmark = needs_native  # training from counts runs the native merges

TEXTS = [p.read_text(encoding="utf-8") for p in sorted(Path(json.__file__).parent.glob("*.py"))] * 2


def test_train_from_counts_equals_training_on_text(tmp_path):
    cfg = TrainConfig(vocab_size=700, backend="toksmith")
    direct = train_from_texts(TEXTS, cfg, tmp_path / "direct", progress=False)
    counts = count_pretokens(TEXTS, cfg.pattern)
    counts.save(tmp_path / "c.counts")
    from_counts = train_from_counts(tmp_path / "c.counts", cfg, tmp_path / "counted")
    assert (direct / "tokenizer.tiktoken").read_bytes() == (from_counts / "tokenizer.tiktoken").read_bytes()
    with pytest.raises(ToksmithError, match="not the expected"):
        train_from_counts(tmp_path / "c.counts", TrainConfig(vocab_size=700, preset="punct"), tmp_path / "bad")
    with pytest.raises(ToksmithError, match="at most"):
        train_from_counts(counts, TrainConfig(vocab_size=200_000), tmp_path / "big")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "big").exists()


def test_count_then_train_cli(tmp_path):
    exe = str(Path(sys.executable).with_name("toksmith"))
    shard = tmp_path / "shard.jsonl"
    shard.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    r = subprocess.run([exe, "count", str(shard), "--engine", "inline", "--out", str(tmp_path / "s.counts")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([exe, "train", "--counts", str(tmp_path / "s.counts"), "--vocab-size", "700",
                        "--out", str(tmp_path / "tok")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = json.loads((tmp_path / "tok" / "toksmith.json").read_text())
    assert manifest["vocab_size"] == 700 and manifest["backend"] == "toksmith"
