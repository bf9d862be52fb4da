"""Stage 2: compare tokenizers on held-out text (NSL vs the Llama 2 baseline, bytes/token per domain).

Run: .venv/bin/python examples/02_compare.py
"""

from toksmith.analysis.compare import compare
from toksmith.analysis.heldout import heldout_from_config
from toksmith.corpus import default_corpus_config

data = {k: v[:20] for k, v in heldout_from_config(default_corpus_config(total_chars=300_000)).items()}
result = compare(["cl100k", "gpt2"], data, baseline="llama2")
for s in result.summaries:
    print(f"{s.tokenizer:8s} vocab {s.vocab_size:>7,}  code NSL {s.nsl['code']:.3f}  code bytes/token {s.bytes_per_token['code']:.2f}")
assert result.summary("llama2").nsl["avg"] == 1.0
