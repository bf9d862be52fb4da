"""toksmith: the tokenizer as a first-class, measured design choice for code LLMs.

This is the public API. Importing it loads no model library and does no I/O; each stage's module imports its
heavy dependencies (torch, transformers) only when called.
"""

from .errors import ToksmithError
from .pretokenize import PRESETS, resolve_pattern, split
from .references import BASELINE, REFERENCES, load_reference
from .tokenizer import HFTokenizer, SentencePieceTokenizer, TiktokenTokenizer, Tokenizer
from .references import load_tokenizer

__version__ = "0.1.0"

__all__ = [
    "BASELINE",
    "HFTokenizer",
    "PRESETS",
    "REFERENCES",
    "SentencePieceTokenizer",
    "TiktokenTokenizer",
    "Tokenizer",
    "ToksmithError",
    "load_reference",
    "load_tokenizer",
    "resolve_pattern",
    "split",
]
