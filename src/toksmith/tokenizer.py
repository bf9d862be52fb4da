"""One ``Tokenizer`` protocol for every backend, and the loaders that build one from files.

Every stage after training (analysis, transfer, code generation) sees tokenizers only through
:class:`Tokenizer`: ``encode`` (ordinary text, no BOS/EOS, special-token strings treated as text),
``encode_batch``, ``decode`` / ``decode_bytes``, ``token_bytes`` and ``vocab_size`` / ``special_tokens``.
Bytes are the unit: ``token_bytes(i)`` is the raw UTF-8 (or partial UTF-8) bytes a token stands for, whatever
the file spells it as (``Ġ``-style byte-level characters, SentencePiece ``▁`` and ``<0xXX>``), so byte counts,
bits per byte and vocabulary transfer never depend on a spelling.

Adapters:

* :class:`TiktokenTokenizer` over ``tiktoken.Encoding``: the fastest encoder for byte-level BPE; toksmith's own
  trained tokenizers load as this (or as HF for the ``identity`` preset, see :func:`load_trained`).
* :class:`HFTokenizer` over ``tokenizers.Tokenizer`` (any ``tokenizer.json``).
* :class:`SentencePieceTokenizer` over ``sentencepiece.SentencePieceProcessor`` (Llama 2, Mistral).

:func:`toksmith.references.load_tokenizer` resolves a reference name, a trained directory or a file (it lives
there so that this module never imports ``references``: no import cycle).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import ToksmithError, unknown_name

# File names inside a toksmith tokenizer directory.
HF_FILE = "tokenizer.json"
TIKTOKEN_FILE = "tokenizer.tiktoken"
MANIFEST_FILE = "toksmith.json"

# tiktoken needs a split pattern; for the identity preset (no split) the whole text is one piece.
IDENTITY_TIKTOKEN_PATTERN = r"[\s\S]+"


@runtime_checkable
class Tokenizer(Protocol):
    """What every stage needs from a tokenizer. Ids never include BOS/EOS unless the caller adds them."""

    name: str

    @property
    def vocab_size(self) -> int: ...

    @property
    def special_tokens(self) -> dict[str, int]: ...

    def encode(self, text: str) -> list[int]: ...

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def decode_bytes(self, ids: Sequence[int]) -> bytes: ...

    def token_bytes(self, token_id: int) -> bytes: ...


def _check_text(text: str) -> None:
    """Reject lone surrogates up front: they have no UTF-8 bytes, so no tokenizer can encode them losslessly."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ToksmithError(
            f"text contains a lone surrogate {text[e.start:e.end]!r} at position {e.start}; it is not valid "
            "Unicode and has no UTF-8 bytes. Decode your input with errors='replace' or fix the source."
        ) from None


def _threads(num_threads: int | None) -> int:
    return num_threads or max(1, os.cpu_count() or 1)


# ==== byte-level alphabet (GPT-2's bytes_to_unicode) ==========================================================


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from each byte to a printable character (space -> 'Ġ', newline -> 'Ċ')."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@lru_cache(maxsize=1)
def unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def bytelevel_encode(data: bytes) -> str:
    """Raw bytes -> the byte-level spelling used in ``tokenizer.json`` vocabularies."""
    table = bytes_to_unicode()
    return "".join(table[b] for b in data)


def bytelevel_decode(spelling: str) -> bytes | None:
    """A byte-level spelling -> raw bytes, or ``None`` if some character is outside the alphabet."""
    table = unicode_to_bytes()
    try:
        return bytes(table[c] for c in spelling)
    except KeyError:
        return None


# ==== tiktoken ================================================================================================


def read_tiktoken_ranks(path: str | os.PathLike) -> dict[bytes, int]:
    """Parse a ``.tiktoken`` file (``base64(token) rank`` per line) with errors that name file and line."""
    ranks: dict[bytes, int] = {}
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                tok, rank = line.split()
                ranks[base64.b64decode(tok)] = int(rank)
            except ValueError:
                raise ToksmithError(f"error parsing line {lineno} {line[:80]!r} of tiktoken file {path}") from None
    return ranks


def write_tiktoken_ranks(ranks: dict[bytes, int]) -> bytes:
    """Serialise ranks in tiktoken's format, sorted by rank (the caller writes it atomically)."""
    return b"".join(base64.b64encode(t) + b" " + str(r).encode() + b"\n" for t, r in sorted(ranks.items(), key=lambda x: x[1]))


