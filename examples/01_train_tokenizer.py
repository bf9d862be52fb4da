"""Stage 1: train a BPE tokenizer on the embedded default corpus and check it is lossless.

Run: .venv/bin/python examples/01_train_tokenizer.py [OUT_DIR]
"""

import sys
import tempfile
from pathlib import Path

from toksmith.bpe import TrainConfig, train_tokenizer
from toksmith.corpus import default_corpus_config
from toksmith.references import load_tokenizer

out = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()) / "tok"
cfg = TrainConfig(vocab_size=1000, preset="gpt4", backend="toksmith", corpus=default_corpus_config(total_chars=300_000))
train_tokenizer(cfg, out)
tok = load_tokenizer(out)
text = "def add(a, b):\n    return a + b\n"
ids = tok.encode(text)
assert tok.decode(ids) == text  # lossless
print(f"{tok.vocab_size} tokens; {len(text.encode())} bytes -> {len(ids)} tokens")
