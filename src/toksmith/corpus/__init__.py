"""Corpus stage: sources -> a seeded, budgeted, interleaved training stream and a held-out evaluation split.

See :mod:`.sources` (readers), :mod:`.mix` (shares, interleave, dedup, split rule), :mod:`.heldout` (evaluation
split, statistics) and :mod:`.default` (the embedded default corpus).
"""

from .default import DEFAULT_MIX, default_corpus_config, vendored_manifest
from .heldout import corpus_stats, heldout_documents
from .mix import CorpusConfig, DigestSet, is_heldout, iter_training_documents, iter_training_texts, text_digest
from .sources import CorpusStats, Document, SourceConfig, SubsetCounts, iter_documents, iter_files

__all__ = [
    "DEFAULT_MIX",
    "CorpusConfig",
    "CorpusStats",
    "DigestSet",
    "Document",
    "SourceConfig",
    "SubsetCounts",
    "corpus_stats",
    "default_corpus_config",
    "heldout_documents",
    "is_heldout",
    "iter_documents",
    "iter_files",
    "iter_training_documents",
    "iter_training_texts",
    "text_digest",
    "vendored_manifest",
]
