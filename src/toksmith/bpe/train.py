"""Train a byte-level BPE tokenizer from a corpus config or from texts, and write its directory.

The paper's three levers are the fields of :class:`TrainConfig`: ``vocab_size``, ``preset`` (the
pre-tokenization regex) and ``corpus`` (the data mix). Ids are fixed by construction (docs/paper.md §2.1): the special
tokens at ``0..k-1`` (the paper's six by default), the 256 single bytes at ``k..k+255`` (byte ``b`` at ``k+b``),
then the merged tokens in merge order, so the result has exactly ``vocab_size`` tokens.

:func:`train_tokenizer` streams ``toksmith.corpus.iter_training_texts`` (never the held-out documents);
:func:`train_from_texts` takes any iterable of strings. Both hand the stream to a backend of
``toksmith.bpe.backends`` (HF ``tokenizers`` by default, as the paper) and write the directory with
``toksmith.formats.write_tokenizer_dir``; the saved ``config.toml`` / manifest ``config`` redo the run.

Limits: the backends hold the pre-token counts in memory; HF and the Rust peers read the whole stream before
merging. A backend that runs out of pairs (too little text for the vocabulary) is an error, never a smaller
vocabulary.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config import dumps_toml, to_dict
from ..corpus import CorpusConfig
from ..errors import ToksmithError
from ..pretokenize import resolve_pattern
from .backends import BACKENDS, get_backend

log = logging.getLogger(__name__)

CONFIG_FILE = "config.toml"  # the TrainConfig of the run, loadable with `toksmith train --config`

# The paper's specials, at ids 0..5 in every tokenizer it trained (docs/paper.md §2.1). The first three are also
# BOS, EOS and PAD for transformers.
DEFAULT_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<pad>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
)


@dataclass(frozen=True)
class TrainConfig:
    """One tokenizer training run."""

    vocab_size: int = 32000  # total, counting specials and the 256 bytes; the paper's smallest size (docs/paper.md §2.2)
    preset: str = "gpt4"  # a name in toksmith.pretokenize.PRESETS or a custom regex; the paper recommends gpt4
    max_token_length: int = 128  # bytes; "as GPT4's tokenizer" (docs/paper.md §2.2); use less (~32) for identity
    min_frequency: int = 2  # stop when the best pair occurs fewer times: a pair seen once is noise
    special_tokens: tuple[str, ...] = DEFAULT_SPECIAL_TOKENS  # at ids 0..k-1; first three = BOS, EOS, PAD
    backend: str = "hf"  # the paper trained with HF tokenizers; see toksmith.bpe.backends for the others
    corpus: CorpusConfig | None = None  # None = toksmith.corpus.default_corpus_config() (70% code / 30% English)
    name: str | None = None  # None = "<preset>-<vocab_size>"

    def __post_init__(self) -> None:
        object.__setattr__(self, "special_tokens", tuple(self.special_tokens))
        if not isinstance(self.preset, str) or not self.preset:
            raise ToksmithError(f"TrainConfig.preset must be a preset name or a regex, got {self.preset!r}")
        try:
            resolve_pattern(self.preset)
        except ToksmithError as e:
            raise ToksmithError(f"TrainConfig.preset: {e}") from None
        specials = self.special_tokens
        if any(not isinstance(s, str) or not s for s in specials) or len(set(specials)) != len(specials):
            raise ToksmithError(f"TrainConfig.special_tokens must be distinct non-empty strings, got {specials!r}")
        minimum = len(specials) + 256 + 1
        if not isinstance(self.vocab_size, int) or self.vocab_size < minimum:
            raise ToksmithError(
                f"TrainConfig.vocab_size={self.vocab_size!r} is too small: the minimum is {minimum} "
                f"({len(specials)} special tokens + 256 byte tokens + at least 1 merge)"
            )
        if not isinstance(self.max_token_length, int) or self.max_token_length < 2:
            raise ToksmithError(
                f"TrainConfig.max_token_length={self.max_token_length!r} must be an integer >= 2 (bytes); "
                "a merged token has at least 2 bytes"
            )
        if not isinstance(self.min_frequency, int) or self.min_frequency < 1:
            raise ToksmithError(f"TrainConfig.min_frequency={self.min_frequency!r} must be an integer >= 1")
        get_backend(self.backend)  # unknown name -> "unknown BPE backend ..., did you mean"
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()):
            raise ToksmithError(f"TrainConfig.name must be a non-empty string or omitted, got {self.name!r}")

    @property
    def preset_name(self) -> str:
        """The preset's name (``"custom"`` for a custom regex)."""
        return resolve_pattern(self.preset)[0]

    @property
    def pattern(self) -> str | None:
        """The split regex (``None`` = identity)."""
        return resolve_pattern(self.preset)[1]

    @property
    def n_merges(self) -> int:
        return self.vocab_size - len(self.special_tokens) - 256

    @property
    def tokenizer_name(self) -> str:
        return self.name or f"{self.preset_name}-{self.vocab_size}"


