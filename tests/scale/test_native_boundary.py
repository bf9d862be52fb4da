"""The C++ boundary: str only, any str (lone surrogates included) split like ``regex``, counted like the pure-Python
oracle, clear errors for bad arguments, and one preset -> kernel table that covers every preset."""

from __future__ import annotations

import numpy as np
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from toksmith.bpe import counts as pycounts
from toksmith.bpe import native
from toksmith.errors import ToksmithError
from toksmith.pretokenize import PRESETS

from .conftest import needs_native

pytestmark = needs_native
KERNEL_PRESETS = sorted(PRESETS)

# Arbitrary strings: any code point including lone surrogates, bytes read with surrogateescape (as a tool reading
# undecodable files would), and the characters that steer the kernels.
_STEER = list("'sStTrReEvVmMlLdD \n\r\t/.,0123456789\u017f\u0301\u00a0ǅʰ½中😀À")
TEXTS = st.one_of(
    st.text(st.one_of(st.sampled_from(_STEER), st.characters(), st.characters(categories=["Cs"])), max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
)


def _core():
    return native._require()


def test_every_preset_has_a_kernel():
    """Editing or adding a preset without its C++ kernel must fail here, not silently run the slow path."""
    assert set(native.KERNELS) == set(PRESETS)
    for preset, kernel in native.KERNELS.items():
        assert kernel in _core().KIND_NAMES and PRESETS[kernel] == PRESETS[preset]
        assert native.native_kind(PRESETS[preset]) == kernel
    assert set(_core().KIND_NAMES) <= set(PRESETS)  # each kernel is named after the preset it implements


@pytest.mark.parametrize("name", KERNEL_PRESETS)
@settings(max_examples=150, deadline=None)
@given(text=TEXTS)
def test_split_any_str_like_regex(name, text):
    pat = PRESETS[name]
    expected = regex.findall(pat, text) if pat is not None else ([text] if text else [])
    assert native.split(text, pat) == expected


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(TEXTS, max_size=5), name=st.sampled_from(KERNEL_PRESETS), workers=st.integers(1, 3))
def test_count_any_str_like_python(texts, name, workers):
    pat = PRESETS[name]
    try:
        expected = pycounts.count_texts(texts, pat)
    except ToksmithError as e:  # lone surrogates have no UTF-8: both refuse, naming the text
        with pytest.raises(ToksmithError, match="not valid Unicode"):
            native.count_pretokens(texts, pat, workers=workers, batch_chars=16)
        assert "lone surrogates" in str(e)
        return
    assert native.count_pretokens(texts, pat, workers=workers, batch_chars=16) == expected


@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.dictionaries(st.binary(max_size=4), st.integers(1, 2**40), max_size=8), min_size=1, max_size=4),
       cap=st.one_of(st.none(), st.integers(1, 6)))
def test_native_sum_equals_python_sum(parts, cap):
    loaded = [pycounts.Counts.from_dict(p, PRESETS["gpt4"]) for p in parts]
    fast, oracle = native.sum_counts(loaded, cap), pycounts.sum_counts(loaded, cap)
    assert fast == oracle
    assert (fast.pruned_entries, fast.pruned_total) == (oracle.pruned_entries, oracle.pruned_total)


def test_lone_surrogate_regression():
    """Was SystemError (unchecked PyUnicode_DecodeUTF8) for bytes with a truncated sequence."""
    for name in KERNEL_PRESETS:
        pat = PRESETS[name]
        if pat is not None:
            assert native.split("ab \udcf0", pat) == regex.findall(pat, "ab \udcf0")
    with pytest.raises(TypeError, match="not a str"):
        _core().split(b"ab \xf0", "gpt4", native._tables())
    with pytest.raises(TypeError, match="not a str"):
        native.split(b"ab \xf0", PRESETS["gpt4"])
    counter = _core().Counter(None, "identity", 1)
    with pytest.raises(TypeError, match="text #1 of the batch is a bytes"):
        counter.feed(["ok", b"ab"])
    with pytest.raises(ValueError, match="text #0 of the batch is not valid Unicode"):
        counter.feed(["ab \udcf0"])


def test_bad_arguments_are_clear():
    core, tables = _core(), native._tables()
    with pytest.raises(ValueError, match="unknown kind 'nope'; known kinds: gpt4, .*identity"):
        core.split("x", "nope", tables)
    with pytest.raises(ValueError, match="unknown kind"):
        core.Counter(tables, "nope", 1)
    with pytest.raises(ValueError, match="needs the class tables"):
        core.split("x", "gpt4", None)
    with pytest.raises(ValueError, match="needs the class tables"):
        core.Counter(None, "o200k", 1)
    with pytest.raises(ValueError, match="threads"):
        core.Counter(tables, "gpt4", 0)
    with pytest.raises(ValueError, match="one byte per code point"):
        core.make_tables(b"\x00" * 10, {})
    with pytest.raises(ValueError, match="not a code point"):
        core.make_tables(b"\x00" * 0x110000, {0x110000: "s"})
    assert core.split("a b", "identity", None) == ["a b"]
    c = core.Counter(tables, "gpt4", 2)
    with pytest.raises(ValueError, match="add up"):
        c.add_counts(b"abc", np.array([1, 1], dtype=np.uint32), np.array([1, 1], dtype=np.uint64))
    with pytest.raises(ValueError, match="differ in size"):
        c.add_counts(b"ab", np.array([1, 1], dtype=np.uint32), np.array([1], dtype=np.uint64))
    c.feed(["hello world"] * 3)
    blob, lengths, counts, _, _ = c.finish()
    assert (blob, lengths.tolist(), counts.tolist()) == (b" worldhello", [6, 5], [3, 3])
    for again in (c.finish, lambda: c.feed(["x"])):
        with pytest.raises(ValueError, match="finished"):
            again()
    with pytest.raises(ValueError, match="longer than its lengths"):
        core.train_merges(b"abcd", np.array([2], dtype=np.uint32), np.array([5], dtype=np.uint64), 1, 8, 1)


def test_tables_are_immutable_and_shared():
    """No mutable globals: two table objects coexist, the module has no setter, and a Counter keeps its own."""
    core = _core()
    assert not hasattr(core, "set_tables")
    flags, folds = native._table_data()
    no_classes = core.make_tables(b"\x20" * 0x110000, {})  # every code point is "other": punctuation runs
    real = core.make_tables(flags, folds)
    assert core.split("ab cd", "gpt4", no_classes) == ["ab cd"]
    assert core.split("ab cd", "gpt4", real) == ["ab", " cd"]
    c = core.Counter(real, "gpt4", 2)
    c.feed(["ab cd"])
    assert core.split("ab cd", "gpt4", no_classes) == ["ab cd"]
    assert c.finish()[0] == b" cdab"