class TiktokenTokenizer:
    """A ``tiktoken.Encoding`` built from data: pattern + mergeable ranks + special tokens."""

    def __init__(
        self,
        name: str,
        *,
        pattern: str | None,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int] | None = None,
    ):
        import tiktoken

        self.name = name
        self.pattern = pattern
        self.mergeable_ranks = mergeable_ranks
        self._special = dict(special_tokens or {})
        try:
            self.encoding = tiktoken.Encoding(
                name,
                pat_str=pattern if pattern is not None else IDENTITY_TIKTOKEN_PATTERN,
                mergeable_ranks=mergeable_ranks,
                special_tokens=self._special,
            )
        except ValueError as e:  # tiktoken's regex engine rejects the pattern
            raise ToksmithError(f"tokenizer {name}: tiktoken cannot use split pattern {pattern!r}: {e}") from None
        self._special_bytes = {i: s.encode() for s, i in self._special.items()}

    @property
    def vocab_size(self) -> int:
        return self.encoding.max_token_value + 1

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self._special)

    def encode(self, text: str) -> list[int]:
        _check_text(text)
        return self.encoding.encode_ordinary(text)

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        for t in texts:
            _check_text(t)
        return self.encoding.encode_ordinary_batch(list(texts), num_threads=_threads(num_threads))

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        return self.encoding.decode_bytes(list(ids))

    def decode(self, ids: Sequence[int]) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        if token_id in self._special_bytes:
            return self._special_bytes[token_id]
        return self.encoding.decode_single_token_bytes(token_id)

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name!r}, vocab_size={self.vocab_size})"


# ==== Hugging Face tokenizers =================================================================================


class _ByteTable:
    """Token bytes from a table built once per vocabulary (``_byte_table``, set by each adapter)."""

    _byte_table: list[bytes]

    def token_bytes(self, token_id: int) -> bytes:
        return self._byte_table[token_id]

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """Concatenated token bytes (for SentencePiece, the dummy-prefix space of the first token included)."""
        table = self._byte_table
        return b"".join(table[i] for i in ids)


class HFTokenizer(_ByteTable):
    """Any ``tokenizer.json``. Added/special tokens in the text are encoded as ordinary text."""

    def __init__(self, name: str, tokenizer):
        self.name = name
        self.tok = tokenizer
        # Treat special-token strings in text as text (like tiktoken's encode_ordinary).
        self.tok.encode_special_tokens = True
        self._special = {t.content: i for i, t in self.tok.get_added_tokens_decoder().items() if t.special}

    @classmethod
    def from_file(cls, path: str | os.PathLike, name: str | None = None) -> HFTokenizer:
        from tokenizers import Tokenizer as _HF

        path = Path(path)
        try:
            if path.suffix == ".gz":
                import gzip

                tok = _HF.from_str(gzip.decompress(path.read_bytes()).decode("utf-8"))
            else:
                tok = _HF.from_file(str(path))
        except Exception as e:  # the Rust error says what field is wrong
            raise ToksmithError(f"cannot load {path} as a Hugging Face tokenizer.json: {e}") from None
        return cls(name or path.parent.name, tok)

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size(with_added_tokens=True)

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self._special)

    def encode(self, text: str) -> list[int]:
        _check_text(text)
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        for t in texts:
            _check_text(t)
        # tokenizers parallelises encode_batch itself (RAYON_NUM_THREADS).
        return [e.ids for e in self.tok.encode_batch(list(texts), add_special_tokens=False)]

    @cached_property
    def _byte_table(self) -> list[bytes]:
        """token id -> bytes, decided once for the whole vocabulary."""
        vocab = self.tok.get_vocab(with_added_tokens=True)
        size = max(vocab.values()) + 1 if vocab else 0
        table = [b""] * size
        added = {t.content for t in self.tok.get_added_tokens_decoder().values()}
        bytelevel = self._bytelevel
        for piece, i in vocab.items():
            table[i] = piece_bytes(piece, bytelevel, piece in added)
        return table

    @cached_property
    def _bytelevel(self) -> bool:
        return is_bytelevel(json.loads(self.tok.to_str()))

    def decode(self, ids: Sequence[int]) -> str:
        if self._bytelevel:
            # From token bytes: the ByteLevel decoder would also map an added token's text (deepseek-coder's
            # user-defined 'õ' = U+00F5) through the byte alphabet, giving byte 0xF5 instead of the text.
            return self.decode_bytes(ids).decode("utf-8", errors="replace")
        return self.tok.decode(list(ids), skip_special_tokens=False)

    def __repr__(self) -> str:
        return f"HFTokenizer({self.name!r}, vocab_size={self.vocab_size})"


def is_bytelevel(data: dict) -> bool:
    """Whether a parsed ``tokenizer.json`` spells its vocabulary byte-level (GPT-2's ``Ġ`` alphabet)."""
    return '"ByteLevel"' in json.dumps([data.get("pre_tokenizer"), data.get("decoder")])


