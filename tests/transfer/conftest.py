"""Fixtures for the transfer tests: tiny byte-level BPE tokenizers trained with HF tokenizers on stdlib text,
and tiny random Llama models saved as Hugging Face directories with the old tokenizer."""

from __future__ import annotations

import pytest
from transfer_helpers import NEW_SPECIALS, OLD_SPECIALS, save_model, stdlib_texts, train_bytelevel


@pytest.fixture(scope="session")
def texts():
    return stdlib_texts()


@pytest.fixture(scope="session")
def old_tok_dir(tmp_path_factory, texts):
    return train_bytelevel(texts[:3], 400, OLD_SPECIALS, tmp_path_factory.mktemp("old_tok"))


@pytest.fixture(scope="session")
def new_tok_dir(tmp_path_factory, texts):
    return train_bytelevel(texts[2:], 700, NEW_SPECIALS, tmp_path_factory.mktemp("new_tok"))


@pytest.fixture(scope="session")
def old_model_dir(tmp_path_factory, old_tok_dir):
    """Untied tiny Llama over the old tokenizer: bos = <|im_start|> (1), eos = <|im_end|> (2), pad = 0."""
    from toksmith.models import tiny_llama

    from tokenizers import Tokenizer
    v = Tokenizer.from_file(str(old_tok_dir / "tokenizer.json")).get_vocab_size()
    model = tiny_llama(v, tie=False, seed=1, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return save_model(model, old_tok_dir, tmp_path_factory.mktemp("old_model"))


@pytest.fixture(scope="session")
def old_tied_model_dir(tmp_path_factory, old_tok_dir):
    from toksmith.models import tiny_llama

    from tokenizers import Tokenizer
    v = Tokenizer.from_file(str(old_tok_dir / "tokenizer.json")).get_vocab_size()
    model = tiny_llama(v, tie=True, seed=2, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return save_model(model, old_tok_dir, tmp_path_factory.mktemp("old_tied_model"))


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test machine's cores are shared: one intra-op thread is many times faster than two fighting ones."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
