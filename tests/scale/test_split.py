"""The C++ pre-tokenizer must reproduce Python ``regex`` findall exactly for every preset."""

from __future__ import annotations

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest

from toksmith.bpe import native
from toksmith.pretokenize import PRESETS

from .conftest import MIXED, needs_native, real_texts

pytestmark = needs_native
NATIVE_PRESETS = [name for name in PRESETS if PRESETS[name] is not None]

# Characters that exercise every branch: letters of all cases, marks, digits, whitespace kinds, CR/LF, the
# apostrophe and contraction letters, slash (o200k), punctuation, and any code point at all.
_ALPHABET = st.one_of(
    st.sampled_from(list("'sStTrReEvVmMlLdD \n\r\t/.,;(){}#_-+=0123456789\u017f\u0301\u00a0\u2028ǅʰ½²中😀Àé")),
    st.characters(exclude_categories=("Cs",)),
)


@pytest.mark.parametrize("name", NATIVE_PRESETS)
def test_split_matches_regex_on_real_text(name):
    pat = PRESETS[name]
    for text in real_texts():
        assert native.split(text, pat) == regex.findall(pat, text)


@pytest.mark.parametrize("name", NATIVE_PRESETS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(_ALPHABET, max_size=60))
def test_split_matches_regex_on_random_unicode(name, text):
    pat = PRESETS[name]
    assert native.split(text, pat) == regex.findall(pat, text)


def test_split_every_code_point():
    """All of Unicode (no surrogates) in one text, in runs of mixed classes, for every preset."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    text = "".join(every[i : i + 7] + " " + MIXED[i % len(MIXED)] for i in range(0, len(every), 7))
    for name in NATIVE_PRESETS:
        assert native.split(text, PRESETS[name]) == regex.findall(PRESETS[name], text), name


def test_identity_and_custom():
    assert native.split("a b\nc", None) == ["a b\nc"]
    assert native.split("", None) == []
    from toksmith.errors import ToksmithError

    with pytest.raises(ToksmithError, match="custom pattern"):
        native.split("abc", r"\w+|\W")
