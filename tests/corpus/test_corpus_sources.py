"""Readers: every format on real files, globs, skips with counts, chunking, and the bad-input errors."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from toksmith.corpus import CorpusConfig, CorpusStats, SourceConfig, iter_documents, iter_files, iter_training_texts
from toksmith.corpus.sources import MAX_DOC_CHARS, chunk_text
from toksmith.errors import ToksmithError


def texts(source: SourceConfig, stats: CorpusStats | None = None) -> list[str]:
    return [d.text for d in iter_documents(source, stats)]


def test_directory_globs_include_exclude_and_pruning(tmp_path: Path) -> None:
    for rel in ["a.py", "pkg/b.py", "pkg/test/c.py", "test/d.py", "pkg/e.txt", "site-packages/f.py", "pkg/tests2/g.py"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"# {rel}\n")
    src = SourceConfig(tmp_path, "code", "python", include=("*.py",), exclude=("**/test/**", "site-packages/**"))
    got = [p.relative_to(tmp_path).as_posix() for p in iter_files(src)]
    assert got == ["a.py", "pkg/b.py", "pkg/tests2/g.py"]
    only_pkg = SourceConfig(tmp_path, "code", "python", include=("pkg/*.py",))
    assert [p.name for p in iter_files(only_pkg)] == ["b.py"]
    assert [d.source for d in iter_documents(only_pkg)] == [str(tmp_path / "pkg/b.py")]


def test_text_gzip_jsonl_parquet_formats(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "plain.txt").write_text("plain text\n")
    (tmp_path / "packed.txt.gz").write_bytes(gzip.compress("gzipped text\n".encode()))
    lines = [json.dumps({"text": f"json {i}", "id": i}) for i in range(3)]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n\n")
    (tmp_path / "d2.jsonl.gz").write_bytes(gzip.compress(json.dumps({"content": "zipped json"}).encode() + b"\n"))
    table = pa.table({"text": [f"row {i}" for i in range(10)], "n": list(range(10))})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=3)  # 4 row groups, streamed one at a time
    assert texts(SourceConfig(tmp_path / "plain.txt", "english", "en")) == ["plain text\n"]
    assert texts(SourceConfig(tmp_path / "packed.txt.gz", "english", "en")) == ["gzipped text\n"]
    assert texts(SourceConfig(tmp_path / "d.jsonl", "english", "en")) == ["json 0", "json 1", "json 2"]
    assert texts(SourceConfig(tmp_path / "d2.jsonl.gz", "english", "en", text_field="content")) == ["zipped json"]
    docs = list(iter_documents(SourceConfig(tmp_path / "t.parquet", "english", "en")))
    assert [d.text for d in docs] == [f"row {i}" for i in range(10)]
    assert docs[4].source.endswith("t.parquet#4")
    # an explicit format wins over the suffix
    (tmp_path / "lines.data").write_text(json.dumps({"text": "forced"}) + "\n")
    assert texts(SourceConfig(tmp_path / "lines.data", "english", "en", format="jsonl")) == ["forced"]


def test_datasets_directory(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"body": ["alpha", "beta", "gamma"], "k": [1, 2, 3]}).save_to_disk(str(tmp_path / "ds"))
    src = SourceConfig(tmp_path / "ds", "english", "en", text_field="body")
    assert texts(src) == ["alpha", "beta", "gamma"]
    with pytest.raises(ToksmithError, match=r"no text field 'text'.*body"):
        texts(SourceConfig(tmp_path / "ds", "english", "en"))


def test_binary_and_non_utf8_files_are_skipped_and_counted(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("héllo wörld\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
    (tmp_path / "blob.bin").write_bytes(b"ELF\x00\x01\x02" * 100)
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfwith bom\n")
    (tmp_path / "bad.jsonl").write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    stats = CorpusStats()
    got = texts(SourceConfig(tmp_path, "english", "en"), stats)
    assert sorted(got) == sorted(["ok", "with bom\n", "héllo wörld\n"])
    assert (stats.skipped_binary, stats.skipped_non_utf8, stats.files) == (1, 2, 5)


def test_long_documents_are_split_at_line_boundaries(tmp_path: Path) -> None:
    line = "x" * 999 + "\n"
    text = line * (MAX_DOC_CHARS // 1000 * 2 + 10)  # ~2 MB, several read blocks
    (tmp_path / "big.txt").write_text(text)
    stats = CorpusStats()
    docs = list(iter_documents(SourceConfig(tmp_path / "big.txt", "code", "c"), stats))
    assert len(docs) == 3 and "".join(d.text for d in docs) == text
    assert all(len(d.text) <= MAX_DOC_CHARS and d.text.endswith("\n") for d in docs)
    assert [d.source.rsplit("@", 1)[1] for d in docs] == ["0", "1", "2"] and stats.chunked_documents == 1
    assert chunk_text("ab" * 10, 7) == ["abababa", "bababab", "ababab"]  # no newline: hard cut


def test_missing_path_error_names_it(tmp_path: Path) -> None:
    cfg = CorpusConfig(sources=(SourceConfig(tmp_path / "nope", "code", "go"),))
    with pytest.raises(ToksmithError, match=r"nope.*does not exist"):
        next(iter_training_texts(cfg))


def test_unknown_format_error() -> None:
    with pytest.raises(ToksmithError, match=r"unknown source format 'jsnl'.*Did you mean: jsonl"):
        SourceConfig("x", "code", "go", format="jsnl")


def test_bad_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "a"}\n{"text": "b"\n')
    with pytest.raises(ToksmithError, match=rf"{p}:2: not valid JSON"):
        texts(SourceConfig(p, "english", "en"))
    p.write_text('{"text": "a"}\n{"body": "b"}\n')
    with pytest.raises(ToksmithError, match=rf"{p}:2: no text field 'text' \(keys: body\)"):
        texts(SourceConfig(p, "english", "en"))
    p.write_text('{"text": 3}\n')
    with pytest.raises(ToksmithError, match=r"d.jsonl:1: field 'text' is int"):
        texts(SourceConfig(p, "english", "en"))


def test_unreadable_and_corrupt_files(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.txt", tmp_path / "dangling.txt")
    with pytest.raises(ToksmithError, match=r"cannot read corpus file .*dangling.txt"):
        texts(SourceConfig(tmp_path, "english", "en"))
    (tmp_path / "dangling.txt").unlink()
    (tmp_path / "broken.txt.gz").write_bytes(b"this is not gzip")
    with pytest.raises(ToksmithError, match=r"cannot read corpus file .*broken.txt.gz.*corrupt"):
        texts(SourceConfig(tmp_path / "broken.txt.gz", "english", "en"))
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(ToksmithError, match=r"cannot read corpus file .*bad.parquet"):
        texts(SourceConfig(tmp_path / "bad.parquet", "english", "en"))


def test_source_with_no_matching_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    cfg = CorpusConfig(sources=(SourceConfig(tmp_path, "code", "go", include=("*.go",)),))
    with pytest.raises(ToksmithError, match=r"matched no files \(include=\['\*.go'\]"):
        list(iter_training_texts(cfg))
