"""Conditional bits/byte of reference solutions: matches a direct computation, resumes per problem."""

from __future__ import annotations

import doctest
import json
import math

import torch

from toksmith.codegen import likelihood
from toksmith.codegen.benchmarks import load_humaneval
from toksmith.models import tiny_llama
from toksmith.references import load_reference


def test_score_matches_full_sequence_cross_entropy():
    tok = load_reference("gpt2")
    model = tiny_llama(vocab_size=tok.vocab_size, seed=1)
    prompt, sol = "def f(x):\n", "    return x + 1\n"
    r = likelihood.score_problem(model, tok, prompt, sol, start_id=0)
    ids = [0] + tok.encode(prompt) + tok.encode(sol)
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids[:-1]])).logits[0].float(), -1)
    n = len(tok.encode(sol))
    want = -sum(float(logp[i, ids[i + 1]]) for i in range(len(ids) - 1 - n, len(ids) - 1))
    assert r["tokens"] == n and r["bytes"] == len(sol.encode())
    assert math.isclose(r["nll"], want, rel_tol=1e-5)
    # a random model over ~50k tokens: about log2(50257) bits per token
    assert 10 < likelihood.solution_bits([r["nll"]], sol) * len(sol.encode()) / n < 20


def test_long_prompts_are_cut_from_the_left():
    tok = load_reference("gpt2")
    model = tiny_llama(vocab_size=tok.vocab_size, seed=1, max_position_embeddings=64)
    r = likelihood.score_problem(model, tok, "x = 1\n" * 200, "y = 2\n", start_id=0, max_len=64)
    assert r["tokens"] == len(tok.encode("y = 2\n")) and r["nll"] > 0


def test_solution_bpb_resumes_per_problem(tmp_path, monkeypatch):
    probs = list(load_humaneval())[:2]
    out = tmp_path / "s.jsonl"
    out.write_text(json.dumps({"task_id": probs[0].task_id, "nll": 10.0, "tokens": 5, "bytes": 20}) + "\n{broken")
    scored = []
    monkeypatch.setattr(likelihood, "score_problem",
                        lambda m, t, p, s, st, ml: scored.append(p) or {"nll": 20.0, "tokens": 5, "bytes": 40})
    import toksmith.models as models

    monkeypatch.setattr(models, "load_causal_lm", lambda spec, dtype=None: (tiny_llama(1000), tmp_path))
    import toksmith.references as references

    monkeypatch.setattr(references, "load_tokenizer", lambda p: load_reference("gpt2"))
    r = likelihood.solution_bpb("m", probs, out)
    assert scored == [probs[1].prompt]  # the first was done before; the cut line was redone
    assert math.isclose(r["bpb"], 30.0 / math.log(2) / 60)


def test_doctests():
    assert doctest.testmod(likelihood).failed == 0
