"""Stage 4: switch SmolLM2-135M to a new tokenizer (FVT), continue training a step, read bits/byte.

Run: .venv/bin/python examples/04_transfer_finetune.py [WORK_DIR]   (about a minute on a CPU)
"""

import sys
import tempfile
from pathlib import Path

import torch

from toksmith.bpe import TrainConfig, train_tokenizer
from toksmith.corpus import default_corpus_config
from toksmith.transfer.finetune import FinetuneConfig, finetune
from toksmith.transfer.surgery import TransferConfig, transfer

torch.set_num_threads(1)
work = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
tok_dir = work / "tok"
train_tokenizer(TrainConfig(vocab_size=2000, backend="toksmith", corpus=default_corpus_config(total_chars=300_000)), tok_dir)
model_dir = transfer(TransferConfig(model="smollm2", tokenizer=tok_dir, out_dir=work / "fvt", method="fvt"))
summary = finetune(FinetuneConfig(model=str(model_dir), out_dir=work / "ft", steps=1, batch_size=1, seq_len=64,
                                  warmup_steps=1, eval_every=1, ckpt_every=0, eval_max_bytes=1000, train_chars=100_000,
                                  save_final=False))
print(summary["step"], "step(s); metrics in", summary["metrics"])
assert summary["finished"]