def piece_bytes(piece: str, bytelevel: bool, added: bool) -> bytes:
    """Bytes of one vocabulary entry, whatever its spelling (``<0xXX>`` byte fallback, byte-level, ``▁``)."""
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        try:
            return bytes([int(piece[3:5], 16)])
        except ValueError:
            pass
    if added:
        return piece.encode("utf-8")
    if bytelevel:
        raw = bytelevel_decode(piece)
        if raw is not None:
            return raw
    return piece.replace("\u2581", " ").encode("utf-8")


# ==== byte-level BPE through tiktoken ranks ===================================================================

# One regex for each Hugging Face pre-tokenizer shape that tiktoken's engine reproduces. Digits(individual)
# before GPT-2's split cuts digits out first; in one regex a digit is its own alternative, ` ?\p{N}+` goes,
# and `\s+(?!\S)` must treat a digit like the end of the text (it ends the piece the split ran on).
_DIGITS_GPT2_REGEX = r"\p{N}|'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+"
# deepseek-coder's four isolating splits, then digits: each split's matches are pieces, the gaps between are
# split further; the gap alternative stops where an earlier split would match.
# The CJK split runs on the letter and punctuation pieces too: it cuts a run of those characters (U+0800-U+9FA5
# and Hangul, so Indic scripts, kana and the general punctuation block as well) out of `\s?\p{L}+` / `\s?\p{P}+`
# pieces, leaving a leading space as a piece of its own ("\u0d09s" -> "\u0d09", "s"; " \u0d09" -> " ", "\u0d09").
_DS_CJK = "\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff"
_DS_IN, _DS_OUT = "(?=[" + _DS_CJK + "])", "(?![" + _DS_CJK + "])"
_DEEPSEEK_REGEX = (r"[\r\n]"
                   r"|\s?(?:" + _DS_OUT + r"\p{L})+|(?:" + _DS_IN + r"\p{L})+|\s(?=" + _DS_IN + r"\p{L})"
                   r"|\s?(?:" + _DS_OUT + r"\p{P})+|(?:" + _DS_IN + r"\p{P})+|\s(?=" + _DS_IN + r"\p{P})"
                   r"|\p{N}|(?:(?![\p{L}\p{P}\p{N}])[" + _DS_CJK + r"])+"
                   r"|(?:(?!\s?[\p{L}\p{P}])(?![\r\n\p{N}" + _DS_CJK + r"])[\s\S])+")


def _bytelevel_regex(pre: dict | None) -> str | None:
    """The single tiktoken regex equal to a byte-level pre-tokenizer, or ``None`` when there is none."""
    if not pre:
        return None

    def is_bytelevel(p, use_regex):
        return p.get("type") == "ByteLevel" and p.get("use_regex", True) == use_regex and not p.get("add_prefix_space")

    if is_bytelevel(pre, True):
        return _GPT2_REGEX
    if pre.get("type") != "Sequence":
        return None
    parts = pre.get("pretokenizers", [])
    if len(parts) == 2 and parts[0] == {"type": "Digits", "individual_digits": True} and is_bytelevel(parts[1], True):
        return _DIGITS_GPT2_REGEX
    if parts == GGUF_PRE_TOKENIZERS["deepseek-coder"]["pretokenizers"]:
        return _DEEPSEEK_REGEX
    if (len(parts) == 2 and parts[0].get("type") == "Split" and parts[0].get("behavior") == "Isolated"
            and not parts[0].get("invert") and "Regex" in parts[0].get("pattern", {}) and is_bytelevel(parts[1], False)):
        return parts[0]["pattern"]["Regex"]
    return None


def _utf8_lead_ranges(missing: set[int]) -> list[tuple[int, int]] | None:
    """Code point ranges whose UTF-8 starts with a byte in ``missing`` (an ASCII byte: that character); ``None`` if
    a continuation byte is missing (too many characters would need the slow path). Bytes never in UTF-8 (C0, C1,
    F5-FF) are ignored. SmolLM2 lacks six ASCII control characters, for example."""
    ranges = []
    for b in sorted(missing):
        if b < 0x80:
            ranges.append((b, b))
        elif b < 0xC0:
            return None
        if 0xC2 <= b <= 0xDF:
            ranges.append(((b - 0xC0) << 6, ((b - 0xC0) << 6) + 0x3F))
        elif 0xE0 <= b <= 0xEF:
            ranges.append(((b - 0xE0) << 12, ((b - 0xE0) << 12) + 0xFFF))
        elif 0xF0 <= b <= 0xF4:
            ranges.append(((b - 0xF0) << 18, min(((b - 0xF0) << 18) + 0x3FFFF, 0x10FFFF)))
    return ranges


