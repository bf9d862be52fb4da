"""Pre-token counts: the output of the counting stage and the input of the merge stage, as a file format of its own.

Training a BPE tokenizer at scale is two stages: (a) stream the corpus once, cut it with the
pre-tokenization regex and count each distinct pre-token (64-bit counts); (b) learn merges from those counts.
Stage (b) never sees the corpus again, so one counting pass serves every vocabulary size of a sweep, and counts of
many shards (made on many machines) are summed before the merges.

A :class:`Counts` holds the distinct pre-tokens sorted by their bytes (so equal data gives byte-identical files,
whatever the number of workers or shards) as three arrays: the keys concatenated (``blob``), their byte lengths
(``uint32``) and their counts (``uint64``). Memory is about ``len(blob) + 12`` bytes per distinct pre-token.

File format (version 1), written atomically:

    line 1   ``TOKSMITH-COUNTS 1``
    line 2   JSON header: pattern (null = identity), pattern_sha256, entries, key_bytes, total, pruned_entries,
             pruned_total, payload_sha256
    payload  counts (entries x little-endian uint64), lengths (entries x little-endian uint32), keys (key_bytes)

Loading checks the magic line, the sizes and the payload's sha256, and refuses counts made with another pattern
than the one expected; :func:`sum_counts` refuses to add counts of different patterns.

The cap (``max_unique``): keeping only the N most frequent pre-tokens (ties: smaller bytes first) bounds the memory
of the counting stage and of the merge stage. Its effect on the result: pre-tokens below the cut are gone, so pair
counts are lower by the mass they carried (recorded as ``pruned_total``), and a merge whose pair occurs only in
pruned pre-tokens is never learned; merges among frequent pre-tokens are unchanged when the cut only removes rare
ones. Applied once to final counts (``Counts.capped``), kept counts are exact. Applied while counting
(``count_pretokens(max_unique=N)``), the table is cut back to N whenever it reaches 2N entries; a pre-token cut
early and seen again restarts from zero, so kept counts may then be underestimates (only for pre-tokens that were
once below the cut), and the result can depend on the order of the data. With no cut ever needed (fewer than 2N
distinct pre-tokens per table) the result is exact and order-independent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artifacts import atomic_write_bytes
from ..errors import ToksmithError
from ..pretokenize import split

MAGIC = b"TOKSMITH-COUNTS 1\n"
_U64 = np.dtype("<u8")
_U32 = np.dtype("<u4")


def pattern_sha256(pattern: str | None) -> str:
    """sha256 that identifies a pre-tokenization pattern (identity, ``None``, has its own)."""
    return hashlib.sha256(b"\x00identity" if pattern is None else pattern.encode("utf-8")).hexdigest()


@dataclass(frozen=True, eq=False)
class Counts:
    """Distinct pre-tokens (bytes, sorted) with 64-bit counts, for one pre-tokenization pattern."""

    pattern: str | None
    blob: bytes
    lengths: np.ndarray
    counts: np.ndarray
    pruned_entries: int = 0
    pruned_total: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "lengths", np.ascontiguousarray(self.lengths, dtype=_U32))
        object.__setattr__(self, "counts", np.ascontiguousarray(self.counts, dtype=_U64))
        if self.lengths.ndim != 1 or self.lengths.shape != self.counts.shape:
            raise ToksmithError(f"Counts: lengths {self.lengths.shape} and counts {self.counts.shape} differ")
        if int(self.lengths.sum(dtype=np.uint64)) != len(self.blob):
            raise ToksmithError("Counts: the key lengths do not add up to the size of the key blob")

    # ------------------------------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def total(self) -> int:
        """Number of pre-token occurrences counted (sum of counts)."""
        return int(self.counts.sum(dtype=np.uint64))

    def items(self) -> Iterator[tuple[bytes, int]]:
        off = 0
        blob = self.blob
        for n, c in zip(self.lengths.tolist(), self.counts.tolist()):
            yield blob[off : off + n], c
            off += n

    def to_dict(self) -> dict[bytes, int]:
        return dict(self.items())

    def __repr__(self) -> str:
        return (f"Counts({len(self)} pre-tokens, total={self.total}, pattern={self.pattern!r:.40}, "
                f"pruned_entries={self.pruned_entries})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Counts):
            return NotImplemented
        return (
            self.pattern == other.pattern
            and self.blob == other.blob
            and np.array_equal(self.lengths, other.lengths)
            and np.array_equal(self.counts, other.counts)
        )

    @classmethod
    def from_dict(cls, mapping: Mapping[bytes, int], pattern: str | None) -> Counts:
        """Counts from ``{pre-token bytes: count}`` (sorted by bytes; zero counts dropped)."""
        keys = sorted(k for k, v in mapping.items() if v)
        for k in keys:
            if not isinstance(k, bytes) or mapping[k] < 0 or mapping[k] >= 2**64:
                raise ToksmithError(f"Counts.from_dict: {k!r} -> {mapping[k]!r} is not bytes -> 0..2**64-1")
        return cls(
            pattern,
            b"".join(keys),
            np.array([len(k) for k in keys], dtype=_U32),
            np.array([mapping[k] for k in keys], dtype=_U64),
        )

    # ------------------------------------------------------------------------------------------ cap
    def capped(self, max_unique: int) -> Counts:
        """Keep the ``max_unique`` most frequent entries (ties: smaller bytes); see the module docstring."""
        if max_unique < 1:
            raise ToksmithError(f"max_unique must be >= 1, got {max_unique}")
        if len(self) <= max_unique:
            return self
        ranked = sorted(self.items(), key=lambda kc: (-kc[1], kc[0]))
        kept = dict(ranked[:max_unique])
        out = Counts.from_dict(kept, self.pattern)
        dropped = ranked[max_unique:]
        return Counts(
            self.pattern,
            out.blob,
            out.lengths,
            out.counts,
            self.pruned_entries + len(dropped),
            self.pruned_total + sum(c for _, c in dropped),
        )

    # ------------------------------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        payload = self.counts.astype(_U64).tobytes() + self.lengths.astype(_U32).tobytes() + self.blob
        header = {
            "pattern": self.pattern,
            "pattern_sha256": pattern_sha256(self.pattern),
            "entries": len(self),
            "key_bytes": len(self.blob),
            "total": self.total,
            "pruned_entries": int(self.pruned_entries),
            "pruned_total": int(self.pruned_total),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
        line = json.dumps(header, ensure_ascii=True, sort_keys=True).encode() + b"\n"
        return atomic_write_bytes(path, MAGIC + line + payload)

    @classmethod
    def load(cls, path: str | os.PathLike, expect_pattern: str | None | type[Ellipsis] = ...) -> Counts:
        """Read a counts file; with ``expect_pattern`` refuse counts made with another pattern."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ToksmithError(f"cannot read counts file {path}: {e.strerror}") from None
        if not data.startswith(MAGIC):
            raise ToksmithError(
                f"{path} is not a toksmith counts file of version 1 (first line {data[:40]!r}); make it with "
                "`toksmith.bpe.native.count_pretokens(...).save(path)`"
            )
        nl = data.find(b"\n", len(MAGIC))
        try:
            h = json.loads(data[len(MAGIC) : nl])
            n, m = int(h["entries"]), int(h["key_bytes"])
        except (ValueError, KeyError, TypeError):
            raise ToksmithError(f"{path}: the header line of the counts file is damaged") from None
        payload = memoryview(data)[nl + 1 :]
        if len(payload) != 12 * n + m or hashlib.sha256(payload).hexdigest() != h.get("payload_sha256"):
            raise ToksmithError(
                f"{path} is corrupted (size or sha256 of its entries does not match its header); recount that shard"
            )
        if h.get("pattern_sha256") != pattern_sha256(h.get("pattern")):
            raise ToksmithError(f"{path}: the recorded pattern does not match its sha256; the file is damaged")
        out = cls(
            h["pattern"],
            bytes(payload[12 * n :]),
            np.frombuffer(payload[8 * n : 12 * n], dtype=_U32).copy(),
            np.frombuffer(payload[: 8 * n], dtype=_U64).copy(),
            int(h.get("pruned_entries", 0)),
            int(h.get("pruned_total", 0)),
        )
        if expect_pattern is not ... and pattern_sha256(expect_pattern) != pattern_sha256(out.pattern):
            raise ToksmithError(
                f"{path} holds counts made with pattern {out.pattern!r}, not the expected {expect_pattern!r}; "
                "counts of different pre-tokenizations cannot be mixed. Recount with the expected pattern."
            )
        return out


