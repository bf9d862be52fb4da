"""BPE training stage: a trainer config, backends (HF, rustbpe, bpeasy, native, the reference oracle), and
the tokenizer directory they produce.

* :mod:`.reference`: the ~150-line pure-Python trainer/encoder, the oracle the fast backends must equal.
* :mod:`.backends`: ``BACKENDS``, name -> ``fn(texts, *, pattern, n_merges, max_token_length, min_frequency)``.
* :mod:`.train`: :class:`TrainConfig`, :func:`train_tokenizer` (from a corpus config), :func:`train_from_texts`.
* ``toksmith.formats``: the files of a trained tokenizer directory.

Importing this package loads no tokenizer library; each backend imports its own when called.
"""

from .backends import BACKENDS, get_backend
from .train import DEFAULT_SPECIAL_TOKENS, TrainConfig, train_from_counts, train_from_texts, train_tokenizer

__all__ = ["BACKENDS", "DEFAULT_SPECIAL_TOKENS", "TrainConfig", "get_backend", "train_from_counts", "train_from_texts", "train_tokenizer"]
