"""The held-out evaluation split and corpus statistics.

:func:`heldout_documents` returns, for every (domain, subset) of a config, the documents that the content-hash
split (:func:`toksmith.corpus.mix.is_heldout`) keeps out of training: the first ``heldout_max_docs`` in file order,
skipping documents over :data:`~toksmith.corpus.mix.HELDOUT_MAX_CHARS` characters, exact duplicates dropped when
``dedup`` is on. It reads **every** source, whatever the mix, so subsets with a 0 share (the default corpus's
multilingual ones) are still evaluated, as the paper reports multilingual NSL (docs/paper.md §4.3).

The analysis stage calls it often, so the result is memoised in-process and cached on disk at
``$TOKSMITH_CACHE`` (default ``~/.cache/toksmith``) as ``heldout-<key>.jsonl.gz``, written atomically. The key
hashes the sources, the split settings and every file's (path, size, mtime), so an edited corpus is re-read.

:func:`corpus_stats` scans a whole corpus once and reports documents, characters and bytes per subset, split into
train and held-out, next to the planned character budget (``toksmith corpus`` prints it).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from pathlib import Path

from ..artifacts import atomic_write_bytes, config_hash
from ..config import to_dict
from ..errors import ToksmithError
from .mix import HELDOUT_MAX_CHARS, CorpusConfig, DigestSet, is_heldout, text_digest
from .sources import CorpusStats, Document, SourceConfig, iter_documents, iter_files

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the split rule or the cache layout changes
_MEMO: dict[str, dict[tuple[str, str], list[Document]]] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("TOKSMITH_CACHE", "~/.cache/toksmith")).expanduser()


def _fingerprint(source: SourceConfig) -> str:
    """Hash of (relative path, size, mtime) of every file of a source: cheap (stat only), catches edits."""
    h = hashlib.sha256()
    for path in iter_files(source):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for p in files:
            st = p.stat()
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def heldout_key(cfg: CorpusConfig) -> str:
    """The cache key of a config's held-out split: independent of mix, budget and seed."""
    return config_hash(
        {
            "format": CACHE_FORMAT,
            "sources": to_dict(list(cfg.sources)),
            "fraction": cfg.heldout_fraction,
            "max_docs": cfg.heldout_max_docs,
            "max_chars": HELDOUT_MAX_CHARS,
            "dedup": cfg.dedup,
            "files": [_fingerprint(s) for s in cfg.sources],
        },
        length=16,
    )


def _scan(cfg: CorpusConfig) -> dict[tuple[str, str], list[Document]]:
    out: dict[tuple[str, str], list[Document]] = {s.key: [] for s in cfg.sources}
    seen = DigestSet() if cfg.dedup else None
    stats = CorpusStats()
    for source in cfg.sources:
        bucket = out[source.key]
        if len(bucket) >= cfg.heldout_max_docs:
            continue
        for doc in iter_documents(source, stats):
            digest = text_digest(doc.text)
            if not is_heldout(digest, cfg.heldout_fraction) or len(doc.text) > HELDOUT_MAX_CHARS:
                continue
            if seen is not None and not seen.add(digest):
                continue
            bucket.append(doc)
            if len(bucket) >= cfg.heldout_max_docs:
                break
    return out


def _dump(split: dict[tuple[str, str], list[Document]]) -> bytes:
    header = {"toksmith_heldout": CACHE_FORMAT, "subsets": [list(k) for k in split]}
    lines = [json.dumps(header)]
    for docs in split.values():
        lines.extend(json.dumps([d.domain, d.subset, d.source, d.text], ensure_ascii=False) for d in docs)
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"), compresslevel=1, mtime=0)


