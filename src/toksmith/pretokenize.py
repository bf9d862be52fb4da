"""Pre-tokenization presets: the regex that cuts text into pieces before BPE merges inside each piece.

The paper's second lever (docs/paper.md §3; paper Table 2). ``PRESETS`` is the one source of truth: a name maps to a pattern
for the Python ``regex`` module (and the same string works in HF ``tokenizers``' Oniguruma engine and in
tiktoken). ``identity`` maps to ``None``: no split at all, merges may cross spaces, punctuation and newlines.
Any other string is taken as a custom pattern and validated when the config is built.

The pieces of every preset cover the text exactly (each character belongs to one match), which keeps
tokenization lossless; :func:`check_pattern` verifies that on a probe string.
"""

from __future__ import annotations

from functools import lru_cache

import regex

from .errors import ToksmithError

# The paper's presets, exact strings from tokenizer-bench utils.get_regex_from_normalization_rule_name.
_GPT4 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

PRESETS: dict[str, str | None] = {
    # GPT-2 / r50k: contractions, optional leading space on letters, digits and symbols.
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    # GPT-4 / cl100k: the paper's recommended regex ("gpt" in tokenizer-bench).
    "gpt4": _GPT4,
    # GPT-4 with digit runs capped at 2: recommended below ~50k vocabularies so all numbers are covered.
    "gpt4-num2": _GPT4.replace(r"\p{N}{1,3}", r"\p{N}{1,2}"),
    # Punct: no contraction branch, and a letter run may only take a leading space (never punctuation).
    "punct": r""" ?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "punct-num2": r""" ?\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    # No pre-tokenization: best compression, worse downstream results, needs token healing.
    "identity": None,
    # GPT-4o / o200k_base.
    "o200k": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
    # Llama 3 uses cl100k's pattern.
    "llama3": _GPT4,
}

_PROBE = "  def f(x):\n\treturn x['a'] + 12345 # it's OK!\r\n\n  \u00e9t\u00e9 \u4e2d\u6587 \U0001f600 \x00 end  "


def resolve_pattern(name_or_pattern: str | None) -> tuple[str, str | None]:
    """Map a preset name or a custom pattern to ``(name, pattern)``; ``pattern`` is ``None`` for identity.

    A string that is not a preset name is a custom pattern, named ``"custom"``. It must compile and must cover
    every character of the text (no gaps), or a :class:`ToksmithError` names the pattern and the problem.
    """
    if name_or_pattern is None or name_or_pattern == "identity":
        return "identity", None
    if name_or_pattern in PRESETS:
        return name_or_pattern, PRESETS[name_or_pattern]
    check_pattern(name_or_pattern)
    return "custom", name_or_pattern


@lru_cache(maxsize=64)
def compile_pattern(pattern: str) -> regex.Pattern:
    try:
        return regex.compile(pattern)
    except regex.error as e:
        raise ToksmithError(
            f"invalid pre-tokenization regex {pattern!r}: {e}. Use a preset name "
            f"({', '.join(PRESETS)}) or a pattern that Python's `regex` module compiles."
        ) from None


def check_pattern(pattern: str) -> None:
    """Raise if ``pattern`` does not compile, matches the empty string, or leaves characters uncovered."""
    pat = compile_pattern(pattern)
    if pat.fullmatch(""):
        raise ToksmithError(f"pre-tokenization regex {pattern!r} matches the empty string; it would loop")
    pieces = pat.findall(_PROBE)
    if "".join(pieces) != _PROBE:
        raise ToksmithError(
            f"pre-tokenization regex {pattern!r} does not cover all characters (e.g. of {_PROBE!r}); text between "
            "matches would be lost. Add a catch-all branch such as `|\\s+|.` at the end."
        )


def split(text: str, pattern: str | None) -> list[str]:
    """Cut ``text`` into pre-tokens; identity (``None``) returns the whole text as one piece.

    >>> split("x.append(1)", PRESETS["gpt4"])
    ['x', '.append', '(', '1', ')']
    """
    if pattern is None:
        return [text] if text else []
    return compile_pattern(pattern).findall(text)


def hf_pre_tokenizer(pattern: str | None):
    """The paper's pre-tokenizer: ``Split(Regex(pattern), isolated)`` then ``ByteLevel`` without its own regex."""
    from tokenizers import Regex
    from tokenizers import pre_tokenizers as pt

    byte_level = pt.ByteLevel(add_prefix_space=False, use_regex=False)
    if pattern is None:
        return byte_level
    try:
        regex = Regex(pattern)
    except Exception as e:  # tokenizers raises a bare Exception for Oniguruma syntax errors
        raise ToksmithError(
            f"HF tokenizers (Oniguruma) cannot compile the pattern {pattern!r}: {e}. Python `regex` accepts it; "
            "write it in the syntax both share, or use the toksmith backend"
        ) from None
    return pt.Sequence([pt.Split(regex, behavior="isolated", invert=False), byte_level])
