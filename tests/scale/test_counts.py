"""Count files: 64-bit counts, sums of shards, pattern and integrity checks, the cap, bad inputs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from toksmith.bpe import native
from toksmith.bpe.counts import Counts, sum_counts
from toksmith.errors import ToksmithError
from toksmith.pretokenize import PRESETS, split

from .conftest import needs_native, real_texts

GPT4 = PRESETS["gpt4"]


def python_counts(texts, pattern) -> dict[bytes, int]:
    return dict(Counter(p.encode() for t in texts for p in split(t, pattern)))


@needs_native
@pytest.mark.parametrize("name", ["gpt4", "punct-num2", "gpt2", "o200k", "identity"])
def test_native_counts_equal_python_counts(name):
    texts = real_texts()
    c = native.count_pretokens(texts, PRESETS[name], workers=2, batch_chars=50_000)
    assert c.to_dict() == python_counts(texts, PRESETS[name])
    assert c.total == sum(len(split(t, PRESETS[name])) for t in texts)
    assert list(dict(c.items())) == sorted(c.to_dict())  # canonical order: sorted by bytes


@needs_native
def test_preset_name_means_its_pattern():
    texts = real_texts(3)
    assert native.count_pretokens(texts, "punct") == native.count_pretokens(texts, PRESETS["punct"])


@needs_native
def test_custom_pattern_falls_back_to_regex_in_worker_processes():
    texts = real_texts(4)
    pat = r"\w+|\s+|[^\w\s]+"
    one = native.count_pretokens(texts, pat, workers=1)
    two = native.count_pretokens(texts, pat, workers=2, batch_chars=20_000)
    assert one == two
    assert one.to_dict() == python_counts(texts, pat)


def test_64bit_counts_survive_file_and_sum(tmp_path):
    big = 2**32 + 7  # a 32-bit counter would wrap to 7
    a = Counts.from_dict({b"the": big, b" x": 3}, GPT4)
    b = Counts.from_dict({b"the": big, b"y": 1}, GPT4)
    a.save(tmp_path / "a.counts")
    b.save(tmp_path / "b.counts")
    loaded = Counts.load(tmp_path / "a.counts", expect_pattern=GPT4)
    assert loaded == a and loaded.to_dict()[b"the"] == big
    total = sum_counts([tmp_path / "a.counts", tmp_path / "b.counts"])
    assert total.to_dict() == {b"the": 2 * big, b" x": 3, b"y": 1}
    assert total.counts.dtype == np.uint64


@needs_native
def test_sum_of_shards_equals_counts_of_concatenation(tmp_path):
    texts = real_texts()
    whole = native.count_pretokens(texts, GPT4)
    paths = []
    for i, shard in enumerate([texts[:3], texts[3:4], texts[4:]]):
        paths.append(native.count_pretokens(shard, GPT4, workers=1).save(tmp_path / f"s{i}.counts"))
    assert sum_counts(paths) == whole
    assert sum_counts(reversed(paths)) == whole
    assert (tmp_path / "s0.counts").read_bytes() == native.count_pretokens(texts[:3], GPT4, workers=2).save(
        tmp_path / "again.counts").read_bytes()


def test_pattern_mismatch_refused(tmp_path):
    Counts.from_dict({b"a": 1}, GPT4).save(tmp_path / "g.counts")
    Counts.from_dict({b"a": 1}, PRESETS["punct"]).save(tmp_path / "p.counts")
    with pytest.raises(ToksmithError, match="cannot be added"):
        sum_counts([tmp_path / "g.counts", tmp_path / "p.counts"])
    with pytest.raises(ToksmithError, match="not the expected"):
        Counts.load(tmp_path / "g.counts", expect_pattern=None)


def test_corrupted_or_foreign_file_refused(tmp_path):
    path = Counts.from_dict({b"hello": 5, b"world": 2}, GPT4).save(tmp_path / "c.counts")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # one bit of one key
    (tmp_path / "bad.counts").write_bytes(bytes(data))
    with pytest.raises(ToksmithError, match="corrupted"):
        Counts.load(tmp_path / "bad.counts")
    (tmp_path / "short.counts").write_bytes(bytes(data[:-1]))
    with pytest.raises(ToksmithError, match="corrupted"):
        Counts.load(tmp_path / "short.counts")
    (tmp_path / "other.counts").write_text("hello\n")
    with pytest.raises(ToksmithError, match="not a toksmith counts file"):
        Counts.load(tmp_path / "other.counts")
    with pytest.raises(ToksmithError, match="cannot read"):
        Counts.load(tmp_path / "missing.counts")


def test_cap_prunes_the_rarest():
    c = Counts.from_dict({b"a": 10, b"b": 1, b"c": 5, b"d": 1, b"e": 7}, GPT4)
    capped = c.capped(3)
    assert capped.to_dict() == {b"a": 10, b"c": 5, b"e": 7}  # kept counts exact
    assert capped.pruned_entries == 2 and capped.pruned_total == 2
    assert c.capped(4).to_dict() == {b"a": 10, b"b": 1, b"c": 5, b"e": 7}  # tie at 1: smaller bytes kept


@needs_native
def test_cap_while_counting_bounds_the_table_and_keeps_frequent_entries():
    texts = real_texts()
    full = native.count_pretokens(texts, GPT4, workers=1)
    capped = native.count_pretokens(texts, GPT4, workers=1, max_unique=200, batch_chars=20_000)
    assert len(capped) == 200 and capped.pruned_entries > 0
    top = dict(sorted(full.to_dict().items(), key=lambda kv: (-kv[1], kv[0]))[:50])
    got = capped.to_dict()
    assert set(top) <= set(got)  # the most frequent survive
    assert all(got[k] <= full.to_dict()[k] for k in got)  # never overcounted
    assert capped.total + capped.pruned_total == full.total


@needs_native
def test_bad_inputs():
    with pytest.raises(ToksmithError, match="not one string"):
        native.count_pretokens("just one string", GPT4)
    with pytest.raises(ToksmithError, match="not a str"):
        native.count_pretokens(["ok", 3], GPT4)
    with pytest.raises(ToksmithError, match="not valid Unicode"):
        native.count_pretokens(["ok", "bad \udc80 surrogate"], GPT4)
    with pytest.raises(ToksmithError, match="workers"):
        native.count_pretokens(["x"], GPT4, workers=0)
    with pytest.raises(ToksmithError, match="max_unique"):
        native.count_pretokens(["x"], GPT4, max_unique=0)
    with pytest.raises(ToksmithError, match="does not cover"):
        native.count_pretokens(["x"], r"\w+")
    with pytest.raises(ToksmithError, match="n_merges"):
        native.merges_from_counts(Counts.from_dict({b"ab": 2}, GPT4), -1)
    with pytest.raises(ToksmithError, match="needs a Counts"):
        native.merges_from_counts({b"ab": 2}, 10)
    with pytest.raises(ToksmithError, match="not bytes"):
        Counts.from_dict({"ab": 2}, GPT4)


@needs_native
def test_progress_bar_reports_characters_per_second(capsys):
    texts = real_texts(3)
    shown = native.count_pretokens(texts, GPT4, progress=True, batch_chars=10_000)
    assert shown == native.count_pretokens(texts, GPT4)
    assert "M chars/s" in capsys.readouterr().err


def test_counts_is_pure_python_and_the_switch_disables_the_extension():
    """counts.py never reaches for the extension (no counts <-> native cycle); TOKSMITH_NO_NATIVE=1 turns it off and
    native.sum_counts then falls back to the pure-Python sum."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from toksmith.bpe.counts import Counts, count_texts, sum_counts\n"
        "a = Counts.from_dict({b'x': 3, b'y': 1}, None)\n"
        "assert sum_counts([a, a], max_unique=1).to_dict() == {b'x': 6}\n"
        "assert count_texts(['ab ab'], '\\\\w+|\\\\s+').to_dict() == {b'ab': 2, b' ': 1}\n"
        "assert 'toksmith.bpe.native' not in sys.modules, 'counts imported native'\n"
        "from toksmith.bpe import native\n"
        "assert not native.available() and native.KERNELS == {}\n"
        "assert native.sum_counts([a, a], 1) == sum_counts([a, a], 1)\n"
        "try:\n"
        "    native.count_pretokens(['x'], None)\n"
        "except Exception as e:\n"
        "    print(e)\n"
    )
    env = dict(os.environ, TOKSMITH_NO_NATIVE="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "disabled by TOKSMITH_NO_NATIVE" in out.stdout