# Script boundaries inside one word or punctuation run, where pre-tokenizers that split by script (DeepSeek's CJK
# split) differ from a plain letter/punctuation regex ("\u0d09s" once encoded differently from HF).
MIXED_SCRIPTS = ("\u0d09s \u0d09s", "\u30ab\u30bfabc \u201cquote\u201d. \u300c\u65e5\u672c\u300d\u3067\u3059\u3002",
                 "\ud55c\uad6d\uc5b4text \u0d15\u0d3f\u0967\u0968\u0d3f", "a\u0915\u093fb  \u0e01\u0e32x \u00e9\u0301!?")


@lru_cache(maxsize=1)
def verification_texts(docs_per_file: int = 3, max_chars: int = 20_000) -> tuple[str, ...]:
    """Text a fast path must reproduce before it is used: llama.cpp's tokenizer test inputs (shipped with the
    references), toksmith's own source files, and the first documents of each embedded corpus file (code in
    several languages, English, and text in 11 natural languages and scripts)."""
    import gzip

    root = Path(__file__).parent
    texts: list[str] = []
    for f in sorted((root / "references_data" / "verify").glob("*.inp.txt")):
        texts += f.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")[:-1]
    texts += [f.read_text(encoding="utf-8") for f in sorted(root.glob("*.py"))]
    texts += MIXED_SCRIPTS
    for f in sorted((root / "corpus" / "data").glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as lines:
            for line, _ in zip(lines, range(docs_per_file)):
                texts.append(json.loads(line).get("text", "")[:max_chars])
    return tuple(texts)


class RankedHFTokenizer(HFTokenizer):
    """A byte-level BPE ``tokenizer.json`` encoded through tiktoken ranks (same ids, several times faster).

    Built only by :func:`fast_hf_tokenizer`, which checks the ids against the Hugging Face encoder first.
    Documents that hold a non-special added token (matched as a unit by HF) or a character whose UTF-8 lead byte
    has no token (HF drops it; tiktoken cannot) go through the HF encoder; ``oracle_encode`` is always HF's.
    """

    def __init__(self, name: str, tokenizer, *, pattern: str, ranks: dict[bytes, int], added: dict[str, int],
                 slow_chars: str | None):
        super().__init__(name, tokenizer)
        import tiktoken

        self.pattern = pattern
        self.encoding = tiktoken.Encoding(f"{name}-ranks", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
        # HF cuts the text at non-special added tokens (leftmost, longest first) and encodes the pieces between.
        self._added = dict(added)
        alternatives = "|".join(re.escape(t) for t in sorted(added, key=len, reverse=True))
        self._added_re = re.compile(f"({alternatives})") if added else None
        self._slow = re.compile(slow_chars) if slow_chars else None

    def oracle_encode(self, text: str) -> list[int]:
        return HFTokenizer.encode(self, text)

    def _special_case(self, text: str) -> list[int] | None:
        """Ids of a text tiktoken alone cannot encode (an added token or a byte without a token), else None."""
        if self._slow is not None and self._slow.search(text):
            return HFTokenizer.encode(self, text)
        if self._added_re is not None and self._added_re.search(text):
            ids: list[int] = []
            for i, part in enumerate(self._added_re.split(text)):
                if i % 2:
                    ids.append(self._added[part])
                elif part:
                    ids += self.encoding.encode_ordinary(part)
            return ids
        return None

    def encode(self, text: str) -> list[int]:
        _check_text(text)
        ids = self._special_case(text)
        return self.encoding.encode_ordinary(text) if ids is None else ids

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        for t in texts:
            _check_text(t)
        out: list = [self._special_case(t) for t in texts]  # first: tiktoken panics on a byte without a rank
        rest = [i for i, ids in enumerate(out) if ids is None]
        for i, ids in zip(rest, self.encoding.encode_ordinary_batch([texts[i] for i in rest], num_threads=_threads(num_threads))):
            out[i] = ids
        return out

    def chunk_encoder(self, num_threads: int | None = None):
        """For :func:`toksmith.analysis.counting.count_tokens`: ids of each text as a numpy array."""
        import numpy as np

        enc = self.encoding

        def one(text):
            ids = self._special_case(text)
            return enc.encode_to_numpy(text, disallowed_special=()) if ids is None else np.asarray(ids, dtype=np.uint32)

        return (lambda texts: [one(t) for t in texts]), num_threads or 8, 1


def fast_hf_tokenizer(tok: HFTokenizer, texts: Sequence[str] | None = None) -> HFTokenizer:
    """``tok`` as a :class:`RankedHFTokenizer` when tiktoken reproduces it exactly, else ``tok`` unchanged.

    Conditions: BPE model without dropout, byte fallback, word prefixes/suffixes or normalizer; a pre-tokenizer
    that one tiktoken regex reproduces (``_bytelevel_regex``); every merge result's id ordered as its merge
    (tiktoken's rank is both priority and id). Then the ids of ``texts`` (default :func:`verification_texts`)
    must equal the HF encoder's, document by document.
    """
    import logging

    log = logging.getLogger(__name__)
    spec = json.loads(tok.tok.to_str())
    model = spec.get("model", {})
    if (model.get("type") != "BPE" or model.get("dropout") or model.get("byte_fallback") or model.get("continuing_subword_prefix")
            or model.get("end_of_word_suffix") or spec.get("normalizer")):
        return tok
    pattern = _bytelevel_regex(spec.get("pre_tokenizer"))
    if pattern is None:
        return tok
    vocab: dict[str, int] = model["vocab"]
    ranks: dict[bytes, int] = {}
    for piece, i in vocab.items():
        raw = bytelevel_decode(piece)
        if raw is not None and len(raw) == 1:
            ranks[raw] = i
    last = -1
    for m in model.get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        merged = bytelevel_decode(a + b)
        i = vocab.get(a + b)
        if merged is None or i is None:
            return tok
        if merged in ranks:  # produced by an earlier merge too: tiktoken has one rank per token
            continue
        if i <= last:
            log.info("%s: merge ids are not in merge order; encoding through Hugging Face", tok.name)
            return tok
        ranks[merged], last = i, i
    added = {t.content: i for i, t in tok.tok.get_added_tokens_decoder().items() if not t.special}
    if any(t.single_word or t.lstrip or t.rstrip for t in tok.tok.get_added_tokens_decoder().values() if not t.special):
        return tok
    lead = _utf8_lead_ranges(set(range(256)) - {r[0] for r in ranks if len(r) == 1})
    if lead is None:
        return tok
    slow = "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in lead)
    try:
        fast = RankedHFTokenizer(tok.name, tok.tok, pattern=pattern, ranks=ranks, added=added,
                                 slow_chars=f"[{slow}]" if slow else None)
    except ValueError:  # tiktoken's regex engine rejects the pattern
        return tok
    texts = list(texts) if texts is not None else verification_texts()
    if fast.encode_batch(texts) != [fast.oracle_encode(t) for t in texts]:
        log.info("%s: tiktoken ranks differ from the Hugging Face encoder; encoding through Hugging Face", tok.name)
        return tok
    fast._byte_table  # built at load, not in the first timed encode
    return fast


# ==== SentencePiece ===========================================================================================


class SentencePieceTokenizer(_ByteTable):
    """A SentencePiece ``.model`` (Llama 2, Mistral). ``encode`` adds no BOS/EOS."""

    def __init__(self, name: str, processor):
        self.name = name
        self.sp = processor

    @classmethod
    def from_file(cls, path: str | os.PathLike, name: str | None = None) -> SentencePieceTokenizer:
        import sentencepiece as spm

        path = Path(path)
        try:
            sp = spm.SentencePieceProcessor(model_file=str(path))
        except Exception as e:
            raise ToksmithError(f"cannot load {path} as a SentencePiece model: {e}") from None
        return cls(name or path.parent.name, sp)

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    @property
    def special_tokens(self) -> dict[str, int]:
        return {self.sp.id_to_piece(i): i for i in range(self.vocab_size) if self.sp.is_control(i) or self.sp.is_unknown(i)}

    def encode(self, text: str) -> list[int]:
        _check_text(text)
        return self.sp.encode(text)

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        for t in texts:
            _check_text(t)
        return self.sp.encode(list(texts), num_threads=_threads(num_threads))

    @cached_property
    def _byte_table(self) -> list[bytes]:
        table = []
        for i in range(self.vocab_size):
            if self.sp.is_control(i) or self.sp.is_unknown(i):
                table.append(b"")
            elif self.sp.is_byte(i):
                table.append(bytes([int(self.sp.id_to_piece(i)[3:5], 16)]))
            else:
                table.append(self.sp.id_to_piece(i).replace("\u2581", " ").encode("utf-8"))
        return table

    def decode(self, ids: Sequence[int]) -> str:
        return self.sp.decode(list(ids))

    def __repr__(self) -> str:
        return f"SentencePieceTokenizer({self.name!r}, vocab_size={self.vocab_size})"


class RankedSentencePieceTokenizer(SentencePieceTokenizer):
    """A SentencePiece BPE model (Llama 2, Mistral) encoded through tiktoken ranks (same ids, faster).

    SentencePiece BPE turns spaces into ``▁`` (with a dummy ``▁`` in front), starts from characters and merges the
    adjacent pair whose concatenation is the best-scoring piece; characters without a piece become byte pieces.
    tiktoken starts from bytes and merges by lowest rank, so the ranks are: first the bytes-to-character steps of
    every character piece (partial characters as placeholder ranks), then the longer pieces by score. A
    placeholder left at the end (part of a character without a piece) becomes its byte pieces. Built only by
    :func:`fast_sentencepiece`, which checks the ids against SentencePiece first.
    """

    def __init__(self, name: str, processor, *, ranks: dict[bytes, int], rank_to_id, n_partial: int, dummy_prefix: bool):
        super().__init__(name, processor)
        import tiktoken

        self.encoding = tiktoken.Encoding(f"{name}-ranks", pat_str="\u2581*[^\u2581]+|\u2581+", mergeable_ranks=ranks,
                                          special_tokens={})
        self._rank_to_id = rank_to_id  # numpy int64; -1 for a partial character
        self._partial = {r: t for t, r in ranks.items() if r < n_partial}
        self._n_partial = n_partial
        self._prefix = "\u2581" if dummy_prefix else ""
        self._byte_id = {b: processor.piece_to_id(f"<0x{b:02X}>") for b in range(256)}

    def oracle_encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def _ids(self, ranks):
        import numpy as np

        ranks = np.asarray(ranks, dtype=np.int64)
        if ranks.size and ranks.min() < self._n_partial:  # leftover partial characters -> their byte pieces
            out = []
            for r in ranks.tolist():
                out += [self._byte_id[b] for b in self._partial[r]] if r < self._n_partial else [int(self._rank_to_id[r])]
            return np.asarray(out, dtype=np.int64)
        return self._rank_to_id[ranks]

    def _spm_text(self, text: str) -> str:
        return self._prefix + text.replace(" ", "\u2581") if text else ""

    def encode(self, text: str) -> list[int]:
        _check_text(text)
        return self._ids(self.encoding.encode_ordinary(self._spm_text(text))).tolist()

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        for t in texts:
            _check_text(t)
        out = self.encoding.encode_ordinary_batch([self._spm_text(t) for t in texts], num_threads=_threads(num_threads))
        return [self._ids(r).tolist() for r in out]

    def chunk_encoder(self, num_threads: int | None = None):
        """For :func:`toksmith.analysis.counting.count_tokens`: ids of each text as a numpy array."""
        enc = self.encoding

        def encode(texts):
            return [self._ids(enc.encode_to_numpy(self._spm_text(t), disallowed_special=())) for t in texts]

        return encode, num_threads or 8, 1


def fast_sentencepiece(tok: SentencePieceTokenizer, texts: Sequence[str] | None = None) -> SentencePieceTokenizer:
    """``tok`` as a :class:`RankedSentencePieceTokenizer` when tiktoken reproduces it exactly, else unchanged.

    Conditions: a BPE model with byte fallback, identity normalization without whitespace folding, no
    user-defined pieces, no piece with ``▁`` after another character; then the ids of ``texts`` (default
    :func:`verification_texts`) must equal SentencePiece's, document by document.
    """
    import logging

    import numpy as np
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    m.ParseFromString(tok.sp.serialized_model_proto())
    n = m.normalizer_spec
    t = m.trainer_spec
    if (t.model_type != pb.TrainerSpec.BPE or not t.byte_fallback or t.treat_whitespace_as_suffix
            or n.name != "identity" or n.remove_extra_whitespaces or not n.escape_whitespaces):
        return tok
    sp = tok.sp
    size = sp.get_piece_size()
    chars: list[tuple[bytes, int]] = []
    longer: list[tuple[float, int, bytes]] = []
    for i in range(size):
        piece = sp.id_to_piece(i)
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i) or sp.is_unused(i):
            continue
        if m.pieces[i].type != pb.ModelProto.SentencePiece.NORMAL or "\u2581" in piece.lstrip("\u2581"):
            return tok
        raw = piece.encode("utf-8")
        if len(piece) == 1:
            chars.append((raw, i))
        else:
            longer.append((-sp.get_score(i), i, raw))
    ranks: dict[bytes, int] = {}
    rank_to_id: list[int] = []
    for raw, _ in chars:  # partial characters (placeholders) first
        for k in range(2, len(raw)):
            if raw[:k] not in ranks:
                ranks[raw[:k]] = len(rank_to_id)
                rank_to_id.append(-1)
    n_partial = len(rank_to_id)
    char_ids = dict(chars)
    for b in range(256):  # single bytes: an ASCII character piece, else the byte piece
        ranks[bytes([b])] = len(rank_to_id)
        rank_to_id.append(char_ids.get(bytes([b]), sp.piece_to_id(f"<0x{b:02X}>")))
    for raw, i in chars:
        if len(raw) > 1:
            ranks[raw] = len(rank_to_id)
            rank_to_id.append(i)
    for _, i, raw in sorted(longer):
        ranks[raw] = len(rank_to_id)
        rank_to_id.append(i)
    fast = RankedSentencePieceTokenizer(tok.name, sp, ranks=ranks, rank_to_id=np.asarray(rank_to_id, dtype=np.int64),
                                        n_partial=n_partial, dummy_prefix=n.add_dummy_prefix)
    texts = list(texts) if texts is not None else verification_texts()
    if fast.encode_batch(texts) != [fast.oracle_encode(t) for t in texts]:
        logging.getLogger(__name__).info("%s: tiktoken ranks differ from SentencePiece; encoding through it", tok.name)
        return tok
    fast._byte_table
    return fast


# ==== GGUF (llama.cpp) =========================================================================================

# llama.cpp's token types (``tokenizer.ggml.token_type``): the same numbers as SentencePiece's piece types.
GGUF_NORMAL, GGUF_UNKNOWN, GGUF_CONTROL, GGUF_USER_DEFINED, GGUF_UNUSED, GGUF_BYTE = 1, 2, 3, 4, 5, 6

_GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                r"|\s+(?!\S)|\s+")


