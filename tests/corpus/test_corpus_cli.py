"""``toksmith corpus`` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from toksmith.cli import main
from toksmith.config import save_config


def test_corpus_command_prints_stats_as_json(mixed_corpus, tmp_path, capsys) -> None:
    path = save_config(mixed_corpus, tmp_path / "corpus.toml")
    main(["corpus", "--config", str(path), "--json", "--total-chars", "1000", "--heldout-fraction", "0", "--no-dedup"])
    stats = json.loads(capsys.readouterr().out)
    assert stats["total_chars"] == 1000
    assert set(stats["subsets"]) == {"code/python", "code/go", "code/c", "english/en", "multilingual/de"}
    py = stats["subsets"]["code/python"]
    assert (py["train_docs"], py["heldout_docs"], py["budget_chars"]) == (40, 0, 200)
    assert stats["domains"]["code"]["share"] == 0.6


def test_corpus_command_table(mixed_corpus, tmp_path, capsys) -> None:
    path = save_config({"corpus": mixed_corpus}, tmp_path / "study.toml")  # a [corpus] table of a larger file
    main(["corpus", "--config", str(path), "--section", "corpus", "--mix", "code=0.5,english=0.5,multilingual=0"])
    out = capsys.readouterr().out
    assert "held docs" in out and "multilingual" in out and "python" in out


@pytest.mark.parametrize("mix, message", [("code=0.5", "add up to 0.5"), ("code", "domain=share pairs")])
def test_corpus_command_bad_mix(mixed_corpus, tmp_path, capsys, mix, message) -> None:
    path = save_config(mixed_corpus, tmp_path / "corpus.toml")
    with pytest.raises(SystemExit) as e:
        main(["corpus", "--config", str(path), "--mix", mix])
    assert e.value.code == 2 and message in capsys.readouterr().err.replace("\n", " ")
