"""Named reference tokenizers, resolved offline from files shipped with toksmith.

``REFERENCES`` maps a name to a :class:`Reference` (where its files are, how to load it, its special tokens).
``llama2`` is the paper's baseline: NSL = 1 by definition. Files live in ``references_data/<name>/`` with their
licenses (copied from the project's ``shared/references``). A ``tiktoken:ENCODING`` or ``hf:ORG/NAME`` spec loads
through the respective library when the machine is online; nothing is ever downloaded at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import ToksmithError, unknown_name
from .tokenizer import HFTokenizer, SentencePieceTokenizer, TiktokenTokenizer, Tokenizer, read_tiktoken_ranks

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
        pattern = (ref.path.parent / "pattern.txt").read_text(encoding="utf-8").strip("\n")
        return TiktokenTokenizer(key, pattern=pattern, mergeable_ranks=read_tiktoken_ranks(ref.path),
                                 special_tokens=ref.special_tokens)
    if ref.kind == "hf":
        return HFTokenizer.from_file(ref.path, name=key)
    return SentencePieceTokenizer.from_file(ref.path, name=key)
