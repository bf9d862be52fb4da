"""Tokenizer transfer: switch a pretrained causal LM to a new tokenizer (FVT, extension) and continue training.

Modules: :mod:`.fvt` (token mapping by bytes + row initialisation, pure), :mod:`.extend` (append merges to an
old BPE tokenizer, the paper's "Merged"), :mod:`.surgery` (HF model embeddings + head, saved model directory),
:mod:`.finetune` (accelerate training loop, checkpoints and resume), :mod:`.data` (training / held-out
texts, packing), :mod:`.bpb` (bits per byte on held-out text). Heavy libraries
(torch, transformers, accelerate) are imported inside functions.
"""
