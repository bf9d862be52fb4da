"""Counting beyond one machine: pre-token counting as a map-reduce on Ray, merges on the driver.

Map: one Ray task per shard (JSONL, JSONL.gz or Parquet; a local path or an object-store URI such as
``s3://bucket/part-000.parquet``, read with ``pyarrow.fs``) splits and counts it with the native counter
(:func:`toksmith.bpe.native.count_pretokens`) and returns the compact counts to the driver. The driver writes each
shard's counts as a count file (:mod:`toksmith.bpe.counts`) plus, last, a completion marker (JSON: shard URI, its
size and mtime, pattern sha256, sha256 of the count file). Reduce: the driver sums the count files, then learns the
merges (:func:`toksmith.bpe.native.merges_from_counts`). Count files are sorted by bytes and summing is
commutative, so the merges do not depend on the number of workers, on how the data is sharded, or on the order in
which tasks finish (without a cap; see ``counts.py`` for the cap's effect).

Resume: a rerun with the same ``checkpoint_dir`` skips every shard whose marker is valid (same URI, size, mtime
and pattern, count file intact) and counts only the others. When a task fails, the driver still collects the
tasks that are running, saves their checkpoints, then raises, so the rerun redoes only the failed shard.

Why Ray rather than Dask: the map step is coarse (one task per shard, a native multi-threaded counter inside),
returns a few MB of numpy arrays per shard, and needs no dataframe semantics; Ray's tasks + object store do exactly
that, start a local cluster with one call, run the same code on a real cluster, and Ray is already a dependency of
the stack this project targets. Dask would need its bag/delayed layer and a separate scheduler process for the same.

Pointing it at a real cluster: start the head node with ``ray start --head`` and each worker with
``ray start --address=<head-ip>:6379``; install toksmith (with its extension built) on every node, or ship it with
``ray.init(runtime_env={"py_modules": [toksmith]})``; then run the driver on any node with ``address="auto"`` (or
``"ray://<head-ip>:10001"`` from outside). Shards must be readable from every node (object store, NFS); the
checkpoint directory is only written by the driver. ``threads_per_task`` sets the native counting threads and the
CPUs each task reserves. Locally (tests, one machine) ``num_cpus=N`` starts a private cluster of N worker CPUs.

Limits: a shard is counted by one task (make shards of tens to hundreds of MB); the reduce and the merges run on
the driver, whose memory must hold the summed counts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import atomic_write_json, sha256_file
from ..corpus.sources import check_text, jsonl_records, parquet_texts
from ..errors import ToksmithError
from ..pretokenize import resolve_pattern
from . import native
from .counts import Counts, pattern_sha256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardCountResult:
    """The summed counts of a sharded run and which shards were counted now or reused from checkpoints."""

    counts: Counts
    counted: tuple[str, ...]
    reused: tuple[str, ...]
    chars: int


# ------------------------------------------------------------------------------------------------ reading shards
def _fs_and_path(uri: str):
    import pyarrow.fs as pafs

    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as e:  # pyarrow raises ArrowInvalid / OSError with useful text
        raise ToksmithError(f"cannot open shard {uri!r}: {e}") from None


def shard_info(uri: str) -> dict:
    """Size and mtime of a shard (to notice a shard that changed since its checkpoint)."""
    import pyarrow.fs as pafs

    fs, path = _fs_and_path(uri)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        raise ToksmithError(f"shard {uri!r} does not exist or is not a file")
    mtime = info.mtime.timestamp() if info.mtime is not None else None
    return {"uri": uri, "size": info.size, "mtime": mtime}


def iter_shard_texts(uri: str, text_field: str = "text") -> Iterator[str]:
    """Documents of one shard: JSONL (``.jsonl``, ``.json``, optionally ``.gz``/``.zst``) or Parquet."""
    import pyarrow as pa

    try:
        yield from _shard_texts(uri, text_field)
    except (OSError, pa.ArrowException) as e:
        raise ToksmithError(f"cannot read shard {uri!r}: {e}; the file is corrupt or truncated, fix or exclude it") from None


def _shard_texts(uri: str, text_field: str) -> Iterator[str]:
    fs, path = _fs_and_path(uri)
    name = path.lower()
    hint = "pass the right --text-field"
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        with fs.open_input_file(path) as f:
            yield from (t for t, _ in parquet_texts(pq.ParquetFile(f), text_field, f"shard {uri}", hint))
        return
    if not any(name.endswith(ext) for ext in (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.zst")):
        raise ToksmithError(f"shard {uri!r}: unknown format; use .jsonl[.gz|.zst] or .parquet")
    with fs.open_input_stream(path, compression="detect") as f:
        for n, record in jsonl_records(_lines(f), f"shard {uri}"):
            yield check_text(record.get(text_field), text_field, f"shard {uri}:{n}", list(record), hint)


def _lines(f, block: int = 1 << 22) -> Iterator[bytes]:
    rest = b""
    while chunk := f.read(block):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


# ------------------------------------------------------------------------------------------------ map task
def _count_shard_task(uri: str, text_field: str, pattern: str | None, threads: int, max_unique: int | None):
    """Runs in a Ray worker: count one shard, return raw arrays (small) and the characters read."""
    from . import native

    chars = 0

    def texts():
        nonlocal chars
        for t in iter_shard_texts(uri, text_field):
            chars += len(t)
            yield t

    c = native.count_pretokens(texts(), pattern, workers=threads, max_unique=max_unique, progress=False)
    return c.blob, c.lengths, c.counts, c.pruned_entries, c.pruned_total, chars


# ------------------------------------------------------------------------------------------------ checkpoints
def _shard_key(uri: str) -> str:
    return hashlib.sha256(uri.encode()).hexdigest()[:16]


def _marker_ok(ckpt: Path, uri: str, pattern: str | None) -> bool:
    key = _shard_key(uri)
    marker, counts = ckpt / f"{key}.done.json", ckpt / f"{key}.counts"
    try:
        m = json.loads(marker.read_text())
        info = shard_info(uri)
        return (
            m["uri"] == uri
            and m["size"] == info["size"]
            and m["mtime"] == info["mtime"]
            and m["pattern_sha256"] == pattern_sha256(pattern)
            and counts.is_file()
            and sha256_file(counts) == m["counts_sha256"]
        )
    except (OSError, ValueError, KeyError):
        return False


def _save_shard(ckpt: Path, uri: str, info: dict, c: Counts, chars: int) -> None:
    key = _shard_key(uri)
    c.save(ckpt / f"{key}.counts")
    atomic_write_json(  # the marker is written last: its presence means the count file is complete
        ckpt / f"{key}.done.json",
        {**info, "pattern_sha256": pattern_sha256(c.pattern), "chars": chars,
         "counts_sha256": sha256_file(ckpt / f"{key}.counts"), "entries": len(c)},
    )


# ------------------------------------------------------------------------------------------------ driver
def count_shards(
    shards: Sequence[str],
    checkpoint_dir: str | os.PathLike,
    pattern: str | None,
    *,
    text_field: str = "text",
    address: str | None = None,
    num_cpus: int | None = None,
    threads_per_task: int = 1,
    max_unique: int | None = None,
    progress: bool | None = None,
    engine: str = "ray",
) -> ShardCountResult:
    """Count pre-tokens of ``shards`` on Ray (one task per shard), with per-shard checkpoints; sum on the driver.

    ``pattern`` is a preset name or a regex (see :func:`toksmith.resolve_pattern`). ``address`` is passed to
    ``ray.init`` (``None`` starts a local cluster with ``num_cpus`` CPUs unless Ray is already initialised).
    ``engine="inline"`` runs the same tasks one after another in this process (no Ray; same checkpoints).
    """
    if engine not in ("ray", "inline"):
        raise ToksmithError(f"unknown engine {engine!r}; use 'ray' or 'inline'")
    if isinstance(shards, str) or not shards:
        raise ToksmithError("count_shards needs a non-empty list of shard paths/URIs")
    if len(set(shards)) != len(shards):
        raise ToksmithError("count_shards: a shard is listed twice; its data would be counted twice")
    if not isinstance(threads_per_task, int) or threads_per_task < 1:
        raise ToksmithError(f"threads_per_task must be a positive integer, got {threads_per_task!r}")
    _, pat = resolve_pattern(pattern)
    ckpt = Path(checkpoint_dir)
    ckpt.mkdir(parents=True, exist_ok=True)
    infos = {uri: shard_info(uri) for uri in shards}  # fail fast on a missing shard
    reused = tuple(u for u in shards if _marker_ok(ckpt, u, pat))
    todo = [u for u in shards if u not in reused]
    total_chars = 0
    if todo:
        run = _run_ray if engine == "ray" else _run_inline
        total_chars = run(todo, infos, ckpt, pat, text_field, address, num_cpus, threads_per_task, max_unique,
                          progress)
    counts = native.sum_counts(ckpt / f"{_shard_key(u)}.counts" for u in shards)
    if pattern_sha256(counts.pattern) != pattern_sha256(pat):
        raise ToksmithError(f"checkpoints in {ckpt} were made with another pattern; use a fresh checkpoint_dir")
    return ShardCountResult(counts, tuple(todo), reused, total_chars)


def _fail(errors, ckpt):
    uri, e = errors[0]
    cause = getattr(e, "cause", None) or e
    raise ToksmithError(
        f"{len(errors)} shard(s) failed, first {uri!r}: {str(cause).strip().splitlines()[-1]}. "
        f"The other shards are checkpointed in {ckpt}; fix the shard and rerun to count only what is missing."
    )


def _run_inline(todo, infos, ckpt, pat, text_field, address, num_cpus, threads, max_unique, progress) -> int:
    errors, chars = [], 0
    for uri in todo:
        try:
            blob, lengths, counts, pn, pc, n = _count_shard_task(uri, text_field, pat, threads, max_unique)
        except ToksmithError as e:
            errors.append((uri, e))
            continue
        _save_shard(ckpt, uri, infos[uri], Counts(pat, blob, lengths, counts, pn, pc), n)
        chars += n
    if errors:
        _fail(errors, ckpt)
    return chars


def _run_ray(todo, infos, ckpt, pat, text_field, address, num_cpus, threads, max_unique, progress) -> int:
    import ray

    if not ray.is_initialized():
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
    task = ray.remote(_count_shard_task).options(num_cpus=threads, max_retries=0)
    refs = {task.remote(u, text_field, pat, threads, max_unique): u for u in todo}
    from ..progress import progress_bar

    errors, chars, t0 = [], 0, time.perf_counter()
    with progress_bar(progress, f"counting {len(todo)} shards on Ray", transient=False) as advance:
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            uri = refs[done[0]]
            try:
                blob, lengths, counts, pn, pc, n = ray.get(done[0])
            except Exception as e:  # a failed task: keep collecting the others, then raise
                errors.append((uri, e))
                continue
            _save_shard(ckpt, uri, infos[uri], Counts(pat, blob, lengths, counts, pn, pc), n)
            chars += n
            advance(n)
            log.info("shard %s counted (%.1f M chars/s overall)", uri, chars / 1e6 / (time.perf_counter() - t0))
    if errors:
        _fail(errors, ckpt)
    return chars


def train_sharded(
    shards: Sequence[str],
    checkpoint_dir: str | os.PathLike,
    pattern: str | None,
    *,
    n_merges: int,
    max_token_length: int = 128,
    min_frequency: int = 2,
    **count_kwargs,
) -> list[bytes]:
    """Map-reduce counting on Ray, then the merges on this node: merged tokens in merge order."""
    from .native import merges_from_counts

    res = count_shards(shards, checkpoint_dir, pattern, **count_kwargs)
    return merges_from_counts(res.counts, n_merges, max_token_length=max_token_length, min_frequency=min_frequency)