def _bytelevel(use_regex: bool) -> dict:
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": use_regex}


def _split(regex: str) -> dict:
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


# ``tokenizer.ggml.pre`` -> the Hugging Face pre-tokenizer that reproduces llama.cpp's split (llama.cpp's
# ``llama-vocab.cpp`` regex lists). Only the types checked against llama.cpp's golden vectors (or, for smollm,
# the same rules as starcoder) are here; another type is refused with this list.
_DIGITS_THEN_GPT2 = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, _bytelevel(True)]}
GGUF_PRE_TOKENIZERS: dict[str, dict] = {
    "gpt-2": _bytelevel(True),
    "default": _bytelevel(True),
    "starcoder": _DIGITS_THEN_GPT2,
    "smollm": _DIGITS_THEN_GPT2,
    "deepseek-coder": {"type": "Sequence", "pretokenizers": [
        _split("[\\r\\n]"), _split("\\s?\\p{L}+"), _split("\\s?\\p{P}+"),
        _split("[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"),
        {"type": "Digits", "individual_digits": True}, _bytelevel(False)]},
    "qwen2": {"type": "Sequence", "pretokenizers": [_split(_QWEN2_REGEX), _bytelevel(False)]},
}


def _gguf_fields(path: Path) -> dict:
    """The ``tokenizer.ggml.*`` fields of a GGUF file as Python values (strings, ints, lists)."""
    try:
        import gguf
    except ImportError as e:
        raise ToksmithError(f"reading GGUF file {path} needs the `gguf` package: pip install gguf ({e})") from None
    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as e:
        raise ToksmithError(f"cannot read {path} as a GGUF file: {e}") from None
    out = {}
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.ggml."):
            continue
        key = key.removeprefix("tokenizer.ggml.")
        if field.types and field.types[0] == gguf.GGUFValueType.ARRAY and len(field.types) > 1:
            # field.contents() builds arrays element by element (seconds for 150k tokens); read the parts directly
            parts = [field.parts[i] for i in field.data]
            if field.types[1] == gguf.GGUFValueType.STRING:
                out[key] = [bytes(p).decode("utf-8", errors="surrogateescape") for p in parts]
            else:
                import numpy as np

                out[key] = np.concatenate(parts).tolist() if parts else []
        else:
            out[key] = field.contents()
    return out


