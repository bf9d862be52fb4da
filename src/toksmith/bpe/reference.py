"""The educational byte-level BPE trainer and encoder: the oracle every fast backend must agree with.

What it is: BPE on bytes, in the form the paper (and tiktoken, GPT-2, Llama 3) uses.

1. *Pre-tokenize*: cut each text into pieces with the preset regex (``toksmith.pretokenize.split``; identity =
   the whole text is one piece). Merges never cross a piece boundary.
2. *Count* the unique pieces as bytes: ``{b"hello": 3, b" world": 2, ...}``. Each piece starts as a list of
   single bytes: ``[b"h", b"e", b"l", b"l", b"o"]``.
3. *Merge*: count every adjacent pair (weighted by the piece count), pick the most frequent pair, replace it
   by the concatenated token everywhere, repeat. Ties go to the smallest ``(left bytes, right bytes)``; a pair
   whose merged token would be longer than ``max_token_length`` bytes is never merged; training stops after
   ``n_merges`` merges or when the best count is below ``min_frequency``.

Encoding is tiktoken's rule: inside each piece, repeatedly merge the adjacent pair whose concatenation has the
lowest rank (a piece that is itself a token is returned whole).

References: Sennrich et al. 2016 (BPE for NLP); tiktoken ``_educational.py``; karpathy/minbpe; rustbpe's
"merge order was detected to be ambiguous" check (:func:`merge_ties`).

Limits: pure Python, made to be read. Pair counts are kept incrementally (only the pieces that contain the
merged pair are re-counted), but choosing the best pair scans all pairs, so it is meant for small data (a few
hundred KB, a few hundred merges). Use a backend from ``toksmith.bpe.backends`` for real corpora.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from ..pretokenize import split

Pair = tuple[bytes, bytes]


def count_pieces(texts: Iterable[str], pattern: str | None) -> Counter[bytes]:
    """Unique pre-tokens (as UTF-8 bytes) and how often each occurs.

    >>> count_pieces(["ab ab"], r" ?\\w+")
    Counter({b'ab': 1, b' ab': 1})
    """
    counts: Counter[bytes] = Counter()
    for text in texts:
        counts.update(piece.encode("utf-8") for piece in split(text, pattern))
    return counts


def merge_word(word: Sequence[bytes], pair: Pair) -> list[bytes]:
    """Replace every non-overlapping occurrence of ``pair`` in ``word``, left to right.

    Example: word=[b'a', b'a', b'a'], pair=(b'a', b'a') -> [b'aa', b'a']
    """
    out: list[bytes] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def train_steps(
    piece_counts: Mapping[bytes, int], n_merges: int, max_token_length: int = 128, min_frequency: int = 2
) -> list[tuple[Pair, int, int]]:
    """Run BPE on piece counts; return one ``((left, right), count, n_tied)`` per merge, in merge order.

    ``n_tied`` is how many allowed pairs had the winning count at that step (1 = the choice was unambiguous).
    """
    # words[i] is piece i as its current list of tokens; freqs[i] is how often the piece occurs.
    words = [[bytes([b]) for b in piece] for piece in piece_counts]
    freqs = list(piece_counts.values())
    pair_counts: Counter[Pair] = Counter()
    where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> indices of the words that contain it

    def add(i: int, sign: int) -> None:
        """Add (sign=+1) or remove (sign=-1) the adjacent pairs of word i from the counts."""
        w = words[i]
        for pair in zip(w, w[1:]):
            pair_counts[pair] += sign * freqs[i]
            if sign > 0:
                where[pair].add(i)

    for i in range(len(words)):
        add(i, +1)

    steps: list[tuple[Pair, int, int]] = []
    while len(steps) < n_merges:
        # Pairs whose token would be too long are never candidates (a pair's merged length never changes).
        candidates = [
            (-c, pair) for pair, c in pair_counts.items() if c > 0 and len(pair[0]) + len(pair[1]) <= max_token_length
        ]
        if not candidates:
            break
        neg_count, best = min(candidates)  # highest count, then the smallest (left, right) bytes
        if -neg_count < min_frequency:
            break
        n_tied = sum(1 for c, _ in candidates if c == neg_count)
        steps.append((best, -neg_count, n_tied))
        for i in where.pop(best):
            add(i, -1)
            words[i] = merge_word(words[i], best)
            add(i, +1)
        del pair_counts[best]
    return steps


def train(
    texts: Iterable[str],
    pattern: str | None,
    n_merges: int,
    max_token_length: int = 128,
    min_frequency: int = 2,
) -> list[bytes]:
    """Train byte-level BPE; return the merged tokens in merge order (the 256 single bytes excluded).

    Wikipedia's example, ``aaabdaaabac`` as one piece: ``aa`` (count 4), then ``ab`` (count 2, tied with
    ``(b'aa', b'a')``; ``(b'a', b'b')`` is smaller), then ``aaab`` (count 2):

    >>> train(["aaabdaaabac"], None, 3)
    [b'aa', b'ab', b'aaab']
    """
    steps = train_steps(count_pieces(texts, pattern), n_merges, max_token_length, min_frequency)
    return [left + right for (left, right), _, _ in steps]


def merge_ties(
    texts: Iterable[str],
    pattern: str | None,
    n_merges: int,
    max_token_length: int = 128,
    min_frequency: int = 2,
) -> list[int]:
    """The merge steps (0-based) where several pairs shared the best count: there, backends with another
    tie-breaking rule may legitimately choose differently ("merge order was detected to be ambiguous").
    An empty list means every fast backend must reproduce :func:`train` exactly."""
    steps = train_steps(count_pieces(texts, pattern), n_merges, max_token_length, min_frequency)
    return [k for k, (_, _, n_tied) in enumerate(steps) if n_tied > 1]


def ranks_from_merges(merged: Iterable[bytes]) -> dict[bytes, int]:
    """tiktoken-style ranks: the 256 single bytes at 0..255, then each new merged token in order."""
    ranks = {bytes([b]): b for b in range(256)}
    for token in merged:
        ranks.setdefault(token, len(ranks))
    return ranks


def encode_piece(piece: bytes, ranks: Mapping[bytes, int]) -> list[int]:
    """Encode one pre-token: repeatedly merge the adjacent pair whose concatenation has the lowest rank.

    Example: ranks {a..z: 97.., b'aa': 256, b'aaa': 257}, piece b'aaaa' -> [b'aa', b'aa'] -> [256, 256]
    (``aa+aa`` is not a token, so merging stops).
    """
    if piece in ranks:  # tiktoken's shortcut: a piece that is a token is never split
        return [ranks[piece]]
    parts = [bytes([b]) for b in piece]
    while len(parts) > 1:
        best_rank, best_i = min(
            (ranks.get(parts[i] + parts[i + 1], float("inf")), i) for i in range(len(parts) - 1)
        )
        if best_rank == float("inf"):
            break
        parts[best_i : best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return [ranks[p] for p in parts]


def encode(text: str, merges_or_ranks: Sequence[bytes] | Mapping[bytes, int], pattern: str | None) -> list[int]:
    """Encode ``text`` with merged tokens (a list, as :func:`train` returns) or tiktoken ranks (a dict).

    Ids are ranks: bytes at 0..255, merges from 256 (no special tokens here).
    """
    ranks = merges_or_ranks if isinstance(merges_or_ranks, Mapping) else ranks_from_merges(merges_or_ranks)
    return [i for piece in split(text, pattern) for i in encode_piece(piece.encode("utf-8"), ranks)]
