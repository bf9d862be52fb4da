"""Experiment: continued training after a tokenizer switch, bits/byte against step and against bytes seen.

Run one model per process (they can run side by side, one torch thread each):

    .venv/bin/python experiments/transfer_curve.py run --init original
    .venv/bin/python experiments/transfer_curve.py run --init fvt
    .venv/bin/python experiments/transfer_curve.py run --init <method>     # any name of toksmith.transfer.methods.METHODS
    .venv/bin/python experiments/transfer_curve.py plot                     # merge into transfer_curve.json + .png

SmolLM2-135M-Instruct (``smollm2``) with its own tokenizer (``original``) or switched to the toksmith gpt4-32768
code tokenizer of ``experiments/transfer_smollm2.py`` with an initialisation method. Every model trains on the
same code documents of the default corpus (packed ``[BOS] + ids + [EOS]`` blocks of ``--seq-len`` tokens), AdamW
(0.9, 0.95, wd 0.1), linear warm-up then cosine to 10% of ``--lr``, and is evaluated every ``--eval-every`` steps
on the same 8 KB of held-out code (the first half of the bench's 16 KB) (:func:`toksmith.transfer.bpb.evaluate_bpb`, seq_len 512). Bytes seen are
counted exactly: the UTF-8 bytes of every trained target token (``token_bytes``; BOS/EOS count 0). Each run
writes ``results/transfer_curve_<init>.json`` after every evaluation (atomic), so a killed run keeps its curve.

The summary (``plot``) gives, per model, the first evaluated step whose bits/byte is at or below the original's
step-0 bits/byte, or else the step where it plateaus (the last evaluation improved by < 1% over the previous one).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

log = logging.getLogger("transfer_curve")
RESULTS = Path(__file__).resolve().parent / "results"
WORK_NAME = "transfer_curve"


def model_for(init: str, work: Path) -> Path:
    from toksmith.models import cache_root, smollm2_dir
    from toksmith.transfer.surgery import TransferConfig, transfer

    base = smollm2_dir()
    if init == "original":
        return base
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from transfer_smollm2 import build_tokenizer

    tok = build_tokenizer(cache_root() / "experiments" / "transfer_smollm2", 32768, 10_000_000)
    out = work / f"model-{init}"
    if not (out / "transfer.json").is_file():
        transfer(TransferConfig(model=str(base), tokenizer=tok, out_dir=out, method=init, pad_to_multiple_of=64,
                                overwrite=True))
    return out


def cosine_lr(step: int, lr: float, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then cosine decay to ``lr * min_ratio`` at ``total``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def run(args) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from toksmith.artifacts import atomic_write_json
    from toksmith.models import cache_root
    from toksmith.references import load_tokenizer
    from toksmith.transfer.bpb import evaluate_bpb
    from toksmith.transfer.data import heldout_texts, packed_blocks, training_texts

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    work = cache_root() / "experiments" / WORK_NAME
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    model_dir = model_for(args.init, work)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tok = load_tokenizer(model_dir)
    cfg = model.config
    bos = cfg.bos_token_id if cfg.bos_token_id is not None else cfg.eos_token_id
    eval_texts = heldout_texts("default", args.eval_bytes)
    nbytes = [len(tok.token_bytes(i)) if i < tok.vocab_size and i not in set(tok.special_tokens.values()) else 0
              for i in range(tok.vocab_size)]
    blocks = packed_blocks(training_texts("default", 20_000_000), tok, args.seq_len + 1, bos, cfg.eos_token_id)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    out_path = RESULTS / f"transfer_curve_{args.init}.json"
    rec = {"init": args.init, "model_dir": str(model_dir), "seq_len": args.seq_len, "batch_size": args.batch,
           "lr": args.lr, "steps": args.steps, "threads": args.threads, "eval_bytes": sum(len(t.encode()) for t in eval_texts),
           "evals": [], "train": [], "prep_s": round(time.time() - t0, 1)}
    seen_bytes = 0
    seen_tokens = 0

    def evaluate(step: int) -> None:
        t = time.time()
        r = evaluate_bpb(model, tok, eval_texts, seq_len=512, batch_size=4)
        rec["evals"].append({"step": step, "bytes_seen": seen_bytes, "tokens_seen": seen_tokens, "bpb": r["bpb"],
                             "tokens_per_byte": r["tokens_per_byte"], "eval_s": round(time.time() - t, 1)})
        rec["wall_s"] = round(time.time() - t0, 1)
        atomic_write_json(out_path, rec)
        log.info("%s step %d: %.4f bits/byte (%d bytes seen)", args.init, step, r["bpb"], seen_bytes)

    evaluate(0)
    model.train()
    for step in range(1, args.steps + 1):
        batch = [next(blocks) for _ in range(args.batch)]
        ids = torch.tensor(batch, dtype=torch.long)
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step - 1, args.lr, args.warmup, args.steps)
        logits = model(input_ids=ids[:, :-1]).logits[..., : tok.vocab_size]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        seen_bytes += sum(nbytes[i] if i < len(nbytes) else 0 for row in batch for i in row[1:])
        seen_tokens += args.batch * args.seq_len
        rec["train"].append({"step": step, "loss": round(loss.item(), 4), "bytes_seen": seen_bytes})
        if step % 10 == 0:
            log.info("%s step %d: loss %.3f", args.init, step, float(loss))
        if step % args.eval_every == 0 or step == args.steps:
            evaluate(step)
    model.eval()


def plateau_step(steps: list[int], bpb: list[float], tol: float = 0.01) -> int | None:
    """The first evaluated step after which no later evaluation beats the best so far by ``tol`` (relative);
    None while the curve is still improving by more than that at its end. Noise (a worse evaluation) is ignored.

    >>> plateau_step([0, 50, 100, 150], [2.0, 1.5, 1.6, 1.495])
    50
    >>> plateau_step([0, 50, 100], [2.0, 1.5, 1.4]) is None
    True
    """
    for i, s in enumerate(steps[:-1]):
        best = min(bpb[: i + 1])
        if min(bpb[i + 1 :]) > best * (1 - tol):
            return s
    return None


def summarize(rows: dict) -> dict:
    """Per model: the first step at/below the original's step-0 bits/byte, and the plateau step (:func:`plateau_step`)."""
    target = rows["original"]["evals"][0]["bpb"] if "original" in rows else None
    out = {}
    for name, r in rows.items():
        ev = r["evals"]
        reach = next((e["step"] for e in ev if target is not None and e["bpb"] <= target), None)
        plateau = plateau_step([e["step"] for e in ev], [e["bpb"] for e in ev])
        out[name] = {"bpb_step0": ev[0]["bpb"], "bpb_last": ev[-1]["bpb"], "last_step": ev[-1]["step"],
                     "bytes_seen_last": ev[-1]["bytes_seen"], "tokens_per_byte": ev[0]["tokens_per_byte"],
                     "relative_to_original_step0": round(ev[-1]["bpb"] / target, 4) if target else None,
                     "reaches_original_at_step": reach, "plateau_at_step": plateau}
    return out


