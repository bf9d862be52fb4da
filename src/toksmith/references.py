"""Named reference tokenizers, resolved offline from files shipped with toksmith, and :func:`load_tokenizer`.

``REFERENCES`` maps a name to a :class:`Reference` (where its files are, how to load it, its special tokens).
``llama2`` is the paper's baseline: NSL = 1 by definition. Files live in ``references_data/<name>/`` with their
licenses (copied from the project's ``shared/references``). A ``tiktoken:ENCODING`` or ``hf:ORG/NAME`` spec loads
through the respective library when the machine is online; nothing is ever downloaded at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import ToksmithError, unknown_name
from .tokenizer import (
    HF_FILE, MANIFEST_FILE, HFTokenizer, SentencePieceTokenizer, TiktokenTokenizer, Tokenizer, fast_hf_tokenizer,
    fast_sentencepiece, gguf_tokenizer, is_tiktoken_file, load_trained, read_tiktoken_ranks,
)

DATA_DIR = Path(__file__).with_name("references_data")

# The paper's NSL baseline (Llama 2's 32k SentencePiece BPE).
BASELINE = "llama2"


@dataclass(frozen=True)
class Reference:
    """Where a reference tokenizer's files are and how to build it."""

    kind: str  # "tiktoken" | "hf" | "sentencepiece"
    file: str
    description: str
    special_tokens: dict[str, int] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return DATA_DIR / self.file


def _llama3_specials() -> dict[str, int]:
    names = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
             "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
             "<|eot_id|>", "<|python_tag|>"]
    specials = {n: 128000 + i for i, n in enumerate(names)}
    for i in range(len(names), 256):
        specials[f"<|reserved_special_token_{i - len(names) + 2}|>"] = 128000 + i
    return specials


