"""The ``toksmith`` training backend: native pre-token counting and BPE merges (C++ extension ``_core``).

Two stages: :func:`count_pretokens` streams texts once, splits them with the pre-tokenization regex and
counts distinct pre-tokens with 64-bit counts in worker threads (the GIL is released), giving a
:class:`~toksmith.bpe.counts.Counts`; :func:`merges_from_counts` learns BPE merges from counts with an incremental
pair index and a lazily invalidated max-heap (no recount per merge). :func:`train_bpe` chains them and has the
signature of a backend in ``toksmith.bpe.backends.BACKENDS``.

Splitting: the preset patterns are matched by hand-written C++ kernels that reproduce Python ``regex`` ``findall``
exactly. :data:`KERNELS` maps each preset name to its kernel; it is built from the extension's one table
(``_core.KIND_NAMES``, a kernel per preset name) and ``toksmith.pretokenize.PRESETS`` (llama3 shares gpt4's pattern,
so its kernel), and a test checks that every preset has one, so editing a preset cannot silently fall back to the
slow path. The Unicode classes the kernels use (``\\p{L}``, ``\\p{N}``, ``\\s``, o200k's letter-case classes,
``(?i)`` folds of the contraction letters) are read from the ``regex`` module itself into an immutable
``_core.Tables`` object, once per process (:func:`_tables`), and passed to every call. Any other pattern is split
by ``regex`` in worker processes and counted natively.

The boundary takes ``str`` only (``bytes`` raise ``TypeError``). :func:`split` accepts any ``str``, lone surrogates
included (as ``regex`` does); counting refuses them, since a pre-token with a lone surrogate has no UTF-8 bytes.
Set ``TOKSMITH_NO_NATIVE=1`` to run as if the extension were not built (CI uses it to test the pure-Python
fallbacks). Pure-Python oracles: :func:`toksmith.bpe.counts.count_texts`, :func:`toksmith.bpe.counts.sum_counts`,
``toksmith.bpe.reference``.

Merge semantics (same as the pure-Python oracle ``toksmith.bpe.reference``): a symbol is its bytes; at each step
the pair with the highest count is merged, ties broken by the smallest (left bytes, right bytes); pairs whose merged
length would exceed ``max_token_length`` bytes are never candidates; training stops after ``n_merges`` merges or
when the best count is below ``min_frequency``.

Limits: with the identity pattern a "word" is a whole document, and each merge rescans the documents holding the
pair, so identity training is fast only on small corpora. Counts are exact up to 2**64 - 1 per pre-token.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from functools import lru_cache

from ...errors import ToksmithError
from ...progress import progress_bar
from ...pretokenize import PRESETS
from .. import counts as _counts
from ..counts import Counts

log = logging.getLogger(__name__)

if os.environ.get("TOKSMITH_NO_NATIVE", "") not in ("", "0"):
    _core = None
    _IMPORT_ERROR = "disabled by TOKSMITH_NO_NATIVE"
else:
    try:
        from . import _core
    except ImportError as _e:  # the extension did not build; everything else in toksmith still works
        _core = None
        _IMPORT_ERROR = str(_e)
    else:
        _IMPORT_ERROR = ""

IDENTITY = "identity"
BATCH_CHARS = 1 << 20


def _kernels() -> dict[str, str]:
    """Preset name -> C++ kernel: the kernel named after a preset serves every preset with the same pattern."""
    if _core is None:
        return {}
    by_pattern = {PRESETS[kernel]: kernel for kernel in _core.KIND_NAMES if kernel in PRESETS}
    return {name: by_pattern[pat] for name, pat in PRESETS.items() if pat in by_pattern}


#: Preset name -> the C++ kernel that splits it (empty without the extension). Presets missing here are slow.
KERNELS: dict[str, str] = _kernels()
_KERNEL_OF_PATTERN: dict[str | None, str] = {PRESETS[name]: kernel for name, kernel in KERNELS.items()}


def available() -> bool:
    """True when the C++ extension is built and importable."""
    return _core is not None


def _require():
    if _core is None:
        raise ToksmithError(
            f"the toksmith native extension is not built ({_IMPORT_ERROR}). Reinstall with `pip install -e .` "
            "on a machine with a C++17 compiler (gcc/clang), or choose another training backend (e.g. 'hf')."
        )
    return _core


def _build_tables() -> tuple[bytes, dict[int, str]]:
    """Per-code-point class flags and ``(?i)`` folds of the contraction letters, read from ``regex`` itself."""
    import numpy as np
    import regex

    every = "".join(map(chr, range(0x110000)))
    flags = np.full(0x110000, 32, dtype=np.uint8)  # F_X: the code point exists
    for cls, flag in (
        (r"\p{L}", 1),
        (r"\p{N}", 2),
        (r"\s", 4),
        (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", 8),
        (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", 16),
    ):
        for m in regex.finditer(cls + "+", every):
            flags[m.start() : m.end()] |= flag
    folds = {}
    for letter in "strevmld":
        for m in regex.finditer(f"(?i:{letter})", every):
            folds[m.start()] = letter
    if regex.findall("(?i:')", every) != ["'"]:
        raise ToksmithError("this `regex` version folds the apostrophe; the native splitter cannot mirror it")
    return flags.tobytes(), folds


def _tables_cache_path():
    import hashlib
    import inspect
    from pathlib import Path

    import regex

    try:
        source = inspect.getsource(_build_tables)
    except (OSError, TypeError):  # no source shipped: key on the regex version alone
        source = ""
    key = hashlib.sha256((regex.__version__ + source).encode()).hexdigest()[:16]
    root = Path(os.environ.get("TOKSMITH_CACHE", Path.home() / ".cache" / "toksmith"))
    return root / f"native-classes-{key}.bin"


def _table_data() -> tuple[bytes, dict[int, str]]:
    """The class flags and folds of :func:`_build_tables`, from the disk cache (per ``regex`` version) or rebuilt."""
    import json

    from ...artifacts import atomic_write_bytes

    path = _tables_cache_path()
    try:
        data = path.read_bytes()
        flags, folds = data[:0x110000], {int(k): v for k, v in json.loads(data[0x110000:]).items()}
        if len(flags) == 0x110000:
            return flags, folds
    except (OSError, ValueError, AttributeError):
        pass
    flags, folds = _build_tables()
    try:
        atomic_write_bytes(path, flags + json.dumps(folds).encode())
    except OSError:  # a read-only home is fine: the tables are rebuilt next time
        pass
    return flags, folds


@lru_cache(maxsize=1)
def _tables():
    """The immutable C++ class tables, made once per process and passed to every split and Counter."""
    core = _require()
    t0 = time.perf_counter()
    tables = core.make_tables(*_table_data())
    log.debug("native class tables ready in %.2fs", time.perf_counter() - t0)
    return tables


def native_kind(pattern: str | None) -> str | None:
    """Name of the C++ kernel for ``pattern`` (``None`` = identity), or ``None`` when it is a custom pattern."""
    return _KERNEL_OF_PATTERN.get(pattern)


def split(text: str, pattern: str | None) -> list[str]:
    """Split ``text`` like ``regex.findall(pattern, text)`` with the C++ matcher (preset patterns only)."""
    core = _require()
    kind = native_kind(pattern)
    if kind is None:
        raise ToksmithError(f"no native splitter for the custom pattern {pattern!r}; use toksmith.split")
    return core.split(text, kind, None if kind == IDENTITY else _tables())


def _workers(workers: int | None) -> int:
    if workers is None:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if not isinstance(workers, int) or workers < 1:
        raise ToksmithError(f"workers must be a positive integer, got {workers!r}")
    return workers


def _batches(texts: Iterable[str], batch_chars: int) -> Iterator[tuple[list[str], int]]:
    if isinstance(texts, (str, bytes)):
        raise ToksmithError("texts must be an iterable of strings (documents), not one string")
    batch: list[str] = []
    size = 0
    for t in texts:
        batch.append(t)
        size += len(t) if isinstance(t, str) else 0
        if size >= batch_chars:
            yield batch, size
            batch, size = [], 0
    if batch:
        yield batch, size


def count_pretokens(
    texts: Iterable[str],
    pattern: str | None,
    *,
    workers: int | None = None,
    max_unique: int | None = None,
    progress: bool | None = False,
    batch_chars: int = BATCH_CHARS,
) -> Counts:
    """Split ``texts`` with ``pattern`` and count distinct pre-tokens (64-bit) on ``workers`` threads.

    ``workers`` (default: the CPUs this process may use) threads count: the calling thread, which also reads
    ``texts`` and copies each batch of ``batch_chars`` characters to C++, and ``workers - 1`` background threads;
    the GIL is released while counting. A custom pattern is split by ``regex`` in ``workers`` processes.

    ``pattern`` is a regex, ``None`` (identity) or a preset name. Memory grows with the number of distinct
    pre-tokens, not with the corpus. ``max_unique`` caps the table (the
    rarest entries are pruned; effect documented in :mod:`toksmith.bpe.counts`).
    """
    core = _require()
    n = _workers(workers)
    if isinstance(pattern, str) and pattern in PRESETS:  # a preset name is accepted for its pattern
        pattern = PRESETS[pattern]
    if max_unique is not None and (not isinstance(max_unique, int) or max_unique < 1):
        raise ToksmithError(f"max_unique must be a positive integer or None, got {max_unique!r}")
    kind = native_kind(pattern)
    if kind is None:
        from ...pretokenize import check_pattern

        check_pattern(pattern)
        return _count_custom(texts, pattern, n, max_unique, progress, batch_chars)
    counter = core.Counter(None if kind == IDENTITY else _tables(), kind, n, max_unique or 0)
    with progress_bar(progress, "counting pre-tokens", transient=False) as advance:
        for i, (batch, size) in enumerate(_batches(texts, batch_chars)):
            try:
                counter.feed(batch)
            except (ValueError, TypeError) as e:
                raise ToksmithError(f"count_pretokens: batch {i}: {e}") from None
            advance(size)
    blob, lengths, counts, pruned_n, pruned_c = counter.finish()
    return Counts(pattern, blob, lengths, counts, int(pruned_n), int(pruned_c))


def _count_custom_chunk(pattern: str, texts: list[str]) -> tuple[bytes, object, object]:
    """Worker process: split with ``regex`` and count natively; returns the raw arrays."""
    import regex

    pat = regex.compile(pattern)
    counter = _require().Counter(None, IDENTITY, 1, 0)
    for t in texts:
        counter.feed(pat.findall(t))
    blob, lengths, counts, _, _ = counter.finish()
    return blob, lengths, counts


def _count_custom(texts, pattern, n, max_unique, progress, batch_chars) -> Counts:
    core = _require()
    total = None  # made after the worker processes are forked, so they do not inherit its threads
    with progress_bar(progress, "counting pre-tokens (custom regex)", transient=False) as advance:

        def add(arrays, size):
            total.add_counts(*arrays)
            advance(size)

        if n == 1:
            total = core.Counter(None, IDENTITY, 1, max_unique or 0)
            for batch, size in _batches(texts, batch_chars):
                add(_count_custom_chunk(pattern, batch), size)
        else:
            import multiprocessing as mp
            from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            with ProcessPoolExecutor(n, mp_context=mp.get_context(method)) as pool:
                pending = {}
                for batch, size in _batches(texts, max(1, batch_chars // 4)):
                    pending[pool.submit(_count_custom_chunk, pattern, batch)] = size
                    if total is None:
                        total = core.Counter(None, IDENTITY, 1, max_unique or 0)
                    while len(pending) >= 2 * n:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for f in done:
                            add(f.result(), pending.pop(f))
                for f in list(pending):
                    add(f.result(), pending.pop(f))
            if total is None:
                total = core.Counter(None, IDENTITY, 1, max_unique or 0)
    blob, lengths, counts, pruned_n, pruned_c = total.finish()
    return Counts(pattern, blob, lengths, counts, int(pruned_n), int(pruned_c))


def sum_counts(parts, max_unique: int | None = None) -> Counts:
    """:func:`toksmith.bpe.counts.sum_counts` (same arguments, same result), adding in C++ when it is built.

    The cap is applied once, to the sum (as ``Counts.capped``), so the kept counts are exact.
    """
    parts = _counts.load_counts(parts)
    if _core is None:
        return _counts.sum_counts(parts, max_unique)
    total = _add_in_cpp(parts, 0)
    return _add_in_cpp([total], max_unique) if max_unique and len(total) > max_unique else total


def _add_in_cpp(parts: list[Counts], max_unique: int) -> Counts:
    acc = _core.Counter(None, IDENTITY, 1, max_unique)
    for c in parts:
        acc.add_counts(c.blob, c.lengths, c.counts)
    blob, lengths, counts, pruned_n, pruned_c = acc.finish()
    return Counts(
        parts[0].pattern,
        blob,
        lengths,
        counts,
        int(pruned_n) + sum(c.pruned_entries for c in parts),
        int(pruned_c) + sum(c.pruned_total for c in parts),
    )


def _check_merge_args(n_merges, max_token_length, min_frequency) -> None:
    for name, v, lo in (("n_merges", n_merges, 0), ("max_token_length", max_token_length, 2), ("min_frequency", min_frequency, 1)):
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ToksmithError(f"{name} must be an integer >= {lo}, got {v!r}")


def merges_from_counts(
    counts: Counts, n_merges: int, *, max_token_length: int = 128, min_frequency: int = 2
) -> list[bytes]:
    """Learn up to ``n_merges`` BPE merges from ``counts``; returns the merged tokens in merge order."""
    core = _require()
    _check_merge_args(n_merges, max_token_length, min_frequency)
    if not isinstance(counts, Counts):
        raise ToksmithError(f"merges_from_counts needs a Counts, got {type(counts).__name__}")
    t0 = time.perf_counter()
    out = core.train_merges(counts.blob, counts.lengths, counts.counts, n_merges, max_token_length, min_frequency)
    log.debug("%d merges from %d pre-tokens in %.2fs", len(out), len(counts), time.perf_counter() - t0)
    return out


def train_bpe(
    texts: Iterable[str],
    *,
    pattern: str | None,
    n_merges: int,
    max_token_length: int,
    min_frequency: int,
    workers: int | None = None,
    max_unique: int | None = None,
    progress: bool | None = False,
) -> list[bytes]:
    """Count, then merge: the ``toksmith`` backend (merged tokens in merge order, the 256 bytes excluded)."""
    _check_merge_args(n_merges, max_token_length, min_frequency)
    counts = count_pretokens(texts, pattern, workers=workers, max_unique=max_unique, progress=progress)
    return merges_from_counts(counts, n_merges, max_token_length=max_token_length, min_frequency=min_frequency)
