"""Sweeps on a tiny in-process corpus: caching by config hash, the vocab prefix shortcut, fits, files, errors."""

from __future__ import annotations

import csv
import dataclasses
import json
import sysconfig
from pathlib import Path

import pytest

from toksmith.analysis import sweep as sw
from toksmith.bpe import TrainConfig, train_tokenizer
from toksmith.corpus import CorpusConfig, SourceConfig
from toksmith.corpus.default import DATA_DIR
from toksmith.errors import ToksmithError
from toksmith.references import load_tokenizer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> CorpusConfig:
    """Code (the interpreter's json and email packages cut into 3k-char documents), and the default corpus'
    vendored English plays and German handbook; 150k training characters."""
    root = tmp_path_factory.mktemp("corpus")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = "".join(f.read_text(encoding="utf-8") for pkg in ("json", "email") for f in sorted((stdlib / pkg).glob("*.py")))
    for i in range(0, min(len(code), 300_000), 3000):
        (root / f"{i:07d}.py").write_text(code[i:i + 3000], encoding="utf-8")
    return CorpusConfig(
        sources=(SourceConfig(root, "code", "python", include=("*.py",)),
                 SourceConfig(DATA_DIR / "english-plays.jsonl.gz", "english", "plays", format="jsonl"),
                 SourceConfig(DATA_DIR / "de.jsonl.gz", "multilingual", "de", format="jsonl")),
        mix={"code": 0.7, "english": 0.3, "multilingual": 0.0}, total_chars=150_000, heldout_fraction=0.2,
        heldout_max_docs=30,
    )


@pytest.fixture(scope="module")
def base(corpus) -> TrainConfig:
    return dataclasses.replace(TrainConfig(vocab_size=600, backend=sw.DEFAULT_SWEEP_BACKEND), corpus=corpus)


def test_vocab_sweep_trains_the_largest_once_and_fits(tmp_path, base, caplog):
    cfg = sw.SweepConfig(lever="vocab", values=("400", "500", "700", "600"), base=base, out_dir=tmp_path)
    result = sw.run_sweep(cfg)
    assert [p.label for p in result.points] == ["V=400", "V=500", "V=600", "V=700"]
    trained = [p for p in result.points if not p.reused]
    assert [p.label for p in trained] == ["V=700"]  # the others are its prefixes
    assert all(p.derived_from == trained[0].config_hash for p in result.points if p.label != "V=700")
    assert len(list((tmp_path / "tokenizers").iterdir())) == 1
    nsl = [result.nsl(p)["avg"] for p in result.points]
    assert nsl == sorted(nsl, reverse=True)  # a larger vocabulary never compresses worse here
    assert set(result.fits) == {"avg", "code", "english", "multilingual"}
    assert [f.form for f in result.fits["code"]] == ["exp", "power"]
    rows = list(csv.DictReader((tmp_path / "sweep.csv").open()))
    assert [int(r["vocab_size"]) for r in rows] == [400, 500, 600, 700]
    assert json.loads((tmp_path / "sweep.json").read_text())["fits"]["code"][0]["form"] == "exp"
    assert (tmp_path / "nsl_vs_vocab.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "compare" / "subsets.csv").is_file()
    # a repeated sweep trains nothing
    again = sw.run_sweep(cfg)
    assert all(p.reused for p in again.points)
    assert [again.nsl(p) for p in again.points] == [result.nsl(p) for p in result.points]


@pytest.mark.parametrize("backend", ["hf", sw.DEFAULT_SWEEP_BACKEND])
def test_prefix_equals_training_at_the_smaller_size(tmp_path, base, backend):
    base = dataclasses.replace(base, backend=backend)
    small = train_tokenizer(dataclasses.replace(base, vocab_size=450), tmp_path / "small")
    big = train_tokenizer(dataclasses.replace(base, vocab_size=700), tmp_path / "big")
    direct = load_tokenizer(small)
    derived = sw.truncated(load_tokenizer(big), 450, "derived")
    assert derived.mergeable_ranks == direct.mergeable_ranks
    assert derived.special_tokens == direct.special_tokens
    assert derived.vocab_size == direct.vocab_size == 450


def test_preset_sweep_caches_each_point(tmp_path, base):
    cfg = sw.SweepConfig(lever="preset", values=("gpt4", "punct"), base=base, out_dir=tmp_path)
    result = sw.run_sweep(cfg)
    assert [p.label for p in result.points] == ["gpt4", "punct"]
    assert len({p.config_hash for p in result.points}) == 2 and not any(p.reused for p in result.points)
    assert (tmp_path / "nsl_per_preset.png").is_file()
    extended = sw.run_sweep(dataclasses.replace(cfg, values=("gpt4", "punct", "gpt2")))
    assert [p.reused for p in extended.points] == [True, True, False]


def test_mix_sweep_moves_compression_towards_the_trained_domain(tmp_path, base):
    cfg = sw.SweepConfig(lever="mix", values=("code=1.0", "multilingual=1.0"), base=base, out_dir=tmp_path)
    result = sw.run_sweep(cfg)
    code_only, multi_only = (result.nsl(p) for p in result.points)
    assert code_only["code"] < multi_only["code"]
    assert multi_only["multilingual"] < code_only["multilingual"]
    assert [r["label"] for r in csv.DictReader((tmp_path / "sweep.csv").open())] == ["c100", "m100"]


def test_grid_parsing_and_errors(base):
    assert sw.parse_vocab("16k") == 16000 and sw.parse_vocab("32000") == 32000 and sw.parse_vocab("1.5k") == 1500
    assert sw.parse_mix("code=0.7+english=0.3") == {"code": 0.7, "english": 0.3}
    with pytest.raises(ToksmithError, match="unknown sweep lever"):
        sw.SweepConfig(lever="size", values=("1k",), base=base)
    with pytest.raises(ToksmithError, match="not a vocabulary size"):
        sw.SweepConfig(lever="vocab", values=("big", "1k", "2k"), base=base)
    with pytest.raises(ToksmithError, match="sum to 0.9"):
        sw.SweepConfig(lever="mix", values=("code=0.6+english=0.3",), base=base)
    with pytest.raises(ToksmithError, match="pre-tokenization preset"):
        sw.SweepConfig(lever="preset", values=("gtp4",), base=base)
    with pytest.raises(ToksmithError, match="duplicates"):
        sw.SweepConfig(lever="preset", values=("gpt4", "gpt4"), base=base)


def test_sweep_config_round_trips_through_toml(tmp_path, base):
    from toksmith.config import load_config, save_config

    cfg = sw.SweepConfig(lever="mix", values=("code=1.0", "code=0.5+english=0.5"), base=base, out_dir=tmp_path)
    save_config(cfg, tmp_path / "sweep.toml")
    assert load_config(sw.SweepConfig, tmp_path / "sweep.toml") == cfg