def gguf_tokenizer(path: str | os.PathLike, name: str | None = None) -> Tokenizer:
    """A tokenizer from a GGUF file's vocabulary (llama.cpp models and vocab-only files).

    ``tokenizer.ggml.model`` decides the kind: ``llama`` (SentencePiece BPE: pieces, scores and types become a
    SentencePiece model) or ``gpt2`` (byte-level BPE: tokens and merges become a ``tokenizer.json`` with the
    pre-tokenizer named by ``tokenizer.ggml.pre``, see ``GGUF_PRE_TOKENIZERS``). Ids are the GGUF's. The result
    encodes through tiktoken ranks when :func:`fast_sentencepiece` / :func:`fast_hf_tokenizer` accept it.
    """
    path = Path(path)
    name = name or path.stem
    f = _gguf_fields(path)
    model = f.get("model")
    if "tokens" not in f or model is None:
        raise ToksmithError(f"GGUF file {path} has no tokenizer (no tokenizer.ggml.model / tokenizer.ggml.tokens)")
    tokens = list(f["tokens"])
    types = list(f.get("token_type") or [GGUF_NORMAL] * len(tokens))
    # Either way through tiktoken ranks when they give the same ids (checked here, as for the references).
    if model == "llama":
        return fast_sentencepiece(_gguf_sentencepiece(path, name, f, tokens, types))
    if model == "gpt2":
        return fast_hf_tokenizer(_gguf_bytelevel(path, name, f, tokens, types))
    raise ToksmithError(f"GGUF file {path}: tokenizer type {model!r} is not supported (known: llama, gpt2)")


