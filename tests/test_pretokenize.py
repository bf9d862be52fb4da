"""Presets are exact, cover every character, and bad patterns fail at config time."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from toksmith import PRESETS, ToksmithError, resolve_pattern, split
from toksmith.references import DATA_DIR

SAMPLE = "    x.append(self._val)\n    return 12345 # it's ok\n"


def test_paper_examples():
    """The splits docs/paper.md §3; paper Table 2 gives for GPT-2, GPT-4 and Punct."""
    assert split(SAMPLE, PRESETS["gpt2"]) == ['   ', ' x', '.', 'append', '(', 'self', '._', 'val', ')', '\n   ',
                                              ' return', ' 12345', ' #', ' it', "'s", ' ok', '\n']
    assert split(SAMPLE, PRESETS["gpt4"]) == ['   ', ' x', '.append', '(self', '._', 'val', ')\n', '   ', ' return',
                                              ' ', '123', '45', ' #', ' it', "'s", ' ok', '\n']
    assert split(SAMPLE, PRESETS["punct"]) == ['   ', ' x', '.', 'append', '(', 'self', '._', 'val', ')\n', '   ',
                                               ' return', ' ', '123', '45', ' #', ' it', "'", 's', ' ok', '\n']


def test_num2_caps_digit_runs():
    assert split("12345", PRESETS["gpt4-num2"]) == ["12", "34", "5"]
    assert split("12345", PRESETS["punct-num2"]) == ["12", "34", "5"]


def test_presets_equal_the_reference_pattern_files():
    for preset, folder in [("gpt4", "cl100k"), ("o200k", "o200k"), ("gpt2", "r50k"), ("llama3", "llama3")]:
        assert PRESETS[preset] == (DATA_DIR / folder / "pattern.txt").read_text().strip("\n"), preset


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_every_preset_covers_the_text(text):
    for name, pattern in PRESETS.items():
        assert "".join(split(text, pattern)) == text, name


def test_identity_is_one_piece():
    assert resolve_pattern("identity") == ("identity", None)
    assert split("a b\n", None) == ["a b\n"]
    assert split("", None) == []


def test_custom_pattern_accepted():
    name, pat = resolve_pattern(r"\w+|\s+|[^\w\s]+")
    assert name == "custom" and regex.compile(pat)


@pytest.mark.parametrize(
    "bad, words",
    [("(?i:'s|x", "invalid pre-tokenization regex"), (r"a*", "empty string"), (r"\w+", "does not cover")],
)
def test_bad_patterns_name_the_pattern(bad, words):
    with pytest.raises(ToksmithError) as e:
        resolve_pattern(bad)
    assert words in str(e.value) and repr(bad) in str(e.value)
