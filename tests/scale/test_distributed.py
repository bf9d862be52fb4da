"""Sharded counting: JSONL/Parquet shards, per-shard checkpoints and resume, Ray map-reduce == one process."""

from __future__ import annotations

import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toksmith.bpe import distributed, native
from toksmith.errors import ToksmithError
from toksmith.pretokenize import PRESETS

from .conftest import needs_native, real_texts

pytestmark = needs_native
GPT4 = PRESETS["gpt4"]


def write_shards(tmp_path, texts, n=4) -> list[str]:
    """Shards in the three formats: .jsonl, .jsonl.gz, .parquet (round robin)."""
    paths = []
    for i in range(n):
        part = texts[i::n]
        if i % 3 == 0:
            p = tmp_path / f"part-{i}.jsonl"
            p.write_text("".join(json.dumps({"text": t, "id": k}) + "\n" for k, t in enumerate(part)))
        elif i % 3 == 1:
            p = tmp_path / f"part-{i}.jsonl.gz"
            p.write_bytes(gzip.compress("".join(json.dumps({"text": t}) + "\n" for t in part).encode()))
        else:
            p = tmp_path / f"part-{i}.parquet"
            pq.write_table(pa.table({"text": part}), p)
        paths.append(str(p))
    return paths


def test_sharded_counts_equal_single_process_and_resume(tmp_path):
    texts = real_texts()
    shards = write_shards(tmp_path, texts, 5)
    expected = native.count_pretokens(texts, GPT4)
    bad = tmp_path / "part-bad.jsonl"
    bad.write_text(json.dumps({"text": "fine"}) + "\n{not json\n")
    ckpt = tmp_path / "ckpt"
    with pytest.raises(ToksmithError, match="part-bad.jsonl:2: not valid JSON.*checkpointed"):
        distributed.count_shards(shards[:2] + [str(bad)] + shards[2:], ckpt, "gpt4", engine="inline")
    finished = sorted(p.name for p in ckpt.glob("*.done.json"))
    assert len(finished) == 5  # every good shard was saved although one failed in the middle
    mtimes = {p: os.stat(p).st_mtime_ns for p in ckpt.glob("*.counts")}
    bad.write_text(json.dumps({"text": "fine"}) + "\n")  # fix the shard, rerun: only it is counted
    res = distributed.count_shards(shards[:2] + [str(bad)] + shards[2:], ckpt, "gpt4", engine="inline")
    assert res.counted == (str(bad),) and set(res.reused) == set(shards)
    assert {p: os.stat(p).st_mtime_ns for p in mtimes} == mtimes  # finished shards were not recounted
    assert res.counts == native.count_pretokens(texts + ["fine"], GPT4)
    again = distributed.count_shards(shards, ckpt, "gpt4", engine="inline")
    assert again.counted == () and again.counts == expected


def test_changed_shard_or_pattern_is_recounted(tmp_path):
    shards = write_shards(tmp_path, real_texts(), 3)
    ckpt = tmp_path / "ckpt"
    distributed.count_shards(shards, ckpt, "gpt4", engine="inline")
    with open(shards[0], "a") as f:
        f.write(json.dumps({"text": "one more document"}) + "\n")
    assert distributed.count_shards(shards, ckpt, "gpt4", engine="inline").counted == (shards[0],)
    other = distributed.count_shards(shards, tmp_path / "ckpt", "punct", engine="inline")
    assert set(other.counted) == set(shards) and other.counts.pattern == PRESETS["punct"]


def test_bad_shard_inputs(tmp_path):
    with pytest.raises(ToksmithError, match="does not exist"):
        distributed.count_shards([str(tmp_path / "nope.jsonl")], tmp_path / "c", "gpt4", engine="inline")
    (tmp_path / "a.csv").write_text("x")
    with pytest.raises(ToksmithError, match="unknown format"):
        distributed.count_shards([str(tmp_path / "a.csv")], tmp_path / "c", "gpt4", engine="inline")
    p = tmp_path / "t.parquet"
    pq.write_table(pa.table({"body": ["x"]}), p)
    with pytest.raises(ToksmithError, match=r"no text field 'text' \(keys: body\); pass the right --text-field"):
        distributed.count_shards([str(p)], tmp_path / "c", "gpt4", engine="inline")
    with pytest.raises(ToksmithError, match="twice"):
        distributed.count_shards([str(p), str(p)], tmp_path / "c", "gpt4", engine="inline")
    with pytest.raises(ToksmithError, match="unknown engine"):
        distributed.count_shards([str(p)], tmp_path / "c", "gpt4", engine="spark")


@pytest.mark.slow
def test_ray_local_cluster_same_merges_as_single_process(tmp_path):
    """A local Ray cluster with 2 worker CPUs; reduced corpus under TOKSMITH_SLOW_SCALE=ci."""
    ray = pytest.importorskip("ray")
    texts = real_texts(6 if os.environ.get("TOKSMITH_SLOW_SCALE") == "ci" else 12)
    shards = write_shards(tmp_path, texts, 4)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        merged = distributed.train_sharded(shards, tmp_path / "ckpt", "gpt4", n_merges=400)
        res = distributed.count_shards(shards, tmp_path / "ckpt", "gpt4")
    finally:
        ray.shutdown()
    assert merged == native.train_bpe(texts, pattern=GPT4, n_merges=400, max_token_length=128, min_frequency=2)
    assert res.counted == () and len(res.reused) == 4
