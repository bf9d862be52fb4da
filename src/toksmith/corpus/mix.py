"""The training mix: domain shares of a character budget, a seeded interleave, exact dedup and the held-out split.

:class:`CorpusConfig` lists the sources and gives each *domain* a share of ``total_chars`` (the paper's code
tokenizers: 70% code, 30% English, 0% multilingual; docs/paper.md §2.2). How the budget is spent:

* **Split within a domain: evenly across its subsets, then evenly across the sources of a subset.** A source that
  runs dry gives what is left of its quota to the other sources of its domain (in proportion to their quotas);
  this is logged, and recorded in :attr:`CorpusStats.dry_sources`.
* **Interleaved, not chained** (the paper's scripts chain the iterators, so a trainer that stops early sees one
  domain only, docs/paper.md §2.2): at every step the source furthest behind its quota (smallest emitted/quota ratio)
  gives its next document; ties go to a seeded order of the sources. The file order of each source and a small
  shuffle buffer are seeded too, so one seed gives one stream and another seed another order.
* The last document of a source is cut (at a line end when possible) so the source does not overshoot its quota.
* **Held-out split by content**: a document is held out when ``blake2b(text)`` read as a fraction of 2**64 is below
  ``heldout_fraction``. It depends on the text only, so it does not move when the mix, budget or seed change, and
  training never yields a held-out document (see :mod:`toksmith.corpus.heldout`).
* **Exact dedup** (on by default): the 8-byte blake2b digests of the documents already seen are kept in a compact
  open-addressing table (:class:`DigestSet`, 16 bytes a document at most), not in a set of strings.

Limits: dedup is exact (byte-identical documents only), not near-duplicate (MinHash). The file list of a source is
held in memory (paths, not texts); inside one file documents come in file order, mixed only by the 32-document
shuffle buffer, so a large JSONL/Parquet file should be shuffled once when written (the vendored files are).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import ToksmithError, check_fields
from .sources import CorpusStats, Document, SourceConfig, iter_documents, iter_files

log = logging.getLogger(__name__)

HELDOUT_MAX_CHARS = 200_000  # held-out documents longer than this are skipped (evaluation stays fast and balanced)
_SHUFFLE_DOCS = 32  # per-source shuffle buffer: at most this many documents ...
_SHUFFLE_CHARS = 1 << 18  # ... and about this many characters, so memory stays bounded


@dataclass(frozen=True)
class CorpusConfig:
    """Sources, the domain mix and the character budget of a tokenizer training corpus."""

    sources: tuple[SourceConfig, ...]
    mix: dict[str, float] = field(default_factory=dict)  # domain -> share of total_chars; {} = equal shares
    total_chars: int = 20_000_000  # the budget; the paper used 10B chars (docs/paper.md §2.2), we default to a laptop size
    seed: int = 0  # file order, shuffle buffers and tie-breaks of the interleave
    heldout_fraction: float = 0.05  # share of documents (by content hash) kept for evaluation, never trained on
    heldout_max_docs: int = 1000  # cap per subset, as the paper's 1,000 test documents (docs/paper.md §2.4, §4.3)
    dedup: bool = True  # drop exact duplicate documents (by 8-byte blake2b digest)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "mix", dict(self.mix))  # a private copy: the caller's dict may change later
        if not self.sources:
            raise ToksmithError("CorpusConfig.sources is empty; give at least one SourceConfig")
        for s in self.sources:
            if not isinstance(s, SourceConfig):
                raise ToksmithError(f"CorpusConfig.sources must hold SourceConfig objects, got {type(s).__name__}")
        if not isinstance(self.total_chars, int) or self.total_chars <= 0:
            raise ToksmithError(f"CorpusConfig.total_chars must be a positive integer, got {self.total_chars!r}")
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise ToksmithError(f"CorpusConfig.heldout_fraction must be in [0, 1), got {self.heldout_fraction!r}")
        check_fields(self, heldout_max_docs=0)
        domains = sorted({s.domain for s in self.sources})
        unknown = sorted(set(self.mix) - set(domains))
        if unknown:
            raise ToksmithError(
                f"CorpusConfig.mix names domain(s) {', '.join(unknown)} that no source has; "
                f"domains with sources: {', '.join(domains)}. Add a SourceConfig with that domain or drop it from mix"
            )
        bad = {d: v for d, v in self.mix.items() if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0}
        if bad:
            raise ToksmithError(f"CorpusConfig.mix shares must be numbers in [0, 1], got {bad}")
        total = sum(self.mix.values())
        if self.mix and not math.isclose(total, 1.0, abs_tol=1e-6):
            shares = ", ".join(f"{d}={v:g}" for d, v in sorted(self.mix.items()))
            raise ToksmithError(f"CorpusConfig.mix shares add up to {total:g}, not 1 ({shares}); rescale them")

    @property
    def domains(self) -> list[str]:
        return sorted({s.domain for s in self.sources})

    def shares(self) -> dict[str, float]:
        """Share of every domain that has a source (missing from ``mix`` = 0; empty ``mix`` = equal shares)."""
        if not self.mix:
            return {d: 1.0 / len(self.domains) for d in self.domains}
        return {d: float(self.mix.get(d, 0.0)) for d in self.domains}

    def source_quotas(self) -> list[int]:
        """Characters planned for each source: domain share, split evenly over subsets, then over their sources."""
        shares = self.shares()
        subsets: dict[str, dict[str, int]] = {}
        for s in self.sources:
            per = subsets.setdefault(s.domain, {})
            per[s.subset] = per.get(s.subset, 0) + 1
        return [
            int(self.total_chars * shares[s.domain] / len(subsets[s.domain]) / subsets[s.domain][s.subset])
            for s in self.sources
        ]


class DigestSet:
    """A compact set of 8-byte digests: open addressing with linear probing in an ``array('Q')``.

    Memory is 8 bytes a slot at a load factor <= 1/2, i.e. at most 16 bytes a document (a Python ``set`` of
    ``bytes`` costs about 100).

    >>> s = DigestSet(); s.add(b"12345678"), s.add(b"12345678"), len(s)
    (True, False, 1)
    """

    def __init__(self, capacity: int = 1 << 12):
        self._table = array("Q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, digest: bytes) -> bool:
        """Insert ``digest``; return False when it was already present."""
        key = int.from_bytes(digest[:8], "little") | 1  # 0 marks an empty slot
        table, mask = self._table, self._mask
        i = key & mask
        while table[i]:
            if table[i] == key:
                return False
            i = (i + 1) & mask
        table[i] = key
        self._n += 1
        if 2 * self._n > len(table):
            self._grow()
        return True

    def _grow(self) -> None:
        old = [k for k in self._table if k]
        self._table = array("Q", bytes(16 * len(self._table)))
        self._mask = len(self._table) - 1
        for key in old:
            i = key & self._mask
            while self._table[i]:
                i = (i + 1) & self._mask
            self._table[i] = key


def text_digest(text: str) -> bytes:
    """The 8-byte blake2b digest of a document, shared by dedup and the held-out split."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def is_heldout(digest: bytes, fraction: float) -> bool:
    """True when the digest, read as a number in [0, 1), is below ``fraction``: a split by content alone."""
    return int.from_bytes(digest, "big") < fraction * 2.0**64


