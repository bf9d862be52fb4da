"""Which generation backend runs: ``auto`` is transformers (tested), vLLM (experimental) only when named."""

from __future__ import annotations

import pytest

from toksmith.codegen.benchmarks import load_benchmark
from toksmith.codegen.generate import GenerationConfig, choose_backend, generate_completions, vllm_available
from toksmith.errors import ToksmithError


@pytest.mark.parametrize("has_vllm", [False, True])
@pytest.mark.parametrize("healing", [False, True])
def test_auto_is_transformers_even_with_vllm_and_a_gpu(has_vllm: bool, healing: bool) -> None:
    assert choose_backend("auto", healing, has_vllm) == "transformers"
    assert choose_backend("transformers", healing, has_vllm) == "transformers"


def test_vllm_runs_only_when_named_and_possible() -> None:
    assert choose_backend("vllm", False, True) == "vllm"
    with pytest.raises(ToksmithError, match="needs the vllm package and a CUDA GPU; use --backend transformers"):
        choose_backend("vllm", False, False)
    with pytest.raises(ToksmithError, match="token healing needs the transformers backend"):
        choose_backend("vllm", True, True)
    with pytest.raises(ToksmithError, match="Known: auto, transformers, vllm"):
        choose_backend("tgi", False, True)


def test_asking_for_vllm_here_fails_with_one_clear_line(tiny_model_dir) -> None:
    if vllm_available():
        pytest.skip("vllm and a GPU are present: the experimental backend would run")
    problem = load_benchmark("humaneval")[:1]
    with pytest.raises(ToksmithError, match="backend 'vllm' needs"):
        next(generate_completions(problem, tiny_model_dir, GenerationConfig(backend="vllm", token_healing=False)))


def test_auto_generates_with_transformers(tiny_model_dir, one_torch_thread) -> None:
    problem = load_benchmark("humaneval")[:1]
    cfg = GenerationConfig(backend="auto", n_samples=1, temperature=0.0, max_new_tokens=4, token_healing=False)
    (gen,) = list(generate_completions(problem, tiny_model_dir, cfg))
    assert gen.meta["backend"] == "transformers"
    assert len(gen.completions) == 1 and gen.tokens[0] <= cfg.max_new_tokens