class _Stream:
    """Iterate texts once, counting texts, characters and UTF-8 bytes, with an optional rich progress bar."""

    def __init__(self, texts: Iterable[str], total_chars: int | None, progress: bool | None):
        self.texts, self.chars, self.bytes = 0, 0, 0
        self._it = iter(texts)
        self._total = total_chars
        self._progress = progress

    def __iter__(self) -> Iterator[str]:
        from ..progress import progress_bar

        with progress_bar(self._progress, "reading corpus", total=self._total) as advance:
            for text in self._count(self._it):
                yield text
                advance(len(text))

    def _count(self, it: Iterator[str]) -> Iterator[str]:
        for text in it:
            if not isinstance(text, str):
                raise ToksmithError(f"training texts must be str, got {type(text).__name__} (text #{self.texts})")
            try:
                n_bytes = len(text.encode("utf-8"))
            except UnicodeEncodeError as e:
                raise ToksmithError(
                    f"training text #{self.texts} has a lone surrogate {text[e.start:e.end]!r} at position {e.start}; "
                    "it has no UTF-8 bytes. Read the source with errors='replace' or fix it"
                ) from None
            self.texts += 1
            self.chars += len(text)
            self.bytes += n_bytes
            yield text

    def stats(self) -> dict[str, int]:
        return {"texts": self.texts, "chars": self.chars, "bytes": self.bytes}


def learn_merges(texts: Iterable[str], cfg: TrainConfig, progress: bool | None = None, total_chars: int | None = None):
    """Run the configured backend; return ``(merged tokens, stream stats, seconds)``, checked to fill the vocab."""
    stream = _Stream(texts, total_chars, progress)
    start = time.perf_counter()
    log.info(
        "training %s: vocab %d (%d merges), preset %s, backend %s",
        cfg.tokenizer_name, cfg.vocab_size, cfg.n_merges, cfg.preset_name, cfg.backend,
    )
    merged = get_backend(cfg.backend)(
        iter(stream),
        pattern=cfg.pattern,
        n_merges=cfg.n_merges,
        max_token_length=cfg.max_token_length,
        min_frequency=cfg.min_frequency,
    )
    seconds = time.perf_counter() - start
    stats = stream.stats()
    if stats["chars"] == 0:
        raise ToksmithError(
            f"the training text stream is empty ({stats['texts']} texts, 0 characters); check the corpus sources "
            "and the character budget"
        )
    if len(merged) < cfg.n_merges:
        raise ToksmithError(
            f"backend {cfg.backend} learned only {len(merged)} of the {cfg.n_merges} merges that vocab_size "
            f"{cfg.vocab_size} needs, from {stats['chars']:,} characters (no pair left with count >= min_frequency="
            f"{cfg.min_frequency} under max_token_length={cfg.max_token_length}). Train on more text (--chars) or "
            f"use a vocabulary of at most {cfg.vocab_size - cfg.n_merges + len(merged)}"
        )
    merged = list(merged[: cfg.n_merges])
    too_long = [t for t in merged if len(t) > cfg.max_token_length]
    if too_long:
        log.warning(
            "%d tokens exceed max_token_length=%d bytes (backend %s does not honour it); longest has %d bytes",
            len(too_long), cfg.max_token_length, cfg.backend, max(map(len, too_long)),
        )
    log.info("learned %d merges from %s chars in %.2f s", len(merged), f"{stats['chars']:,}", seconds)
    return merged, stats, seconds


