"""Codegen test fixtures: a tiny identity-tokenizer Llama, one torch thread (slow tests: see tests/conftest.py)."""

from __future__ import annotations

import pytest


def code_texts(n: int = 60) -> list[str]:
    """Repetitive Python: HumanEval prompts with their canonical solutions."""
    from toksmith.codegen.benchmarks import load_benchmark

    return [p.prompt + p.reference for p in load_benchmark("humaneval")[:n]]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """An HF model directory: a tiny random LlamaForCausalLM plus a byte-level BPE trained with no
    pre-tokenization split (Identity), so its tokens freely cross word, line and prompt boundaries."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from toksmith.models import tiny_llama

    directory = tmp_path_factory.mktemp("tiny_identity_llama")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<s>", "</s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), max_token_length=24)
    tok.train_from_iterator(code_texts(), trainer)
    tok.save(str(directory / "tokenizer.json"))
    model = tiny_llama(tok.get_vocab_size(), hidden_size=32, num_heads=2, num_kv_heads=1, intermediate_size=64,
                       max_position_embeddings=2048, bos_token_id=0, eos_token_id=1, seed=0)
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on 2 shared cores run ~10x faster with one torch thread (no oversubscription)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