def plot(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from toksmith.artifacts import atomic_write_json, save_figure

    rows = {}
    for p in sorted(RESULTS.glob("transfer_curve_*.json")):
        r = json.loads(p.read_text())
        rows[r["init"]] = r
    order = sorted(rows, key=lambda n: (n != "original", n != "fvt", n))
    rows = {n: rows[n] for n in order}
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, r in rows.items():
        ev = r["evals"]
        a.plot([e["step"] for e in ev], [e["bpb"] for e in ev], marker="o", label=f"{name} ({ev[0]['tokens_per_byte']:.3f} tok/B)")
        b.plot([e["bytes_seen"] / 1e6 for e in ev], [e["bpb"] for e in ev], marker="o", label=name)
    if "original" in rows:
        for ax in (a, b):
            ax.axhline(rows["original"]["evals"][0]["bpb"], color="grey", ls="--", lw=0.8)
    a.set(xlabel="continued-training step", ylabel="held-out code bits per byte", title="bits/byte vs step")
    b.set(xlabel="training bytes seen (MB)", ylabel="held-out code bits per byte", title="bits/byte vs bytes seen")
    a.legend()
    b.legend()
    fig.suptitle("SmolLM2-135M, original tokenizer vs toksmith gpt4-32768 code tokenizer (CPU)")
    fig.tight_layout()
    save_figure(fig, RESULTS / "transfer_curve.png", dpi=110)
    atomic_write_json(RESULTS / "transfer_curve.json", {"summary": summarize(rows), "runs": rows})
    print(json.dumps(summarize(rows), indent=1))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--init", required=True, help="original, or an initialisation method name")
    r.add_argument("--steps", type=int, default=200)
    r.add_argument("--seq-len", type=int, default=128)
    r.add_argument("--batch", type=int, default=1)
    r.add_argument("--lr", type=float, default=1e-4)
    r.add_argument("--warmup", type=int, default=10)
    r.add_argument("--eval-every", type=int, default=50)
    r.add_argument("--eval-bytes", type=int, default=8_000)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--seed", type=int, default=0)
    sub.add_parser("plot")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(args) if args.cmd == "run" else plot(args)


if __name__ == "__main__":
    main()
