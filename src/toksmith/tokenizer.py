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

:func:`load_tokenizer` resolves a reference name, a trained directory or a file.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import ToksmithError

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
        self.encoding = tiktoken.Encoding(
            name,
            pat_str=pattern if pattern is not None else IDENTITY_TIKTOKEN_PATTERN,
            mergeable_ranks=mergeable_ranks,
            special_tokens=self._special,
        )
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
        bytelevel = is_bytelevel(json.loads(self.tok.to_str()))
        for piece, i in vocab.items():
            table[i] = piece_bytes(piece, bytelevel, piece in added)
        return table

    def decode(self, ids: Sequence[int]) -> str:
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


def load_tokenizer(spec: str | os.PathLike | Tokenizer) -> Tokenizer:
    """Resolve a tokenizer from a reference name (see ``toksmith.references``), a directory or a file.

    * a name in ``REFERENCES`` (``llama2``, ``cl100k``, ...), or ``tiktoken:NAME`` / ``hf:ORG/NAME`` (online);
    * a toksmith tokenizer directory (has ``toksmith.json``), or any directory with ``tokenizer.json`` or
      ``tokenizer.model``;
    * a ``tokenizer.json`` (optionally ``.gz``), a SentencePiece ``.model``, or a ``.tiktoken`` file with a
      ``pattern.txt`` beside it.
    """
    if isinstance(spec, Tokenizer) and not isinstance(spec, (str, os.PathLike)):
        return spec
    from . import references

    s = str(spec)
    if s in references.REFERENCES or s.startswith(("tiktoken:", "hf:")):
        return references.load_reference(s)
    path = Path(s).expanduser()
    if path.is_dir():
        if (path / MANIFEST_FILE).is_file():
            return load_trained(path)
        for candidate in (HF_FILE, HF_FILE + ".gz", "tokenizer.model"):
            if (path / candidate).is_file():
                return load_tokenizer(path / candidate)
        raise ToksmithError(f"directory {path} holds no tokenizer ({MANIFEST_FILE}, {HF_FILE} or tokenizer.model)")
    if path.is_file():
        name = path.parent.name if path.stem in ("tokenizer", "tokenizer.json") else path.stem
        if path.name.endswith((".json", ".json.gz")):
            return HFTokenizer.from_file(path, name=name)
        if path.suffix in (".tiktoken", ".model") and is_tiktoken_file(path):
            pat_file = path.parent / "pattern.txt"
            if not pat_file.is_file():
                raise ToksmithError(f"tiktoken file {path} needs its split pattern in {pat_file}")
            return TiktokenTokenizer(
                name, pattern=pat_file.read_text(encoding="utf-8").strip("\n"), mergeable_ranks=read_tiktoken_ranks(path)
            )
        if path.suffix == ".model":
            return SentencePieceTokenizer.from_file(path, name=name)
        raise ToksmithError(f"unrecognised tokenizer file {path}: expected tokenizer.json, .model or .tiktoken")
    raise references.unknown_reference(s)
