"""Every reference tokenizer loads offline from the shipped files and reproduces llama.cpp's golden vectors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import toksmith
from toksmith.references import ALIASES, DATA_DIR, REFERENCES, load_reference

GOLDEN = Path(__file__).parent / "golden"
# golden folder -> registry name
GOLDEN_FOR = {"r50k": "gpt2", "gpt2": "gpt2-hf", "llama2": "llama2", "llama3": "llama3", "starcoder": "starcoder",
              "deepseek-coder": "deepseek-coder", "qwen2": "qwen2"}


def golden_cases(folder: str) -> list[tuple[str, list[int]]]:
    inputs = (GOLDEN / folder / "golden.inp").read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")[:-1]
    outputs = (GOLDEN / folder / "golden.out").read_text(encoding="utf-8").split("\n")
    return [(text, [int(x) for x in out.split()]) for text, out in zip(inputs, outputs)]


@pytest.mark.parametrize("folder", sorted(GOLDEN_FOR))
def test_golden_vectors(folder):
    tok = load_reference(GOLDEN_FOR[folder])
    cases = golden_cases(folder)
    assert len(cases) == 46
    for text, expected in cases:
        assert tok.encode(text) == expected, f"{folder}: {text!r}"
    # batch encoding gives the same ids as one-by-one
    assert tok.encode_batch([t for t, _ in cases]) == [e for _, e in cases]


# Published "hello world" vectors for the references without llama.cpp golden files (shared/references/README).
KNOWN = {"cl100k": ("hello world", [15339, 1917]), "o200k": ("hello world", [24912, 2375]),
         "gpt2": ("hello world", [31373, 995]), "mistral": ("Hello world", [22557, 1526]),
         "llama2": ("Hello world", [15043, 3186]), "starcoder": ("Hello world", [8302, 5810]),
         "deepseek-coder": ("Hello world", [17535, 1835]), "qwen2": ("Hello world", [9707, 1879])}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_ids(name):
    text, ids = KNOWN[name]
    assert load_reference(name).encode(text) == ids


def test_cl100k_equals_tiktoken_directly():
    """Our cl100k adapter equals tiktoken's own Encoding built from the same file."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    d = DATA_DIR / "cl100k"
    enc = tiktoken.Encoding("cl100k_base", pat_str=(d / "pattern.txt").read_text().strip("\n"),
                            mergeable_ranks=load_tiktoken_bpe(str(d / "cl100k_base.tiktoken")), special_tokens={})
    text = Path(toksmith.__file__).read_text() + "\u00e9t\u00e9 \u4e2d\u6587 \U0001f600\r\n\t 12345"
    assert load_reference("cl100k").encode(text) == enc.encode_ordinary(text)
    # llama3's first 100,256 ranks are cl100k's and it uses the same pattern
    assert load_reference("llama3").encode(text) == enc.encode_ordinary(text)


def test_every_name_loads_with_consistent_bytes():
    text = "def f(x):\n    return x  # caf\u00e9 \u4e2d"
    for name in REFERENCES:
        tok = load_reference(name)
        ids = tok.encode(text)
        assert tok.decode(ids) == text, name
        # token bytes concatenate to the text (SentencePiece adds its dummy-prefix space in front)
        raw = b"".join(tok.token_bytes(i) for i in ids)
        assert raw in (text.encode(), b" " + text.encode()), name
        assert tok.vocab_size >= max(ids) + 1


def test_aliases_resolve():
    for alias, name in ALIASES.items():
        assert load_reference(alias) is load_reference(name)


def test_shipped_files_match_recorded_sha256():
    lines = (DATA_DIR / "SHA256SUMS").read_text().splitlines()
    assert len(lines) >= 10
    for line in lines:
        digest, rel = line.split()
        assert hashlib.sha256((DATA_DIR / rel).read_bytes()).hexdigest() == digest, rel
    for name, ref in REFERENCES.items():
        assert ref.path.is_file(), name
        assert (ref.path.parent / "LICENSE.md").is_file(), name


def test_unknown_reference_lists_known_names():
    with pytest.raises(toksmith.ToksmithError) as e:
        toksmith.load_tokenizer("lama2")
    assert "Did you mean: llama2" in str(e.value)
    assert "cl100k" in str(e.value)