def _filtered(cfg: CorpusConfig, index: int, seen: DigestSet | None, stats: CorpusStats) -> Iterator[Document]:
    """Training documents of one source: seeded file order and shuffle buffer, held-out and duplicates removed."""
    source = cfg.sources[index]
    # seeded by names, not the path, so a checkout elsewhere gives the same stream
    rng = random.Random(f"{cfg.seed}/{index}/{source.domain}/{source.subset}")
    files = list(iter_files(source))  # paths only, never texts
    if not files:
        raise ToksmithError(
            f"corpus source {source.path} matched no files (include={list(source.include)}, "
            f"exclude={list(source.exclude)}); fix the globs or the path"
        )
    rng.shuffle(files)
    buffer: list[Document] = []
    chars = 0
    for doc in iter_documents(source, stats, files=files):
        digest = text_digest(doc.text)
        if is_heldout(digest, cfg.heldout_fraction):
            stats.heldout_excluded += 1
            continue
        if seen is not None and not seen.add(digest):
            stats.duplicates += 1
            continue
        buffer.append(doc)
        chars += len(doc.text)
        if len(buffer) >= _SHUFFLE_DOCS or chars >= _SHUFFLE_CHARS:
            out = buffer.pop(rng.randrange(len(buffer)))
            chars -= len(out.text)
            yield out
    rng.shuffle(buffer)
    yield from buffer


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, after the last newline when there is one."""
    if len(text) <= limit:
        return text
    nl = text.rfind("\n", 0, limit)
    return text[: nl + 1] if nl > 0 else text[:limit]


def iter_training_documents(cfg: CorpusConfig, stats: CorpusStats | None = None) -> Iterator[Document]:
    """The training stream: interleaved, seeded, budgeted by domain share; never a held-out document.

    Pass a :class:`CorpusStats` to read, after iterating, what was used per subset and what was skipped.
    """
    stats = stats if stats is not None else CorpusStats()
    for s in cfg.sources:  # fail fast on a missing path, before any document is read
        if not s.path.exists():
            next(iter_files(s))
    quotas = [float(q) for q in cfg.source_quotas()]
    for s, q in zip(cfg.sources, quotas):
        key = f"{s.domain}/{s.subset}"
        stats.planned_chars[key] = stats.planned_chars.get(key, 0) + int(q)
    seen = DigestSet() if cfg.dedup else None
    order = list(range(len(cfg.sources)))
    random.Random(cfg.seed).shuffle(order)
    tiebreak = {i: rank for rank, i in enumerate(order)}
    # streams stay open after reaching their quota: a dry peer of the same domain may raise it again
    streams = {i: _filtered(cfg, i, seen, stats) for i in range(len(cfg.sources)) if quotas[i] > 0}
    emitted = [0] * len(cfg.sources)
    n_out = 0
    try:
        while ready := [j for j in streams if emitted[j] < quotas[j] - 0.5]:
            i = min(ready, key=lambda j: (emitted[j] / quotas[j], tiebreak[j]))
            doc = next(streams[i], None)
            if doc is None:
                _give_away(cfg, i, quotas, emitted, streams, stats)
                continue
            text = _cut(doc.text, max(1, math.ceil(quotas[i] - emitted[i])))
            if text is not doc.text:
                doc = Document(text, doc.domain, doc.subset, doc.source)
            emitted[i] += len(doc.text)
            stats.count(doc)
            n_out += 1
            yield doc
    finally:
        for stream in streams.values():
            stream.close()
    log.info(
        "corpus: %d training documents, %d chars from %d files; skipped %d binary files and %d non-UTF-8 "
        "files or JSONL lines, "
        "%d duplicates, %d held-out documents",
        n_out, sum(emitted), stats.files, stats.skipped_binary, stats.skipped_non_utf8, stats.duplicates,
        stats.heldout_excluded,
    )
    if n_out == 0:
        raise ToksmithError(
            f"the corpus yielded no training documents after filtering ({stats.files} files read, "
            f"{stats.skipped_binary} binary and {stats.skipped_non_utf8} non-UTF-8 skipped, {stats.duplicates} "
            f"duplicates, {stats.heldout_excluded} held out); check the sources ("
            + ", ".join(str(s.path) for s in cfg.sources)
            + ") and the mix"
        )


def _give_away(
    cfg: CorpusConfig, i: int, quotas: list[float], emitted: list[int], streams: dict, stats: CorpusStats
) -> None:
    """Source ``i`` ran dry: spread what is left of its quota over the other non-dry sources of its domain."""
    del streams[i]
    left = quotas[i] - emitted[i]
    quotas[i] = float(max(emitted[i], 1))
    source = cfg.sources[i]
    stats.dry_sources.append(f"{source.domain}/{source.subset}:{source.path}")
    peers = [j for j in streams if cfg.sources[j].domain == source.domain]
    if not peers:
        log.warning(
            "corpus source %s ran dry with %d of its %d chars unused and no other %r source is left; "
            "the %r domain gets fewer characters than its share",
            source.path, left, int(left + emitted[i]), source.domain, source.domain,
        )
        return
    weight = sum(quotas[j] for j in peers)
    for j in peers:
        quotas[j] += left * quotas[j] / weight
    log.info("corpus source %s ran dry; its remaining %d chars go to %d other %r source(s)",
             source.path, left, len(peers), source.domain)


def iter_training_texts(cfg: CorpusConfig, stats: CorpusStats | None = None) -> Iterator[str]:
    """The texts of :func:`iter_training_documents` (what a BPE trainer consumes)."""
    for doc in iter_training_documents(cfg, stats):
        yield doc.text
