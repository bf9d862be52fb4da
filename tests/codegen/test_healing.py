"""Token healing and generation on a tiny random Llama with an Identity-pre-tokenization BPE.

With no pre-tokenization split, the tokens of ``prompt + continuation`` do not start with the tokens of
``prompt``: the last prompt tokens would have merged across the boundary. Healing must produce a continuation
whose concatenation with the kept prompt tokens decodes to the original prompt text (and then more).
"""

from __future__ import annotations

import pytest

from toksmith.codegen.benchmarks import load_benchmark
from toksmith.codegen.generate import GenerationConfig, generate_completions, load_model, truncate_at_stop
from toksmith.codegen.healing import TokenHealer, consistent, heal_prompt, healing_logits_processor
from toksmith.errors import ToksmithError

# Prompts that end mid-token for a merge-heavy tokenizer: cut HumanEval code at arbitrary points.
PAIRS = [(p.prompt + p.reference[:k], p.reference[k:]) for p in load_benchmark("humaneval")[:6] for k in (5, 17, 31)]
CUTS = [text for text, _ in PAIRS]


@pytest.fixture(scope="module")
def model_and_tok(tiny_model_dir, one_torch_thread):
    return load_model(tiny_model_dir, "cpu")


def test_identity_tokens_cross_the_prompt_boundary(model_and_tok):
    _, tok = model_and_tok
    crossing = [text for text, rest in PAIRS if tok.encode(text) != tok.encode(text + rest)[: len(tok.encode(text))]]
    assert len(crossing) >= len(CUTS) // 2  # the case token healing exists for


@pytest.mark.parametrize("n", [0, 1, 3])
def test_heal_prompt_splits_the_prompt_bytes(model_and_tok, n):
    _, tok = model_and_tok
    for text in CUTS:
        kept, removed = heal_prompt(tok, text, n)
        assert tok.decode_bytes(kept) + removed == text.encode()
        assert len(kept) == len(tok.encode(text)) - n


def test_consistency_rule():
    assert consistent(b"re", b"return") and consistent(b"return(", b"return")
    assert not consistent(b"", b"x") and not consistent(b"rx", b"return")
    with pytest.raises(ToksmithError):
        heal_prompt(None, "x", -1)


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("sample", [False, True])
def test_healed_continuation_reproduces_the_prompt(model_and_tok, n, sample):
    import torch

    model, tok = model_and_tok
    healer = TokenHealer(tok, model.config.vocab_size)
    for text in CUTS[::2]:
        kept, removed = heal_prompt(tok, text, n)
        proc = healing_logits_processor(healer, [removed], len(kept))
        torch.manual_seed(0)
        out = model.generate(torch.tensor([kept]), attention_mask=torch.ones(1, len(kept), dtype=torch.long),
                             max_new_tokens=len(removed) + 3, do_sample=sample, top_k=0, temperature=1.0 if sample else None,
                             logits_processor=[proc], pad_token_id=1, eos_token_id=None)
        new = out[0, len(kept):].tolist()
        assert tok.decode_bytes(kept + new).startswith(text.encode()), (text[-20:], removed, tok.decode_bytes(new))
        assert consistent(tok.token_bytes(new[0]), removed)


def test_without_healing_the_random_model_breaks_the_prompt(model_and_tok):
    """The control: unconstrained greedy decoding after the backed-up prompt rarely re-types the removed text."""
    import torch

    model, tok = model_and_tok
    broken = 0
    for text in CUTS:
        kept, removed = heal_prompt(tok, text, 2)
        out = model.generate(torch.tensor([kept]), max_new_tokens=len(removed), do_sample=False, pad_token_id=1, eos_token_id=None)
        broken += not tok.decode_bytes(out[0].tolist()).startswith(text.encode())
    assert broken > 0


def test_generate_completions_batched_with_stops(model_and_tok, tiny_model_dir):
    model, tok = model_and_tok
    problems = load_benchmark("humaneval")[:3]
    cfg = GenerationConfig(n_samples=3, temperature=0.8, max_new_tokens=12, batch_size=4, healing_tokens=2, seed=1)
    gens = list(generate_completions(problems, tiny_model_dir, cfg, model=model, tokenizer=tok))
    assert [g.task_id for g in gens] == [p.task_id for p in problems]
    for p, g in zip(problems, gens):
        assert len(g.completions) == len(g.tokens) == 3 and g.wall_s > 0
        assert all(1 <= t <= 12 for t in g.tokens)
        assert all(not any(s in c for s in p.stop) for c in g.completions)
        kept, removed = heal_prompt(tok, p.prompt, 2)
        assert g.healed == removed.decode()
    # Same seed, same samples; greedy gives identical samples.
    again = list(generate_completions(problems, tiny_model_dir, cfg, model=model, tokenizer=tok))
    assert [g.completions for g in again] == [g.completions for g in gens]
    greedy = list(generate_completions(problems[:1], tiny_model_dir, GenerationConfig(n_samples=2, max_new_tokens=8),
                                       model=model, tokenizer=tok))
    assert greedy[0].completions[0] == greedy[0].completions[1]


def test_truncate_at_stop():
    assert truncate_at_stop("    return 1\ndef g():", ["\ndef", "\nclass"]) == ("    return 1", True)
    assert truncate_at_stop("x = 1\n#c\nclass A", ["\nclass", "\n#"]) == ("x = 1", True)
    assert truncate_at_stop("x", ["[DONE]"]) == ("x", False)


def test_bad_generation_config():
    with pytest.raises(ToksmithError, match="top_p"):
        GenerationConfig(top_p=0)
    with pytest.raises(ToksmithError, match="backend"):
        GenerationConfig(backend="tgi")