def test_tiktoken_file_gets_its_special_tokens_and_pattern_flag(tmp_path, capsys):
    """A copy of cl100k_base.tiktoken (no pattern.txt beside it) loads with cl100k's pattern and 5 special tokens."""
    from toksmith.cli import main

    copy = tmp_path / "cl100k_base.tiktoken"
    copy.write_bytes((DATA_DIR / "cl100k" / "cl100k_base.tiktoken").read_bytes())
    tok = toksmith.load_tokenizer(copy)
    assert tok.vocab_size == 100277 and tok.special_tokens["<|endoftext|>"] == 100257
    text = "hello world  123456 caf\u00e9"
    assert tok.encode(text) == load_reference("cl100k").encode(text)
    # --pattern overrides: a regex, a file or a reference name
    assert toksmith.load_tokenizer(copy, pattern=r"\S+|\s+").encode("hello world") == [15339, 220, 14957]
    (tmp_path / "pat.txt").write_text(r"\S+|\s+")
    assert toksmith.load_tokenizer(copy, pattern=str(tmp_path / "pat.txt")).encode("hello world") == [15339, 220, 14957]
    assert toksmith.load_tokenizer(copy, pattern="o200k").encode(text) == tok.encode(text)  # same class of regex
    with pytest.raises(SystemExit) as e:
        main(["encode", str(copy), "hello world", "--json", "--pattern", r"\S+|\s+"])
        raise SystemExit(0)
    assert e.value.code == 0
    assert json.loads(capsys.readouterr().out)["ids"] == [15339, 220, 14957]


def test_unknown_tiktoken_file_needs_a_pattern_and_bad_pattern_is_one_line(tmp_path):
    ranks = tmp_path / "tiny.tiktoken"
    ranks.write_bytes((DATA_DIR / "r50k" / "r50k_base.tiktoken").read_bytes()[:20000])
    with pytest.raises(toksmith.ToksmithError, match="--pattern") as e:
        toksmith.load_tokenizer(ranks)
    assert "\n" not in str(e.value)
    (tmp_path / "pattern.txt").write_text("(?<=unclosed [a-")
    with pytest.raises(toksmith.ToksmithError) as e:
        toksmith.load_tokenizer(ranks)
    msg = str(e.value)
    assert str(tmp_path / "pattern.txt") in msg and "\n" not in msg
    (tmp_path / "pattern.txt").write_text("a")  # compiles but drops every other character
    with pytest.raises(toksmith.ToksmithError, match="does not cover"):
        toksmith.load_tokenizer(ranks)


def test_compare_takes_a_tiktoken_file_with_pattern(tmp_path, capsys):
    """`compare` on a .tiktoken file with no pattern.txt: refused with the flag to use, then measured with --pattern."""
    from toksmith.cli import main

    lines = (DATA_DIR / "r50k" / "r50k_base.tiktoken").read_bytes().splitlines()
    ranks = tmp_path / "mine.tiktoken"  # r50k without its last rank: not a shipped file, so no pattern is known
    ranks.write_bytes(b"\n".join(lines[:-1]) + b"\n")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"def f{i}(x):\n    return x * {i}\n"}) + "\n" for i in range(30)))
    args = ["compare", str(ranks), "--baseline", "gpt2", "--corpus", str(corpus), "--out", str(tmp_path / "out"),
            "--no-plots", "--no-detail"]
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--pattern" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as e:
        main(args + ["--pattern", "gpt2"])
        raise SystemExit(0)
    assert e.value.code == 0, capsys.readouterr().err
    rows = {r["tokenizer"]: r for r in json.loads((tmp_path / "out" / "compare.json").read_text())["rows"]}
    assert rows["mine"]["n_tokens"] == rows["gpt2"]["n_tokens"] == 450  # gpt2's ranks and, by --pattern, its regex


def test_tokenizer_module_does_not_import_references():
    """references imports tokenizer, never the reverse (no import cycle); load_tokenizer lives in references."""
    import ast

    import toksmith.tokenizer

    tree = ast.parse(Path(toksmith.tokenizer.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    assert not {m for m in imported if m and "references" in m}, imported
    assert not hasattr(toksmith.tokenizer, "load_tokenizer")
    assert toksmith.load_tokenizer("gpt-4") is load_reference("cl100k")  # aliases resolve through load_tokenizer too
