"""The README's main job, end to end on a small budget: train, reuse, compare, saved config reloads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from toksmith.bpe import TrainConfig
from toksmith.config import load_config
from toksmith.study import QuickstartConfig, run_quickstart


def test_quickstart_trains_once_and_compares(tmp_path, caplog):
    cfg = QuickstartConfig(train=TrainConfig(vocab_size=1000), corpus_chars=600_000, out_dir=tmp_path,
                           max_docs_per_subset=20)
    result = run_quickstart(cfg)
    names = [s.tokenizer for s in result.summaries]
    assert names[0] == "llama2" and "cl100k" in names and len(names) == 3
    ours = result.summaries[1]
    assert ours.vocab_size == 1000
    assert set(result.domains) >= {"code", "english", "multilingual"}
    assert result.summary("llama2").nsl["avg"] == 1.0
    # bytes/token of the baseline on code equals bytes / tokens counted directly with sentencepiece
    code_rows = [r for r in result.rows if r.tokenizer == "llama2" and r.domain == "code"]
    assert all(r.n_tokens > 0 and abs(r.bytes_per_token - r.n_bytes / r.n_tokens) < 1e-9 for r in code_rows)
    written = json.loads((tmp_path / "compare" / "compare.json").read_text())
    assert written["config"]["train"]["vocab_size"] == 1000
    tok_dirs = list((tmp_path / "tokenizers").iterdir())
    assert len(tok_dirs) == 1
    mtime = (tok_dirs[0] / "toksmith.json").stat().st_mtime_ns
    caplog.set_level("INFO")
    run_quickstart(cfg)
    assert (tok_dirs[0] / "toksmith.json").stat().st_mtime_ns == mtime  # reused, not retrained
    assert "reusing the trained tokenizer" in caplog.text


def test_quickstart_cli_saves_a_config_that_reloads(tmp_path):
    exe = Path(sys.executable).with_name("toksmith")
    r = subprocess.run([str(exe), "quickstart", "--chars", "400000", "--vocab-size", "600", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "code B/tok" in r.stdout and "cl100k" in r.stdout
    cfg = load_config(QuickstartConfig, tmp_path / "quickstart.toml", section="quickstart")
    assert cfg.train.vocab_size == 600 and cfg.corpus_chars == 400_000


def test_shipped_quickstart_config_loads():
    cfg = load_config(QuickstartConfig, Path(__file__).parents[2] / "configs" / "quickstart-tokenizer.toml", section="quickstart")
    assert cfg == QuickstartConfig()
