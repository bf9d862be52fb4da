"""Issue 15: the user's own files, names and sizes through the real CLI entry point (files written by each test)."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import tomllib

import pytest

from toksmith.cli import main
from toksmith.cli.options import split_list
from toksmith.config import parse_size
from toksmith.references import ALIASES, load_reference
from toksmith.formats import read_manifest
from toksmith.tokenizer import load_trained

JAVA = ["class", "public", "static", "void", "main", "String", "int", "return", "if", "else", "for", "import"]
MAN = ["the", "option", "file", "directory", "print", "manual", "page", "display", "read", "write", "mode"]


def run(argv) -> int:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
        raise SystemExit(0)
    return e.value.code


def lines(words, n, width, seed):
    rng = random.Random(seed)
    return ["".join(" ".join(rng.choice(words) for _ in range(width))) for _ in range(n)]


@pytest.fixture()
def mixed_dir(tmp_path):
    """<domain>/<subset>/ layout with a text file per document, a gzipped JSONL and a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "data"
    (root / "code" / "java").mkdir(parents=True)
    (root / "english" / "man").mkdir(parents=True)
    for i in range(15):
        (root / "code" / "java" / f"F{i}.java").write_text(";\n".join(lines(JAVA, 30, 10, i)))
    with gzip.open(root / "english" / "man" / "pages.jsonl.gz", "wt", encoding="utf-8") as f:
        for i, line in enumerate(lines(MAN, 40, 60, 99)):
            f.write(json.dumps({"body": line, "id": i}) + "\n")
    pq.write_table(pa.table({"body": lines(MAN, 20, 60, 7)}), root / "english" / "man" / "more.parquet")
    return root


def test_parse_size_and_list_flags():
    assert [parse_size(v) for v in ("32k", "32000", "32_000", "1.5M")] == [32000, 32000, 32000, 1_500_000]
    assert split_list(["a,b", "c", " d , "]) == ["a", "b", "c", "d"]


def test_train_from_a_directory_of_mixed_files_with_a_mix(mixed_dir, tmp_path, capsys):
    out = tmp_path / "tok"
    code = run(["train", mixed_dir, "--text-field", "body", "--mix", "code=0.7", "--mix", "english=0.3",
                "--vocab-size", "0.36k", "--backend", "toksmith", "--out", out, "--no-progress"])
    assert code == 0, capsys.readouterr().err
    saved = tomllib.loads((out / "config.toml").read_text())
    assert saved["vocab_size"] == 360
    assert {(s["domain"], s["subset"]) for s in saved["corpus"]["sources"]} == {("code", "java"), ("english", "man")}
    assert saved["corpus"]["mix"] == {"code": 0.7, "english": 0.3}  # two --mix flags: neither dropped
    tok = load_trained(out)
    # merges were learned on both domains' files: whole words of each are single tokens
    assert [len(tok.encode(w)) for w in (" public", " static", " directory", " manual")] == [1, 1, 1, 1]
    assert tok.decode(tok.encode("the manual page")) == "the manual page"


