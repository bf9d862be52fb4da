"""`toksmith train` / `encode` / `info` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from toksmith.bpe import TrainConfig
from toksmith.cli import main
from toksmith.config import load_config, save_config
from toksmith.formats import read_manifest
from toksmith.tokenizer import load_trained


def run(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
        raise SystemExit(0)
    return e.value.code


def test_train_flags_override_the_config_file_and_are_saved(tmp_path, capsys):
    save_config(TrainConfig(vocab_size=5000, preset="punct", min_frequency=3), tmp_path / "base.toml")
    out = tmp_path / "tok"
    code = run(["train", "--config", str(tmp_path / "base.toml"), "--vocab-size", "300", "--chars", "60000",
                "--code-share", "0.8", "--out", str(out)])  # with the progress bar
    assert code == 0, capsys.readouterr().err
    cfg = load_config(TrainConfig, out / "config.toml")
    assert (cfg.vocab_size, cfg.preset, cfg.min_frequency) == (300, "punct", 3)
    assert cfg.corpus.total_chars == 60000
    assert cfg.corpus.mix == pytest.approx({"code": 0.8, "english": 0.2, "multilingual": 0.0})
    assert read_manifest(out)["vocab_size"] == 300

    capsys.readouterr()
    assert run(["encode", str(out), "def f(x):", "--json"]) == 0
    encoded = json.loads(capsys.readouterr().out)
    assert encoded["ids"] == load_trained(out).encode("def f(x):")
    assert "".join(encoded["tokens"]) == "def f(x):"

    assert run(["info", str(out), "--top", "3"]) == 0
    text = capsys.readouterr().out
    assert "300 tokens" in text and "<|begin_of_text|>=0" in text and "preset" in text


def test_encode_a_file_with_a_reference(tmp_path, capsys):
    (tmp_path / "x.py").write_text("hello world", encoding="utf-8")
    assert run(["encode", "cl100k", "--file", str(tmp_path / "x.py")]) == 0
    assert "ids: 15339 1917" in capsys.readouterr().out  # tiktoken's own golden vector


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--vocab-size", "100", "--out", "x"], "minimum is 263"),
        (["train", "--preset", "(?P<x", "--out", "x"], "invalid pre-tokenization regex"),
        (["train", "--backend", "hff", "--out", "x"], "Did you mean: hf"),
        (["train", "--code-share", "0.9", "--multilingual-share", "0.3", "--out", "x"], "more than 1"),
        (["encode", "cl100k"], "either as an argument or with --file"),
    ],
)
def test_bad_input_is_one_red_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(argv) == 2
    assert message in " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert not (tmp_path / "x").exists()
