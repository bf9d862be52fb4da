"""TrainConfig validation, exact vocabulary layout, the manifest, atomic writes and bad input."""

from __future__ import annotations

import json
import time

import pytest

from toksmith.artifacts import verify_hashes
from toksmith.bpe import DEFAULT_SPECIAL_TOKENS, TrainConfig, train_from_texts, train_tokenizer
from toksmith.config import from_dict, load_config
from toksmith.errors import ToksmithError
from toksmith.formats import FORMAT, read_manifest, write_tokenizer_dir
from toksmith.references import load_tokenizer
from toksmith.tokenizer import HFTokenizer, TiktokenTokenizer, load_trained

K = len(DEFAULT_SPECIAL_TOKENS)
_ELAPSED_S: dict[str, float] = {}


@pytest.fixture(scope="module")
def trained(train_texts, tmp_path_factory):
    cfg = TrainConfig(vocab_size=700, preset="gpt4", max_token_length=10, name="test-gpt4")
    start = time.perf_counter()
    path = train_from_texts(train_texts, cfg, tmp_path_factory.mktemp("tok") / "gpt4", progress=False)
    _ELAPSED_S["train"] = time.perf_counter() - start  # the test's own clock, around the whole call
    return cfg, path


# ---- config validation --------------------------------------------------------------------------------------


def test_vocab_smaller_than_specials_plus_bytes_names_the_minimum():
    with pytest.raises(ToksmithError, match=r"vocab_size=262 is too small: the minimum is 263"):
        TrainConfig(vocab_size=262)
    assert TrainConfig(vocab_size=257, special_tokens=()).n_merges == 1


def test_invalid_regex_names_the_pattern_and_the_error():
    with pytest.raises(ToksmithError, match=r"TrainConfig.preset: invalid pre-tokenization regex '\(\?P<x': missing >"):
        TrainConfig(preset="(?P<x")


def test_other_bad_fields():
    with pytest.raises(ToksmithError, match="unknown BPE backend 'fast'"):
        TrainConfig(backend="fast")
    with pytest.raises(ToksmithError, match="max_token_length"):
        TrainConfig(max_token_length=1)
    with pytest.raises(ToksmithError, match="min_frequency"):
        TrainConfig(min_frequency=0)
    with pytest.raises(ToksmithError, match="distinct"):
        TrainConfig(special_tokens=("<a>", "<a>"))


def test_config_round_trips_through_toml(tmp_path):
    from toksmith.config import save_config

    cfg = TrainConfig(vocab_size=1000, preset="punct", special_tokens=("<s>", "</s>"), name="x")
    save_config(cfg, tmp_path / "c.toml")
    assert load_config(TrainConfig, tmp_path / "c.toml") == cfg


# ---- the trained directory ----------------------------------------------------------------------------------


def test_vocabulary_layout_is_exact(trained):
    cfg, path = trained
    for tok in (load_trained(path), HFTokenizer.from_file(path / "tokenizer.json")):
        assert tok.vocab_size == cfg.vocab_size
        assert tok.special_tokens == {s: i for i, s in enumerate(DEFAULT_SPECIAL_TOKENS)}
        assert [tok.token_bytes(K + b) for b in range(256)] == [bytes([b]) for b in range(256)]
        merged = [tok.token_bytes(i) for i in range(K + 256, cfg.vocab_size)]
        assert len(set(merged)) == len(merged) and min(map(len, merged)) >= 2
        assert max(map(len, merged)) <= cfg.max_token_length


def test_specials_encode_as_text_and_sit_at_their_ids(trained):
    _, path = trained
    hf = HFTokenizer.from_file(path / "tokenizer.json")
    for i, s in enumerate(DEFAULT_SPECIAL_TOKENS):
        assert hf.tok.token_to_id(s) == i
        assert hf.tok.get_added_tokens_decoder()[i].special
    tt = load_trained(path)
    assert isinstance(tt, TiktokenTokenizer)
    assert tt.encode("<pad>") == hf.encode("<pad>") and 2 not in tt.encode("<pad>")


def test_manifest_records_config_hashes_and_stats(trained, train_texts):
    cfg, path = trained
    m = read_manifest(path)
    assert m["format"] == FORMAT and m["name"] == "test-gpt4" and m["preset"] == "gpt4"
    assert m["vocab_size"] == 700 and m["n_merges"] == 700 - K - 256 and m["backend"] == "hf"
    assert from_dict(TrainConfig, m["config"]) == cfg
    assert load_config(TrainConfig, path / "config.toml") == cfg
    assert m["corpus"]["stream"] == {
        "texts": len(train_texts),
        "chars": sum(map(len, train_texts)),
        "bytes": sum(len(t.encode()) for t in train_texts),
    }
    assert set(m["files"]) == {
        "config.toml", "special_tokens_map.json", "tokenizer.json", "tokenizer.tiktoken",
        "tokenizer_config.json", "vocab.txt",
    }
    assert verify_hashes(path, m["files"]) == []
    import tokenizers

    assert m["versions"]["tokenizers"] == tokenizers.__version__
    # the recorded training time is a real measurement of this run: positive, and inside the test's own clock
    assert 0 < m["timings"]["train_s"] <= _ELAPSED_S["train"]