def test_train_from_a_jsonl_with_another_text_field_and_names_from_flags(tmp_path, capsys):
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"content": t, "n": i}) + "\n" for i, t in enumerate(lines(MAN, 60, 50, 3))))
    out = tmp_path / "tok"
    code = run(["train", data, "--text-field", "content", "--domain", "english", "--subset", "man",
                "--vocab-size", "300", "--backend", "toksmith", "--out", out, "--no-progress"])
    assert code == 0, capsys.readouterr().err
    (src,) = tomllib.loads((out / "config.toml").read_text())["corpus"]["sources"]
    assert (src["domain"], src["subset"], src["text_field"]) == ("english", "man", "content")
    # the wrong field is one clear line naming the file and the key, not a traceback
    code = run(["train", data, "--vocab-size", "300", "--backend", "toksmith", "--out", tmp_path / "t2",
                "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "'text'" in err and "docs.jsonl" in err and "Traceback" not in err


def test_train_on_zstd_compressed_text_and_jsonl(tmp_path, capsys):
    zstandard = pytest.importorskip("zstandard")
    root = tmp_path / "data"
    (root / "code" / "java").mkdir(parents=True)
    (root / "english" / "man").mkdir(parents=True)
    java = ";\n".join(lines(JAVA, 200, 10, 1))
    (root / "code" / "java" / "All.java.zst").write_bytes(zstandard.ZstdCompressor().compress(java.encode()))
    man = "".join(json.dumps({"text": t}) + "\n" for t in lines(MAN, 100, 40, 2))
    with open(root / "english" / "man" / "pages.jsonl.zst", "wb") as fh, zstandard.ZstdCompressor().stream_writer(fh) as w:
        w.write(man.encode())  # a streaming frame: no content size in the header
    out = tmp_path / "tok"
    code = run(["train", root, "--vocab-size", "360", "--backend", "toksmith", "--out", out, "--no-progress"])
    assert code == 0, capsys.readouterr().err
    sources = tomllib.loads((out / "config.toml").read_text())["corpus"]["sources"]
    assert {(s["domain"], s["subset"]) for s in sources} == {("code", "java"), ("english", "man")}
    tok = load_trained(out)
    assert [len(tok.encode(w)) for w in (" public", " static", " directory", " manual")] == [1, 1, 1, 1]
    (root / "english" / "man" / "pages.jsonl.zst").write_bytes(b"\x28\xb5\x2f\xfd truncated")
    code = run(["train", root, "--vocab-size", "300", "--backend", "toksmith", "--out", tmp_path / "t2", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "pages.jsonl.zst" in err and "Traceback" not in err, err


def test_train_on_a_glob_and_a_missing_path(mixed_dir, tmp_path, capsys):
    out = tmp_path / "tok"
    code = run(["train", f"{mixed_dir}/**/*.java", "--domain", "code", "--vocab-size", "300", "--backend",
                "toksmith", "--out", out, "--no-progress"])
    assert code == 0, capsys.readouterr().err
    sources = tomllib.loads((out / "config.toml").read_text())["corpus"]["sources"]
    assert len(sources) == 15 and {s["subset"] for s in sources} == {f"F{i}" for i in range(15)}
    assert run(["train", tmp_path / "nope" / "*.txt", "--out", tmp_path / "x"]) == 2
    assert "no file matches" in capsys.readouterr().err


def test_compare_on_two_plain_jsonl_files_given_as_two_corpus_flags(tmp_path, capsys):
    a, b = tmp_path / "java.jsonl", tmp_path / "man.jsonl"
    a.write_text("".join(json.dumps({"text": t}) + "\n" for t in lines(JAVA, 20, 30, 1)))
    b.write_text("".join(json.dumps({"text": t}) + "\n" for t in lines(MAN, 25, 30, 2)))
    out = tmp_path / "cmp"
    code = run(["compare", "gpt2", "cl100k", "--corpus", a, "--corpus", f"docs={b}", "--out", out, "--no-plots"])
    assert code == 0, capsys.readouterr().err
    result = json.loads(next(out.glob("*.json")).read_text())
    text = json.dumps(result)
    assert "java" in text and "docs" in text  # both --corpus values measured, the second under its NAME=
    # token counts are the real ones: the subset's tokens under gpt2 equal encoding each document
    gpt2 = load_reference("gpt2")
    expected = sum(len(gpt2.encode(t)) for t in lines(JAVA, 20, 30, 1))
    assert str(expected) in text


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_every_alias_in_encode_and_compare(alias, tmp_path, capsys):
    assert run(["encode", alias, "def f(x): return x", "--json"]) == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out)
    assert got["ids"] == load_reference(ALIASES[alias]).encode("def f(x): return x")
    corpus = tmp_path / "t.txt"
    corpus.write_text("def f(x):\n    return x * 2\n")
    code = run(["compare", alias, "--baseline", alias, "--corpus", corpus, "--out", tmp_path / "c", "--no-plots",
                "--no-detail"])
    assert code == 0, capsys.readouterr().err


def test_train_counts_config_records_the_counts_and_reruns_the_same_training(mixed_dir, tmp_path, capsys):
    counts = tmp_path / "java.counts"
    assert run(["count", mixed_dir / "code" / "java" / "F0.java", "--out", counts, "--engine", "inline"]) == 2
    capsys.readouterr()  # a .java file is no JSONL shard: refused (checked below: no .shards left behind)
    assert not (tmp_path / "java.counts.shards").exists()
    shard = tmp_path / "java.jsonl"
    shard.write_text("".join(json.dumps({"text": t}) + "\n" for t in lines(JAVA, 200, 12, 5)))
    assert run(["count", shard, "--out", counts, "--engine", "inline"]) == 0, capsys.readouterr().err
    out1, out2 = tmp_path / "a", tmp_path / "b"
    assert run(["train", "--counts", counts, "--vocab-size", "300", "--out", out1]) == 0, capsys.readouterr().err
    saved = tomllib.loads((out1 / "config.toml").read_text())
    assert saved["counts"] == {"path": str(counts.resolve()),
                               "sha256": hashlib.sha256(counts.read_bytes()).hexdigest()}
    assert run(["train", "--config", out1 / "config.toml", "--out", out2]) == 0, capsys.readouterr().err
    assert (out2 / "tokenizer.json").read_bytes() == (out1 / "tokenizer.json").read_bytes()
    assert read_manifest(out2)["corpus"] == read_manifest(out1)["corpus"]
    # a changed counts file is refused, as is a backend that cannot train from counts
    counts.write_bytes(counts.read_bytes() + b"\n")
    assert run(["train", "--config", out1 / "config.toml", "--out", tmp_path / "c"]) == 2
    assert "changed since that run" in capsys.readouterr().err
    assert run(["train", "--counts", counts, "--backend", "hf", "--vocab-size", "300", "--out", tmp_path / "d"]) == 2
    assert "--backend hf cannot train from --counts" in capsys.readouterr().err


def test_count_on_empty_input_is_an_error_and_leaves_nothing(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert run(["count", empty, "--out", tmp_path / "e.counts", "--engine", "inline"]) == 2
    assert "no text to count" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl"]


def test_cost_with_measured_tokenizers_writes_strict_json(tmp_path, capsys):
    out = tmp_path / "cost"
    # gpt2 (50,257) and cl100k (100,277): 32k, 128k and 256k are outside the measured curve
    code = run(["cost", "-m", "llama2-7b", "--nsl", "tokenizers:r50k,gpt4", "--out", out])
    printed = capsys.readouterr().out
    assert code == 0
    data = json.loads((out / "cost.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in cost.json"))
    assert [r["vocab_size"] for r in data["rows"]] == [64000]
    assert data["summaries"][0]["flops_saved_vs_32k"] is None  # 32k is off the measured curve: null, not NaN
    assert data["valid_vocab_range"] == [50257, 100277]
    assert "valid for V = 50,257..100,277" in printed and "nan" not in printed.lower().replace("n/a", "")


def test_errors_name_the_flag_not_the_config_field(tmp_path, capsys):
    assert run(["train", "--vocab-size", "10", "--out", tmp_path / "t"]) == 2
    err = capsys.readouterr().err
    assert "--vocab-size" in err and "TrainConfig" not in err
    assert run(["compare", "gpt2", "--max-docs", "0"]) == 2
    err = capsys.readouterr().err
    assert "--max-docs" in err and "CompareConfig" not in err
    assert run(["train", "--vocab-size", "3x2k"]) == 2
    assert "--vocab-size" in capsys.readouterr().err
    # flags whose names differ from their config fields, and a limits dataclass
    for argv, flag, field in [(["transfer", "smollm2", tmp_path, "--out", tmp_path / "m", "--pad-to", "0"], "--pad-to", "pad_to_multiple_of"),
                              (["finetune", "smollm2", "--out", tmp_path / "r", "--steps", "0"], "--steps", "FinetuneConfig"),
                              (["evaluate", "--samples", tmp_path / "s.jsonl", "--timeout", "0"], "--timeout", "timeout_s"),
                              (["cost", "--bytes-per-token", "-1"], "--bytes-per-token", "baseline_bytes_per_token")]:
        assert run(argv) == 2, argv
        err = capsys.readouterr().err
        assert flag in err and field not in err and "Traceback" not in err, err


def test_wide_tables_switch_to_a_compact_layout_at_80_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert run(["cost", "-m", "llama2-7b", "--vocab", "32k,64k", "--out", tmp_path / "c"]) == 0
    printed = capsys.readouterr().out
    assert "…" not in printed
    assert "llama2-7b: V 32,000; NSL" in printed  # one line per row, every cell whole


def test_help_shows_the_config_defaults():
    from typer.testing import CliRunner

    from toksmith.bpe import TrainConfig
    from toksmith.cli import _load_commands, app

    _load_commands()
    text = " ".join(CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "300"}).output.split())
    assert f"{TrainConfig().vocab_size:_}" in text and f"[default: ({TrainConfig().backend})]" in text


def test_cost_curve_outside_the_search_range_names_the_flags(tmp_path, capsys):
    code = run(["cost", "-m", "llama2-7b", "--nsl", "tokenizers:r50k,gpt4", "--v-max", "20k", "--out", tmp_path / "c"])
    err = capsys.readouterr().err
    assert code == 2 and "50,257..100,277" in err and "--v-max" in err and "Traceback" not in err


def test_a_single_valued_flag_given_twice_is_refused(tmp_path, capsys):
    assert run(["train", "--vocab-size", "1k", "--vocab-size=2k", "--out", tmp_path / "t"]) == 2
    assert "--vocab-size given 2 times (1k, 2k)" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