def _load(path: Path) -> dict[tuple[str, str], list[Document]] | None:
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="surrogatepass") as fh:
            header = json.loads(fh.readline())
            if header.get("toksmith_heldout") != CACHE_FORMAT:
                return None
            out: dict[tuple[str, str], list[Document]] = {tuple(k): [] for k in header["subsets"]}
            for line in fh:
                domain, subset, source, text = json.loads(line)
                out[(domain, subset)].append(Document(text, domain, subset, source))
        return out
    except (OSError, EOFError, ValueError, KeyError, TypeError) as e:
        log.warning("ignoring unreadable held-out cache %s (%s); recomputing it", path, e)
        return None


def heldout_documents(cfg: CorpusConfig, use_cache: bool = True) -> dict[tuple[str, str], list[Document]]:
    """The evaluation documents of every (domain, subset), never seen by :func:`iter_training_documents`."""
    key = heldout_key(cfg)
    split = _MEMO.get(key) if use_cache else None
    path = cache_dir() / f"heldout-{key}.jsonl.gz"
    if split is None and use_cache and path.is_file():
        split = _load(path)
    if split is None:
        split = _scan(cfg)
        if use_cache:
            try:
                atomic_write_bytes(path, _dump(split))
            except OSError as e:  # a read-only home must not break evaluation
                log.warning("could not cache the held-out split at %s: %s", path, e)
    if use_cache:
        _MEMO[key] = split
    return {k: list(v) for k, v in split.items()}


def _blank() -> dict:
    return {f"{part}_{unit}": 0 for part in ("train", "heldout") for unit in ("docs", "chars", "bytes")}


def corpus_stats(cfg: CorpusConfig) -> dict:
    """Scan every source once: documents/chars/bytes per domain and subset, train vs held-out, and the budget.

    ``train_*`` counts what training may draw from (held-out and, with ``dedup``, duplicates removed) before the
    budget is applied; ``heldout_*`` counts every document the hash split holds out (the evaluation set is the
    first ``heldout_max_docs`` of them); ``budget_chars`` is the planned character quota of the subset.
    """
    stats = CorpusStats()
    seen = DigestSet() if cfg.dedup else None
    subsets: dict[str, dict] = {}
    for source, quota in zip(cfg.sources, cfg.source_quotas()):
        row = subsets.setdefault(f"{source.domain}/{source.subset}", {"domain": source.domain, "subset": source.subset,
                                                                      "sources": 0, "budget_chars": 0, **_blank()})
        row["sources"] += 1
        row["budget_chars"] += quota
        for doc in iter_documents(source, stats):
            digest = text_digest(doc.text)
            part = "heldout" if is_heldout(digest, cfg.heldout_fraction) else "train"
            if part == "train" and seen is not None and not seen.add(digest):
                stats.duplicates += 1
                continue
            row[f"{part}_docs"] += 1
            row[f"{part}_chars"] += len(doc.text)
            row[f"{part}_bytes"] += len(doc.text.encode("utf-8", "surrogatepass"))
    if not any(r["train_docs"] + r["heldout_docs"] for r in subsets.values()):
        raise ToksmithError(
            f"the corpus has no documents after filtering ({stats.files} files, {stats.skipped_binary} binary and "
            f"{stats.skipped_non_utf8} non-UTF-8 skipped); check the sources: "
            + ", ".join(str(s.path) for s in cfg.sources)
        )
    domains: dict[str, dict] = {}
    shares = cfg.shares()
    for row in subsets.values():
        d = domains.setdefault(row["domain"], {"share": shares[row["domain"]], "budget_chars": 0, **_blank()})
        for k in d:
            if k != "share":
                d[k] += row[k]
    return {
        "total_chars": cfg.total_chars,
        "seed": cfg.seed,
        "heldout_fraction": cfg.heldout_fraction,
        "domains": domains,
        "subsets": subsets,
        "files": stats.files,
        "skipped_binary": stats.skipped_binary,
        "skipped_non_utf8": stats.skipped_non_utf8,
        "duplicates": stats.duplicates,
        "chunked_documents": stats.chunked_documents,
    }
