"""Bits per byte on held-out text: the tokenizer-independent loss that lets models with different tokenizers compare.

A model's per-token loss depends on how long its tokens are; normalising the summed negative log-likelihood by
the UTF-8 bytes of the text removes that (Dagan et al. 2024 compare tokenizers by bytes for the same reason; the
metric is standard since Gao et al.'s Pile paper). Every model evaluates the same texts, each with its own
tokenizer: ``[BOS] + encode(text)``, cut into windows of ``seq_len`` predictions (each window conditions on the
token before it, no overlap), every text token predicted exactly once. Logits are restricted to the tokenizer's
ids, so vocabulary padding rows get no probability mass.

Limits: windows do not carry context across their boundary (a small pessimism that shrinks as ``seq_len``
grows); a model without BOS starts each text with EOS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..tokenizer import Tokenizer


def bits_per_byte(nll_nats: float, n_bytes: int) -> float:
    """``bpb = nll_nats / (ln 2 * n_bytes)``: summed token NLL (nats) over the UTF-8 bytes of the text.

    Example: 10 tokens at 1.386 nats each (p = 1/4) over 20 bytes -> 13.86 / (0.6931 * 20) = 1.0 bit per byte.
    """
    if n_bytes <= 0:
        raise ValueError("bits_per_byte needs at least one byte of text")
    return nll_nats / (math.log(2) * n_bytes)


def tokens_per_byte(n_tokens: int, n_bytes: int) -> float:
    """``n_tokens / n_bytes`` of the evaluated text (lower = shorter sequences). Example: 25 tokens, 100 bytes -> 0.25."""
    return n_tokens / n_bytes if n_bytes else 0.0


def windows(ids: Sequence[int], start_id: int, seq_len: int) -> list[tuple[list[int], list[int]]]:
    """``(inputs, targets)`` pairs covering ``ids`` once: inputs ``[start] + ids`` cut at ``seq_len``.

    >>> windows([5, 6, 7], start_id=0, seq_len=2)
    [([0, 5], [5, 6]), ([6], [7])]
    """
    full = [start_id] + list(ids)
    out = []
    for s in range(0, len(ids), seq_len):
        out.append((full[s : s + seq_len][: len(ids) - s], full[s + 1 : s + 1 + seq_len]))
    return out


def evaluate_bpb(model, tok: Tokenizer, texts: Sequence[str], seq_len: int = 512, batch_size: int = 4,
                 start_id: int | None = None, accelerator=None) -> dict:
    """Bits per byte of ``model`` on ``texts`` with tokenizer ``tok``: ``{bpb, nll, bytes, tokens, tokens_per_byte}``.

    With an ``accelerator`` the windows are sharded over processes (every process runs the same number of
    batches, padded with empty ones, so FSDP's collective forward stays in step) and the sums are reduced.
    """
    import torch
    import torch.nn.functional as F

    if start_id is None:
        cfg = model.config
        start_id = cfg.bos_token_id if cfg.bos_token_id is not None else cfg.eos_token_id
        if isinstance(start_id, (list, tuple)):
            start_id = start_id[0]
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    encoded = tok.encode_batch(list(texts))
    n_tokens = sum(len(e) for e in encoded)
    wins = [w for ids in encoded if ids for w in windows(ids, int(start_id), seq_len)]
    world = accelerator.num_processes if accelerator is not None else 1
    rank = accelerator.process_index if accelerator is not None else 0
    per = -(-len(wins) // (world * batch_size)) * batch_size  # windows per process, a multiple of batch_size
    mine = wins[rank * per : (rank + 1) * per]
    mine += [([int(start_id)], [])] * (per - len(mine))
    device = next(model.parameters()).device
    vocab = tok.vocab_size
    nll = torch.zeros((), dtype=torch.float64, device=device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for b in range(0, per, batch_size):
            batch = mine[b : b + batch_size]
            width = max(len(x) for x, _ in batch)
            inp = torch.full((len(batch), width), int(start_id), dtype=torch.long)
            tgt = torch.full((len(batch), width), -100, dtype=torch.long)
            att = torch.zeros((len(batch), width), dtype=torch.long)
            for r, (x, y) in enumerate(batch):
                inp[r, : len(x)] = torch.tensor(x)
                att[r, : len(x)] = 1
                if y:
                    tgt[r, : len(y)] = torch.tensor(y)
            inp, tgt, att = inp.to(device), tgt.to(device), att.to(device)
            logits = model(input_ids=inp, attention_mask=att).logits[..., :vocab].float()
            nll += F.cross_entropy(logits.reshape(-1, vocab), tgt.reshape(-1), ignore_index=-100, reduction="sum").double()
    if was_training:
        model.train()
    if accelerator is not None:
        nll = accelerator.reduce(nll, reduction="sum")
    total = float(nll.item())
    return {"bpb": bits_per_byte(total, n_bytes), "nll": total, "bytes": n_bytes, "tokens": n_tokens,
            "tokens_per_byte": tokens_per_byte(n_tokens, n_bytes)}