def load_counts(parts: Iterable[Counts | str | os.PathLike]) -> list[Counts]:
    """Counts objects or count files, loaded and checked to be of one pattern (at least one)."""
    loaded = [p if isinstance(p, Counts) else Counts.load(p) for p in parts]
    if not loaded:
        raise ToksmithError("sum_counts: nothing to sum; pass at least one Counts or count file")
    first = loaded[0].pattern
    for c in loaded[1:]:
        if pattern_sha256(c.pattern) != pattern_sha256(first):
            raise ToksmithError(
                f"sum_counts: counts made with pattern {c.pattern!r} cannot be added to counts made with {first!r}"
            )
    return loaded


def sum_counts(parts: Iterable[Counts | str | os.PathLike], max_unique: int | None = None) -> Counts:
    """Add counts (objects or count files) of one pattern: the counts of the concatenation of their data.

    Pure Python (the oracle); :func:`toksmith.bpe.native.sum_counts` gives the same result in C++.
    """
    loaded = load_counts(parts)
    total: dict[bytes, int] = {}
    for c in loaded:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    out = Counts.from_dict(total, loaded[0].pattern)
    out = Counts(
        out.pattern,
        out.blob,
        out.lengths,
        out.counts,
        sum(c.pruned_entries for c in loaded),
        sum(c.pruned_total for c in loaded),
    )
    return out.capped(max_unique) if max_unique else out


def count_texts(texts: Iterable[str], pattern: str | None) -> Counts:
    """Split ``texts`` with ``pattern`` and count the pre-tokens' UTF-8 bytes in pure Python.

    The oracle of :func:`toksmith.bpe.native.count_pretokens` (same result, far slower). A text with lone
    surrogates has no UTF-8 and is refused, as natively.
    """
    total: Counter[bytes] = Counter()
    for i, text in enumerate(texts):
        try:
            total.update(piece.encode("utf-8") for piece in split(text, pattern))
        except UnicodeEncodeError:
            raise ToksmithError(f"text #{i} is not valid Unicode (lone surrogates?); clean it, e.g. "
                                "text.encode('utf-8', 'replace').decode()") from None
    return Counts.from_dict(total, pattern)