def _gguf_sentencepiece(path: Path, name: str, f: dict, tokens: list, types: list) -> Tokenizer:
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    scores = list(f.get("scores") or [0.0] * len(tokens))
    m = pb.ModelProto()
    unk_id = int(f.get("unknown_token_id", 0))
    for i, (piece, score, kind) in enumerate(zip(tokens, scores, types)):
        p = m.pieces.add()
        p.piece, p.score = piece, float(score)
        if i == unk_id:  # SentencePiece needs exactly one unknown piece (phi-3 marks its padding UNKNOWN too)
            kind = GGUF_UNKNOWN
        elif kind == GGUF_UNKNOWN or kind not in (GGUF_NORMAL, GGUF_CONTROL, GGUF_USER_DEFINED, GGUF_UNUSED, GGUF_BYTE):
            kind = GGUF_UNUSED
        p.type = kind
    t = m.trainer_spec
    t.model_type = pb.TrainerSpec.BPE
    t.vocab_size = len(tokens)
    t.byte_fallback = GGUF_BYTE in types
    t.unk_id = unk_id
    t.bos_id = int(f.get("bos_token_id", -1))
    t.eos_id = int(f.get("eos_token_id", -1))
    t.pad_id = -1
    t.split_digits = True
    t.allow_whitespace_only_pieces = True
    n = m.normalizer_spec
    n.name = "identity"
    n.add_dummy_prefix = bool(f.get("add_space_prefix", True))
    n.remove_extra_whitespaces = False
    n.escape_whitespaces = True
    try:
        sp = spm.SentencePieceProcessor(model_proto=m.SerializeToString())
    except Exception as e:
        raise ToksmithError(f"GGUF file {path}: its SentencePiece vocabulary does not load: {e}") from None
    return SentencePieceTokenizer(name, sp)


