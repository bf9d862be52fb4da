"""BPE trainer backends: one function each, all returning the merged tokens (bytes) in merge order.

A backend is ``fn(texts, *, pattern, n_merges, max_token_length, min_frequency) -> list[bytes]``: it
pre-tokenizes ``texts`` with ``pattern`` (``None`` = identity, the whole text is one piece), learns up to
``n_merges`` merges and returns the new tokens in the order they were learned, without the 256 single bytes
and without duplicates. ``toksmith.bpe.train`` turns that into ids (specials, bytes, merges) and files.
``max_token_length`` is in **bytes** for every backend (a bytes limit also bounds characters, since every
character is at least one byte).

What each backend honours (read from their sources: tokenizers 0.23, rustbpe 0.1.0, bpeasy 0.1.6):

* ``hf`` (HF ``tokenizers`` BpeTrainer, the paper's trainer): ``max_token_length`` yes (it counts byte-level
  characters, one per byte, and keeps tokens *strictly shorter* than its argument, so it is passed
  ``max_token_length + 1``: the paper's ``max_token_length=128`` gave tokens of at most 127);
  ``min_frequency`` yes; word counts are u64 but pair counts ``i32`` (``counts[i] as i32`` in its trainer; the
  paper's README warns of silent overflows past ~1e9 characters); ties go to the smallest pair of HF's internal
  ids, whose alphabet is sorted by byte-level *character*, not by byte value (measured: it leaves the reference
  exactly at the tied steps); identity = ByteLevel with no Split.
* ``rustbpe`` (karpathy/rustbpe, nanochat's trainer): ``max_token_length`` **no**, ``min_frequency`` **no**
  (it merges down to count 1; both are logged as warnings); ``i32`` counts; ties go to the smallest pair of
  ids (bytes = byte value, merges numbered in order); identity via the pattern ``[\s\S]+``.
* ``bpeasy`` (gautierdag/bpeasy, the paper's first author): ``max_token_length`` yes (it keeps tokens
  *strictly shorter* than its argument, so it is passed ``max_token_length + 1``); ``min_frequency`` **no**
  (merges down to count 1, a warning); ``i64`` counts; ties as rustbpe; identity via ``[\s\S]+``.
* ``reference`` (``toksmith.bpe.reference``): everything; Python ints; ties go to the smallest
  ``(left bytes, right bytes)``; identity native. Small data only.
* ``toksmith`` (``toksmith.bpe.native``): everything, 64-bit counts, ties as ``reference``.

All five agree exactly when no merge step has a tie (``reference.merge_ties`` is empty); on ties each backend
may pick another pair, and everything after may differ. rustbpe and bpeasy use Rust's ``fancy_regex``, HF
uses Oniguruma, the others Python ``regex``: the presets behave the same in all three, exotic custom patterns
may not.

References: HF tokenizers ``BpeTrainer``; karpathy/rustbpe; gautierdag/bpeasy (the paper's first author's
trainer); ``toksmith.bpe.reference``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from ..errors import ToksmithError, unknown_name
from ..pretokenize import hf_pre_tokenizer

log = logging.getLogger(__name__)

# The split pattern handed to Rust trainers that always need one, for identity: one match = the whole text.
IDENTITY_PATTERN = r"[\s\S]+"

Backend = Callable[..., list[bytes]]


def dedupe_tokens(tokens: Iterable[bytes]) -> list[bytes]:
    """Keep multi-byte tokens, first occurrence only, in order (two merges can produce the same bytes)."""
    seen: set[bytes] = set()
    out = []
    for t in tokens:
        if len(t) > 1 and t not in seen:
            seen.add(t)
            out.append(t)
    return out


def _rust_regex_error(backend: str, pattern: str, e: Exception) -> ToksmithError:
    return ToksmithError(
        f"backend {backend} (Rust fancy_regex) cannot use the pattern {pattern!r}: {e}. Use --backend hf or "
        "toksmith, or a pattern without Python-only syntax"
    )


def train_hf(texts: Iterable[str], *, pattern, n_merges, max_token_length, min_frequency) -> list[bytes]:
    """HF ``tokenizers`` BpeTrainer, set up as in the paper (without specials: toksmith adds them itself)."""
    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from tokenizers.pre_tokenizers import ByteLevel
    from tokenizers.trainers import BpeTrainer

    from ..tokenizer import bytelevel_decode

    tok = Tokenizer(BPE())
    tok.pre_tokenizer = hf_pre_tokenizer(pattern)
    trainer = BpeTrainer(
        vocab_size=256 + n_merges,  # the full byte alphabet is the initial vocabulary, no specials
        min_frequency=min_frequency,
        # HF keeps tokens *strictly shorter* than its limit (measured: limit 4 -> longest token 3 characters;
        # its Word::merge tests `len < max_length`), and counts byte-level characters = bytes; hence + 1.
        max_token_length=max_token_length + 1,
        initial_alphabet=ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]
    tokens = []
    for m in merges:
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        tokens.append(bytelevel_decode(a) + bytelevel_decode(b))
    return dedupe_tokens(tokens)[:n_merges]


def _warn_min_frequency(backend: str, min_frequency: int) -> None:
    if min_frequency > 1:
        log.warning("backend %s ignores min_frequency=%d: it merges pairs down to count 1", backend, min_frequency)


def train_rustbpe(texts: Iterable[str], *, pattern, n_merges, max_token_length, min_frequency) -> list[bytes]:
    """karpathy/rustbpe (nanochat's trainer). Honours neither max_token_length nor min_frequency."""
    import rustbpe

    _warn_min_frequency("rustbpe", min_frequency)
    tok = rustbpe.Tokenizer()
    split = pattern if pattern is not None else IDENTITY_PATTERN
    try:
        tok.train_from_iterator(iter(texts), 256 + n_merges, pattern=split)
    except ValueError as e:
        raise _rust_regex_error("rustbpe", split, e) from None
    ranked = sorted(tok.get_mergeable_ranks(), key=lambda x: x[1])
    tokens = dedupe_tokens(bytes(t) for t, _ in ranked)[:n_merges]
    too_long = sum(len(t) > max_token_length for t in tokens)
    if too_long:
        log.warning("backend rustbpe ignores max_token_length=%d: %d tokens are longer", max_token_length, too_long)
    return tokens


def train_bpeasy(texts: Iterable[str], *, pattern, n_merges, max_token_length, min_frequency) -> list[bytes]:
    """gautierdag/bpeasy. It keeps tokens strictly shorter than its limit, so it gets ``max_token_length + 1``."""
    import bpeasy

    _warn_min_frequency("bpeasy", min_frequency)
    split = pattern if pattern is not None else IDENTITY_PATTERN
    try:
        vocab = bpeasy.train_bpe(iter(texts), split, max_token_length + 1, 256 + n_merges)
    except ValueError as e:
        raise _rust_regex_error("bpeasy", split, e) from None
    return dedupe_tokens(t for t, _ in sorted(vocab.items(), key=lambda x: x[1]))[:n_merges]


def merge_headroom(n_merges: int) -> int:
    """Merges to ask for so that ``n_merges`` distinct tokens remain after :func:`dedupe_tokens`.

    Two merges can produce the same bytes ((a, bc) and (ab, c)); the oracle and the native trainer report both,
    HF's trainer reports both but counts the token once. BPE is sequential, so asking for more merges never
    changes the earlier ones: the first ``n_merges`` distinct tokens are the same as with an exact request.
    """
    return n_merges + max(16, n_merges // 100)


def train_reference(texts: Iterable[str], *, pattern, n_merges, max_token_length, min_frequency) -> list[bytes]:
    """The pure-Python oracle (small data only)."""
    from . import reference

    tokens = reference.train(texts, pattern, merge_headroom(n_merges), max_token_length, min_frequency)
    return dedupe_tokens(tokens)[:n_merges]


def train_toksmith(texts: Iterable[str], *, pattern, n_merges, max_token_length, min_frequency) -> list[bytes]:
    """toksmith's own native trainer (``toksmith.bpe.native``, built by the C++/Rust extension)."""
    try:
        from .native import train_bpe
    except ImportError as e:
        raise ToksmithError(
            f"the native backend is not built: {e}. Build it with `pip install -e .` (it needs a C++ compiler), "
            "or choose another backend with --backend hf"
        ) from None
    tokens = train_bpe(
        texts, pattern=pattern, n_merges=merge_headroom(n_merges), max_token_length=max_token_length,
        min_frequency=min_frequency,
    )
    return dedupe_tokens(bytes(t) for t in tokens)[:n_merges]


BACKENDS: dict[str, Backend] = {
    "hf": train_hf,
    "rustbpe": train_rustbpe,
    "bpeasy": train_bpeasy,
    "reference": train_reference,
    "toksmith": train_toksmith,
}


def get_backend(name: str) -> Backend:
    """The backend function for ``name``, or a ToksmithError listing the known ones."""
    if name not in BACKENDS:
        raise unknown_name("BPE backend", name, BACKENDS)
    return BACKENDS[name]