def test_vocab_sidecar_lists_each_merge(trained):
    _, path = trained
    tok = load_trained(path)
    lines = (path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert lines[1] == f"special [{DEFAULT_SPECIAL_TOKENS[0]}] 0"
    assert lines[1 + K + ord("a")] == f"[a] {K + ord('a')}"
    first = tok.token_bytes(K + 256).decode()
    assert lines[1 + K + 256].endswith(f"-> [{first}] {K + 256}".replace("\n", "\\n").replace("\t", "\\t"))
    assert len(lines) == 1 + 700


def test_load_tokenizer_accepts_the_directory(trained):
    _, path = trained
    assert load_tokenizer(path).encode("x = 1\n") == load_tokenizer(str(path)).encode("x = 1\n")


def test_identity_preset_loads_as_hf_and_round_trips(train_texts, tmp_path):
    docs = [t[i : i + 2000] for t in train_texts[:3] for i in range(0, len(t), 2000)]
    cfg = TrainConfig(vocab_size=400, preset="identity", max_token_length=24)
    tok = load_trained(train_from_texts(docs, cfg, tmp_path / "id", progress=False))
    assert isinstance(tok, HFTokenizer) and tok.vocab_size == 400
    text = "def f(x):\n    return x  # done\n"
    assert tok.decode(tok.encode(text)) == text
    assert any(b" " in tok.token_bytes(i) and len(tok.token_bytes(i).strip()) > 1 for i in range(K + 256, 400))


def test_train_tokenizer_on_the_default_corpus(tmp_path):
    from toksmith.corpus import default_corpus_config

    cfg = TrainConfig(vocab_size=400, corpus=default_corpus_config(total_chars=150_000))
    path = train_tokenizer(cfg, tmp_path / "tok", progress=False)
    m = read_manifest(path)
    stats = m["corpus"]["stats"]["subsets"]
    assert {k.split("/")[0] for k in stats} == {"code", "english"}  # the 70/30 mix, no multilingual
    assert sum(s["chars"] for s in stats.values()) == m["corpus"]["stream"]["chars"]
    assert from_dict(TrainConfig, m["config"]) == cfg
    # the saved config redoes the run: same corpus, same merges, same files
    again = train_tokenizer(load_config(TrainConfig, path / "config.toml"), tmp_path / "again", progress=False)
    m2 = read_manifest(again)
    for name in ("tokenizer.tiktoken", "tokenizer.json", "vocab.txt"):
        assert m2["files"][name] == m["files"][name]


# ---- bad input and nothing half-written ---------------------------------------------------------------------


def test_empty_stream_is_an_error(tmp_path):
    for texts in ([], ["", ""]):
        with pytest.raises(ToksmithError, match="training text stream is empty"):
            train_from_texts(texts, TrainConfig(vocab_size=300), tmp_path / "t", progress=False)
    assert not (tmp_path / "t").exists()


def test_too_little_text_for_the_vocabulary(tmp_path):
    with pytest.raises(ToksmithError, match=r"learned only \d+ of the 738 merges.*more text.*at most \d+"):
        train_from_texts(["def f(x): return x\n"] * 3, TrainConfig(vocab_size=1000), tmp_path / "t", progress=False)
    assert not (tmp_path / "t").exists()


def test_lone_surrogate_in_training_text(tmp_path):
    with pytest.raises(ToksmithError, match=r"training text #1 has a lone surrogate '\\ud800'"):
        train_from_texts(["fine", "bad \ud800"], TrainConfig(vocab_size=300), tmp_path / "t", progress=False)
    assert not (tmp_path / "t").exists()


def test_lone_surrogate_is_rejected_by_both_loads(trained):
    _, path = trained
    for tok in (load_trained(path), HFTokenizer.from_file(path / "tokenizer.json")):
        with pytest.raises(ToksmithError, match="lone surrogate"):
            tok.encode("ok \ud800 no")


def test_interrupted_training_writes_nothing(train_texts, tmp_path):
    def stream():
        yield from train_texts[:2]
        raise KeyboardInterrupt  # the user pressed ^C while the corpus was read

    with pytest.raises(KeyboardInterrupt):
        train_from_texts(stream(), TrainConfig(vocab_size=300), tmp_path / "t", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_failure_inside_the_write_leaves_no_directory_and_keeps_the_old_one(trained, tmp_path):
    cfg, path = trained
    specials = list(cfg.special_tokens)
    tok = load_trained(path)
    merged = [tok.token_bytes(i) for i in range(K + 256, cfg.vocab_size)]
    kwargs = dict(name="x", preset="gpt4", pattern=cfg.pattern, special_tokens=specials, merged=merged)
    with pytest.raises(ValueError):  # a NUL in a file name fails in the middle of writing the directory
        write_tokenizer_dir(tmp_path / "new", extra_files={"bad\0name": ""}, **kwargs)
    assert list(tmp_path.iterdir()) == []
    good = write_tokenizer_dir(tmp_path / "tok", **kwargs)
    before = (good / "toksmith.json").read_text()
    with pytest.raises(ValueError):
        write_tokenizer_dir(tmp_path / "tok", extra_files={"bad\0name": ""}, **kwargs)
    assert (good / "toksmith.json").read_text() == before and [p.name for p in tmp_path.iterdir()] == ["tok"]
    assert json.loads(before)["name"] == "x"
