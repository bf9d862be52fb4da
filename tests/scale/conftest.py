"""Shared inputs of the scale tests: real text from this machine (stdlib sources, the project's own docs)."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from toksmith.bpe import native

STDLIB = Path(sysconfig.get_paths()["stdlib"])

needs_native = pytest.mark.skipif(not native.available(), reason="native extension not built")

# Every script and the awkward characters: combining marks, titlecase, modifier letters, CJK, emoji with
# modifiers, other digits, exotic whitespace, control characters, CRLF, long-s (folds to s under (?i)).
MIXED = (
    "héllo Wörld ΑΒΓ αβγ ǅungla ʰello ﬁne e\u0301 \u0301x 中文 日本語のテキスト 한국어 русский العربية עברית हिन्दी ไทย "
    "😀👍🏽 👨‍👩‍👧 \r\n\r\n \t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000 ١٢٣٤ ²³ ½ Ⅻ 12345 1234567 "
    "'S 'Re 'LL 've 'D 'M 'T \u017f '\u017f 'ſt it's DON'T ABCdef abcDEF ÀÉÎõü ǄǅǆǇ \x00\x01\x7f "
    "x/y//z \n\n\n   \n \t\n  a  \r \r\r\n ' '' '''s  's\n"
)


def real_texts(n_files: int = 12, max_chars: int = 40_000) -> list[str]:
    """Distinct stdlib sources (code) plus this repository's docs (English), deterministic."""
    files = sorted(STDLIB.glob("*.py"))[:: max(1, len(list(STDLIB.glob("*.py"))) // n_files)][:n_files]
    texts = [f.read_text(encoding="utf-8")[:max_chars] for f in files]
    notes = Path(__file__).resolve().parents[2] / "docs" / "paper.md"  # in the repository: tests stay hermetic
    texts.append(notes.read_text(encoding="utf-8")[:max_chars])
    texts.append(MIXED)
    return texts