def _gguf_bytelevel(path: Path, name: str, f: dict, tokens: list, types: list) -> Tokenizer:
    from tokenizers import Tokenizer as _HF

    pre = f.get("pre", "default")
    if pre not in GGUF_PRE_TOKENIZERS:
        raise unknown_name("GGUF pre-tokenizer (tokenizer.ggml.pre)", pre, list(GGUF_PRE_TOKENIZERS),
                           hint=f"{path} needs a pre-tokenizer toksmith does not reproduce yet")
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": k == GGUF_CONTROL}
             for i, (t, k) in enumerate(zip(tokens, types)) if k in (GGUF_CONTROL, GGUF_USER_DEFINED)]
    spec = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": GGUF_PRE_TOKENIZERS[pre], "post_processor": None, "decoder": _bytelevel(True),
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": list(f.get("merges") or [])},
    }
    try:
        tok = _HF.from_str(json.dumps(spec))
    except Exception as e:
        raise ToksmithError(f"GGUF file {path}: its byte-level BPE vocabulary does not load: {e}") from None
    return HFTokenizer(name, tok)


# ==== loading =================================================================================================


def is_tiktoken_file(path: Path) -> bool:
    """A ``.tiktoken`` ranks file (Llama 3 ships one named ``tokenizer.model``) rather than a protobuf."""
    with open(path, "rb") as f:
        head = f.read(256)
    first = head.split(b"\n", 1)[0].split()
    if len(first) != 2 or not first[1].isdigit():
        return False
    try:
        base64.b64decode(first[0], validate=True)
        return True
    except ValueError:
        return False


def load_trained(directory: str | os.PathLike) -> Tokenizer:
    """Load a toksmith tokenizer directory: tiktoken for split presets, HF ``tokenizer.json`` for identity.

    tiktoken's merge loop is quadratic in the piece length, and an identity tokenizer's piece is the whole
    document, so identity tokenizers encode with HF tokenizers' heap-based BPE instead (same merges, same ids).
    """
    directory = Path(directory)
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ToksmithError(f"{directory} is not a toksmith tokenizer directory (no {MANIFEST_FILE})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    name = manifest.get("name", directory.name)
    pattern = manifest.get("pattern")
    if pattern is None:
        return HFTokenizer.from_file(directory / HF_FILE, name=name)
    return TiktokenTokenizer(
        name,
        pattern=pattern,
        mergeable_ranks=read_tiktoken_ranks(directory / TIKTOKEN_FILE),
        special_tokens=manifest.get("special_tokens", {}),
    )
