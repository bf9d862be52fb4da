"""Every shard format ``toksmith count`` accepts reads back the exact documents written by an independent writer."""

from __future__ import annotations

import gzip
import json

import pytest

from toksmith.bpe.distributed import iter_shard_texts
from toksmith.errors import ToksmithError

from .conftest import real_texts

TEXTS = real_texts(4, 5_000) + ["", "ünïcödé ✓\n", "line\r\nbreaks\n\n"]


def _jsonl(texts) -> bytes:
    return "".join(json.dumps({"text": t, "n": i}) + "\n" for i, t in enumerate(texts)).encode("utf-8")


def test_jsonl_zst_shard_reads_back_exactly(tmp_path) -> None:
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "part-0.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(_jsonl(TEXTS)))
    assert list(iter_shard_texts(str(path))) == TEXTS


def test_zst_stream_written_in_frames_reads_back_exactly(tmp_path) -> None:
    # a streaming writer (no content size in the header, several blocks), as zstd's CLI and datasets tools write
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "part-1.jsonl.zst"
    with open(path, "wb") as fh, zstandard.ZstdCompressor(level=1).stream_writer(fh) as w:
        for i in range(0, len(TEXTS), 2):
            w.write(_jsonl(TEXTS[i:i + 2]))
            w.flush(zstandard.FLUSH_BLOCK)
    assert list(iter_shard_texts(str(path))) == TEXTS


@pytest.mark.parametrize("name", ["part.jsonl", "part.json", "part.jsonl.gz", "part.json.gz"])
def test_plain_and_gzip_json_shards(tmp_path, name: str) -> None:
    data = _jsonl(TEXTS)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert list(iter_shard_texts(str(path))) == TEXTS


def test_corrupt_zst_shard_is_one_clear_error(tmp_path) -> None:
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "bad.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(_jsonl(TEXTS))[:-20])
    with pytest.raises(ToksmithError, match=r"cannot read shard .*bad\.jsonl\.zst.*corrupt or truncated"):
        list(iter_shard_texts(str(path)))