def train_from_texts(
    texts: Iterable[str],
    cfg: TrainConfig,
    out_dir: str | Path,
    corpus_stats=None,
    progress: bool | None = None,
) -> Path:
    """Train on ``texts`` and write the tokenizer directory ``out_dir`` atomically; return its path.

    ``corpus_stats`` (a dict, or a ``CorpusStats`` that the stream fills) is stored in the manifest beside the
    stream's own counts (texts, characters, bytes).
    """
    total = cfg.corpus.total_chars if cfg.corpus is not None else None
    merged, stream_stats, train_s = learn_merges(texts, cfg, progress=progress, total_chars=total)
    if corpus_stats is not None and hasattr(corpus_stats, "to_dict"):  # a CorpusStats, filled by now
        corpus_stats = corpus_stats.to_dict()
    corpus = {"stream": stream_stats, **({"stats": corpus_stats} if corpus_stats is not None else {})}
    return _write(cfg, merged, out_dir, corpus=corpus, train_s=train_s)


def train_from_counts(counts, cfg: TrainConfig, out_dir: str | Path) -> Path:
    """Learn the merges from pre-token counts (``toksmith.bpe.counts.Counts`` or a counts file) and write ``out_dir``.

    One counting pass (``toksmith count``, or :func:`toksmith.bpe.distributed.count_shards` on a cluster) serves
    any number of vocabulary sizes. The counts must have been made with ``cfg``'s pre-tokenization pattern. The
    merges are the native trainer's (``backend`` is recorded as ``toksmith``): identical to training on the text.
    """
    from .backends import dedupe_tokens, merge_headroom
    from .counts import Counts
    from .native import merges_from_counts

    if not isinstance(counts, Counts):
        counts = Counts.load(counts, expect_pattern=cfg.pattern)
    elif counts.pattern != cfg.pattern:
        raise ToksmithError(
            f"these counts were made with pattern {counts.pattern!r}, not preset {cfg.preset!r}'s {cfg.pattern!r}; "
            "recount with the preset you train with"
        )
    start = time.perf_counter()
    merged = dedupe_tokens(merges_from_counts(counts, merge_headroom(cfg.n_merges), max_token_length=cfg.max_token_length,
                                        min_frequency=cfg.min_frequency))[: cfg.n_merges]
    if len(merged) < cfg.n_merges:
        raise ToksmithError(
            f"the counts hold {len(merged)} merges at most, vocab_size {cfg.vocab_size} needs {cfg.n_merges}: count "
            f"more text or use a vocabulary of at most {cfg.vocab_size - cfg.n_merges + len(merged)}"
        )
    cfg = dataclasses.replace(cfg, backend="toksmith")
    corpus = {"counts": {"pre_tokens": len(counts), "total": counts.total, "pruned_entries": counts.pruned_entries}}
    return _write(cfg, merged, out_dir, corpus=corpus, train_s=time.perf_counter() - start)


def _write(cfg: TrainConfig, merged: list[bytes], out_dir: str | Path, *, corpus: dict, train_s: float) -> Path:
    from ..formats import library_versions, write_tokenizer_dir

    manifest = {
        "backend": cfg.backend,
        "config": to_dict(cfg),
        "corpus": corpus,
        "versions": library_versions(cfg.backend),
        "timings": {"train_s": round(train_s, 3)},
    }
    return write_tokenizer_dir(
        out_dir,
        name=cfg.tokenizer_name,
        preset=cfg.preset_name,
        pattern=cfg.pattern,
        special_tokens=cfg.special_tokens,
        merged=merged,
        manifest=manifest,
        extra_files={CONFIG_FILE: dumps_toml(cfg)},
    )


def train_tokenizer(cfg: TrainConfig, out_dir: str | Path, progress: bool | None = None) -> Path:
    """Train on the corpus of ``cfg`` (the default corpus if ``cfg.corpus`` is None) and write ``out_dir``.

    The saved config names the corpus it resolved to, so loading it redoes this exact run.
    """
    from ..corpus import CorpusStats, default_corpus_config, iter_training_texts

    if cfg.corpus is None:
        cfg = dataclasses.replace(cfg, corpus=default_corpus_config())
    stats = CorpusStats()
    texts = iter_training_texts(cfg.corpus, stats)
    return train_from_texts(texts, cfg, out_dir, corpus_stats=stats, progress=progress)


__all__ = ["BACKENDS", "DEFAULT_SPECIAL_TOKENS", "TrainConfig", "learn_merges", "train_from_counts", "train_from_texts",
           "train_tokenizer"]