REFERENCES: dict[str, Reference] = {
    "llama2": Reference("sentencepiece", "llama2/tokenizer.model", "Llama 2 / Code Llama base, SentencePiece BPE 32k (the paper's baseline)"),
    "mistral": Reference("sentencepiece", "mistral/tokenizer.model", "Mistral 7B v0.1, SentencePiece BPE 32k"),
    "gpt2": Reference("tiktoken", "r50k/r50k_base.tiktoken", "GPT-2 / r50k_base, byte-level BPE 50k", {"<|endoftext|>": 50256}),
    "gpt2-hf": Reference("hf", "gpt2/tokenizer.json.gz", "GPT-2 in Hugging Face tokenizer.json form (same ids as gpt2)"),
    "cl100k": Reference(
        "tiktoken", "cl100k/cl100k_base.tiktoken", "GPT-4 / GPT-3.5 cl100k_base, byte-level BPE 100k",
        {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
    ),
    "o200k": Reference("tiktoken", "o200k/o200k_base.tiktoken", "GPT-4o o200k_base, byte-level BPE 200k", {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
    "llama3": Reference("tiktoken", "llama3/tokenizer.model", "Llama 3, tiktoken BPE 128k", _llama3_specials()),
    "starcoder": Reference("hf", "starcoder/tokenizer.json.gz", "StarCoder, byte-level BPE 49k, digits split"),
    "deepseek-coder": Reference("hf", "deepseek-coder/tokenizer.json.gz", "DeepSeek-Coder, byte-level BPE 32k"),
    "qwen2": Reference("hf", "qwen2/tokenizer.json.gz", "Qwen2 / Qwen2.5, byte-level BPE 152k"),
}

# Aliases users type.
ALIASES = {"gpt4": "cl100k", "gpt-4": "cl100k", "gpt4o": "o200k", "r50k": "gpt2", "llama": "llama2", "codellama": "llama2"}


@lru_cache(maxsize=1)
def _shipped_by_sha256() -> dict[str, str]:
    """sha256 of each shipped tiktoken ranks file -> its reference name (from ``SHA256SUMS``)."""
    digests = dict(reversed(line.split()) for line in (DATA_DIR / "SHA256SUMS").read_text().splitlines() if line.strip())
    return {digests[ref.file]: name for name, ref in REFERENCES.items() if ref.kind == "tiktoken" and ref.file in digests}


def _read_pattern_file(path: Path) -> str:
    """A ``pattern.txt``: one regex; an unreadable or invalid one is a one-line error naming the file."""
    from .pretokenize import check_pattern

    try:
        pattern = path.read_text(encoding="utf-8").strip("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise ToksmithError(f"cannot read split pattern file {path}: {e}") from None
    try:
        check_pattern(pattern)
    except ToksmithError as e:
        raise ToksmithError(f"split pattern file {path} is not a valid pattern: {e}") from None
    return pattern


def resolve_split_pattern(value: str) -> str:
    """A ``--pattern`` value: a file holding the regex, a reference with a pattern (``cl100k``), a toksmith preset
    name (``gpt4``) or the regex itself."""
    from .pretokenize import resolve_pattern

    path = Path(value).expanduser()
    if path.is_file():
        return _read_pattern_file(path)
    name = ALIASES.get(value, value)
    if name in REFERENCES and REFERENCES[name].kind == "tiktoken":
        return _read_pattern_file(REFERENCES[name].path.parent / "pattern.txt")
    try:
        _, pattern = resolve_pattern(value)
    except ToksmithError as e:
        raise ToksmithError(f"--pattern {value!r}: {e}") from None
    if pattern is None:
        raise ToksmithError(f"--pattern {value!r}: a tiktoken file needs a split pattern, not 'identity'")
    return pattern


def tiktoken_file(path: str | Path, pattern: str | None = None, name: str | None = None) -> TiktokenTokenizer:
    """A ``.tiktoken`` ranks file as a tokenizer.

    The split pattern is ``pattern`` (see :func:`resolve_split_pattern`), else ``pattern.txt`` beside the file,
    else the pattern of the shipped reference with the same file (by sha256). Special tokens are the shipped
    reference's when the file is one of them (cl100k_base.tiktoken: 100,256 ranks + 5 special tokens, vocabulary
    100,277), else none.
    """
    import hashlib

    path = Path(path)
    known = _shipped_by_sha256().get(hashlib.sha256(path.read_bytes()).hexdigest())
    if pattern is not None:
        pat = resolve_split_pattern(pattern)
    elif (path.parent / "pattern.txt").is_file():
        pat = _read_pattern_file(path.parent / "pattern.txt")
    elif known is not None:
        pat = _read_pattern_file(REFERENCES[known].path.parent / "pattern.txt")
    else:
        raise ToksmithError(f"tiktoken file {path} needs a split pattern: pass --pattern REGEX|FILE|cl100k, or put it "
                            f"in {path.parent / 'pattern.txt'}")
    specials = REFERENCES[known].special_tokens if known is not None else {}
    return TiktokenTokenizer(name or path.stem, pattern=pat, mergeable_ranks=read_tiktoken_ranks(path),
                             special_tokens=specials)


def unknown_reference(name: str) -> ToksmithError:
    return unknown_name(
        "reference tokenizer or tokenizer path", name, list(REFERENCES) + list(ALIASES),
        hint="Pass a known name, a tokenizer directory or file, tiktoken:ENCODING or hf:ORG/NAME (online only)",
    )


def load_reference(name: str) -> Tokenizer:
    """Build the named reference tokenizer (cached per canonical name: loading cl100k takes ~0.3 s)."""
    return _load(ALIASES.get(name, name))


@lru_cache(maxsize=16)
def _load(name: str) -> Tokenizer:
    if name.startswith("tiktoken:"):
        import tiktoken

        enc = tiktoken.get_encoding(name.split(":", 1)[1])
        return TiktokenTokenizer(enc.name, pattern=enc._pat_str, mergeable_ranks=enc._mergeable_ranks,
                                 special_tokens=enc._special_tokens)
    if name.startswith("hf:"):
        from tokenizers import Tokenizer as _HF

        return HFTokenizer(name, _HF.from_pretrained(name.split(":", 1)[1]))
    key = name
    if key not in REFERENCES:
        raise unknown_reference(name)
    ref = REFERENCES[key]
    if not ref.path.is_file():
        raise ToksmithError(f"reference {key!r}: file {ref.path} is missing; reinstall toksmith")
    if ref.kind == "tiktoken":
        pattern = _read_pattern_file(ref.path.parent / "pattern.txt")
        return TiktokenTokenizer(key, pattern=pattern, mergeable_ranks=read_tiktoken_ranks(ref.path),
                                 special_tokens=ref.special_tokens)
    if ref.kind == "hf":  # through tiktoken ranks when they give the same ids (checked here)
        return fast_hf_tokenizer(HFTokenizer.from_file(ref.path, name=key))
    return fast_sentencepiece(SentencePieceTokenizer.from_file(ref.path, name=key))  # checked like the HF ones


def load_tokenizer(spec: str | os.PathLike | Tokenizer, pattern: str | None = None) -> Tokenizer:
    """Resolve a tokenizer from a reference name (``REFERENCES``, ``ALIASES``), a directory or a file.

    * a name in ``REFERENCES`` (``llama2``, ``cl100k``, ...), or ``tiktoken:NAME`` / ``hf:ORG/NAME`` (online);
    * a toksmith tokenizer directory (has ``toksmith.json``), or any directory with ``tokenizer.json`` or
      ``tokenizer.model``;
    * a ``tokenizer.json`` (optionally ``.gz``), a SentencePiece ``.model``, a ``.tiktoken`` file with a
      ``pattern.txt`` beside it (or ``pattern``: a regex, a file or a reference name), or a llama.cpp ``.gguf`` file (model or vocab-only, see :func:`gguf_tokenizer`).
    """
    if isinstance(spec, Tokenizer) and not isinstance(spec, (str, os.PathLike)):
        return spec
    s = str(spec)
    if s in REFERENCES or s in ALIASES or s.startswith(("tiktoken:", "hf:")):
        return load_reference(s)
    path = Path(s).expanduser()
    if path.is_dir():
        if (path / MANIFEST_FILE).is_file():
            return load_trained(path)
        for candidate in (HF_FILE, HF_FILE + ".gz", "tokenizer.model"):
            if (path / candidate).is_file():
                return load_tokenizer(path / candidate, pattern=pattern)
        raise ToksmithError(f"directory {path} holds no tokenizer ({MANIFEST_FILE}, {HF_FILE} or tokenizer.model)")
    if path.is_file():
        name = path.parent.name if path.stem in ("tokenizer", "tokenizer.json") else path.stem
        if path.name.endswith((".json", ".json.gz")):
            return HFTokenizer.from_file(path, name=name)
        if path.suffix in (".tiktoken", ".model") and is_tiktoken_file(path):
            return tiktoken_file(path, pattern=pattern, name=name)
        if path.suffix == ".model":
            return SentencePieceTokenizer.from_file(path, name=name)
        if path.suffix == ".gguf":
            return gguf_tokenizer(path, name=name)
        raise ToksmithError(f"unrecognised tokenizer file {path}: expected tokenizer.json, .model, .tiktoken or .gguf")
    raise unknown_reference(s)
