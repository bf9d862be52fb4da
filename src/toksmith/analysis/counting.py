"""Count tokens of many documents fast: the one expensive step of every comparison.

For each backend the fastest call that gives the same ids as :meth:`Tokenizer.encode`, each releasing the GIL
while it encodes:

* tiktoken: ``Encoding.encode_to_numpy`` per document with no special token allowed (Rust, no Python list);
* HF ``tokenizers``: ``Tokenizer.encode_batch_fast`` (Rayon-parallel, skips offset tracking; falls back to
  ``encode_batch`` on versions without it);
* SentencePiece: ``encode(list)`` (C++).

Documents are streamed in chunks of about ``batch_chars`` characters to a pool of worker threads; each worker
encodes its chunk and reduces the ids at once to a token total and a unigram histogram (``numpy.bincount``), so
only a few chunks' ids are ever in memory and encoding, counting and merging overlap. Text
statistics (bytes, chars, words) do not depend on the tokenizer and are computed once per subset; computing
them also rejects text with lone surrogates (which have no UTF-8 bytes) before any encoder sees it, which is why
the fast paths may skip the adapters' per-text check.

Limits: a tokenizer that is not one of the three adapters is encoded through its ``encode_batch``.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import ToksmithError
from ..tokenizer import HFTokenizer, SentencePieceTokenizer, TiktokenTokenizer, Tokenizer
from .metrics import text_stats


@dataclass(frozen=True)
class TextStats:
    """Tokenizer-independent size of a subset (see :mod:`toksmith.analysis.metrics` for the definitions)."""

    n_docs: int
    n_bytes: int
    n_chars: int
    n_words: int


@dataclass(frozen=True)
class TokenCounts:
    """One tokenizer on one subset: the token total and the observed unigram histogram (sparse)."""

    n_tokens: int
    ids: np.ndarray  # distinct token ids observed, ascending
    freqs: np.ndarray  # their counts, aligned with ids

    @property
    def n_used(self) -> int:
        return int(self.ids.size)


def subset_stats(texts: Sequence[str], where: str = "subset") -> TextStats:
    """Bytes/chars/words of a subset; a clear error names the document holding invalid Unicode."""
    n_bytes = n_chars = n_words = 0
    for i, t in enumerate(texts):
        try:
            b, c, w = text_stats(t)
        except UnicodeEncodeError as e:
            raise ToksmithError(
                f"{where}: document {i} contains a lone surrogate at position {e.start}; it has no UTF-8 bytes. "
                "Fix the source or read it with errors='replace'."
            ) from None
        n_bytes += b
        n_chars += c
        n_words += w
    return TextStats(len(texts), n_bytes, n_chars, n_words)


def batches(texts: Sequence[str], batch_chars: int) -> Iterator[list[str]]:
    """Consecutive groups of texts with about ``batch_chars`` characters each (at least one text per group)."""
    batch: list[str] = []
    size = 0
    for t in texts:
        batch.append(t)
        size += len(t)
        if size >= batch_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def chunk_encoder(tok: Tokenizer, num_threads: int | None = None):
    """``(encode, workers, scale)``: the fastest ``list[str] -> list[list[int]]`` (same ids as ``tok.encode``),
    how many worker threads should call it at once, and by how much to scale the chunk size.

    * tiktoken: ``encode_to_numpy`` per text with no special token allowed (= ``encode_ordinary``), which
      releases the GIL and skips building a Python list of ints; ``num_threads`` workers, default 8 (the
      default of tiktoken's own ``encode_ordinary_batch``, which runs ``encode_ordinary`` on its own pool);
    * HF: ``encode_batch_fast`` parallelises inside (Rayon, GIL released); two workers overlap one chunk's
      encoding with the previous chunk's conversion to Python lists;
    * SentencePiece: its wrapper keeps the GIL (measured: two threads are no faster than one), so one worker,
      with the C++ threads of ``encode(num_threads=)`` and 8x larger chunks (fewer thread start-ups).
    """
    cores = num_threads or max(1, os.cpu_count() or 1)
    if hasattr(tok, "chunk_encoder"):  # an adapter with its own fast path (RankedHFTokenizer)
        return tok.chunk_encoder(num_threads)
    if isinstance(tok, TiktokenTokenizer):
        enc = tok.encoding
        # No special token allowed, none checked = encode_ordinary, but the ids stay in a numpy buffer.
        return (lambda texts: [enc.encode_to_numpy(t, disallowed_special=()) for t in texts]), num_threads or 8, 1
    if isinstance(tok, HFTokenizer):
        hf = tok.tok
        fast = getattr(hf, "encode_batch_fast", None) or hf.encode_batch
        return (lambda texts: [e.ids for e in fast(texts, add_special_tokens=False)]), 2, 4
    if isinstance(tok, SentencePieceTokenizer):
        sp = tok.sp
        return (lambda texts: sp.encode(texts, num_threads=cores)), 1, 8
    return (lambda texts: tok.encode_batch(texts, num_threads=cores)), 1, 8


def _histogram(ids: list) -> tuple[int, np.ndarray | None]:
    """``(token total, bincount)`` of a chunk's ids (lists of ints, or numpy arrays)."""
    n = sum(map(len, ids))
    if n == 0:
        return 0, None
    if isinstance(ids[0], np.ndarray):
        return n, np.bincount(np.concatenate(ids).astype(np.int64, copy=False))
    return n, np.bincount(np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=n))


def count_tokens(
    tok: Tokenizer, texts: Sequence[str], *, num_threads: int | None = None, batch_chars: int = 256_000,
) -> TokenCounts:
    """Encode ``texts`` and return the token total and the unigram histogram.

    A pool of worker threads (see :func:`chunk_encoder`) encodes chunks of about ``batch_chars`` characters and
    reduces each to ``(tokens, bincount)`` at once; at most two chunks per worker are in flight, so memory stays
    bounded whatever the number of texts, and no worker waits for a slow batch-mate at a batch boundary.
    """
    encode, workers, scale = chunk_encoder(tok, num_threads)
    hist = np.zeros(histogram_size(tok), dtype=np.int64)
    total = 0

    def merge(result: tuple[int, np.ndarray | None]) -> None:
        nonlocal hist, total
        n, counts = result
        if counts is None:
            return
        if counts.size > hist.size:  # an id past vocab_size (some files have holes); grow instead of failing
            hist = np.concatenate([hist, np.zeros(counts.size - hist.size, dtype=np.int64)])
        hist[: counts.size] += counts
        total += n

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future] = deque()
        for chunk in batches(texts, batch_chars * scale):
            pending.append(pool.submit(lambda c: _histogram(encode(c)), chunk))
            while len(pending) > 2 * workers:
                merge(pending.popleft().result())
        while pending:
            merge(pending.popleft().result())
    used = np.flatnonzero(hist)
    return TokenCounts(n_tokens=total, ids=used, freqs=hist[used])


def histogram_size(tok: Tokenizer) -> int:
    """Length of a dense histogram that holds every id the tokenizer can emit."""
    return int(tok.vocab_size)
