"""The main job on the embedded default data: train a code tokenizer, then measure it against references.

Until the full TOML-driven study exists, ``toksmith quickstart`` is the end-to-end path a new user runs first:

1. train a byte-level BPE tokenizer (default: 32k, GPT-4 regex, 70% code / 30% English of the embedded corpus)
   into ``<out>/tokenizers/<config-hash>/`` -- a finished tokenizer with the same config is reused, not retrained;
2. compare it with the reference tokenizers (default: GPT-4's cl100k and the paper's baseline, Llama 2) on the
   held-out split of the same corpus (documents training never saw), writing CSV/JSON/PNG under
   ``<out>/compare/``;
3. return the summary the CLI prints: bytes/token and NSL per domain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..artifacts import config_hash
from ..bpe import TrainConfig
from ..config import to_dict
from ..errors import check_fields
from ..tokenizer import MANIFEST_FILE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuickstartConfig:
    """Train one tokenizer and compare it with references on the held-out split."""

    train: TrainConfig = field(default_factory=TrainConfig)  # vocab size, preset, backend (corpus: see below)
    corpus_chars: int = 30_000_000  # training budget in characters (the paper: 10B; 30M trains 32k in ~minutes)
    references: tuple[str, ...] = ("cl100k", "llama2")  # printed next to ours; llama2 is the NSL baseline
    out_dir: Path = Path("runs/quickstart")
    max_docs_per_subset: int | None = 300  # held-out documents per subset measured (the paper reads ~1,000)

    def __post_init__(self):
        check_fields(self, positive=["corpus_chars"])


def trained_dir(cfg) -> Path:
    """Where a TrainConfig's tokenizer lives under ``out``: keyed by the hash of its full config."""
    return Path("tokenizers") / f"{cfg.tokenizer_name}-{config_hash(to_dict(cfg))}"


def run_quickstart(cfg: QuickstartConfig):
    """Train (or reuse) the tokenizer, compare it on held-out data; returns the CompareResult."""
    from ..analysis.compare import compare, write_result
    from ..bpe import train_tokenizer
    from ..analysis.heldout import heldout_from_config
    from ..corpus import default_corpus_config

    train_cfg = cfg.train
    corpus = train_cfg.corpus or default_corpus_config(total_chars=cfg.corpus_chars)
    train_cfg = replace(train_cfg, corpus=corpus)
    tok_dir = cfg.out_dir / trained_dir(train_cfg)
    if (tok_dir / MANIFEST_FILE).is_file():
        log.info("reusing the trained tokenizer in %s (same config hash)", tok_dir)
    else:
        log.info("training %s on %.0fM characters of the default corpus", train_cfg.tokenizer_name, corpus.total_chars / 1e6)
        train_tokenizer(train_cfg, tok_dir)
    data = {key: texts[: cfg.max_docs_per_subset] for key, texts in heldout_from_config(corpus).items()}
    result = compare([str(tok_dir), *cfg.references], data, corpus_name="default held-out split", progress=True)
    for path in write_result(result, cfg.out_dir / "compare", {"quickstart": to_dict(cfg), "train": to_dict(train_cfg)}):
        log.info("wrote %s", path)
    return result
