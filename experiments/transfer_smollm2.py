"""Experiment: switch SmolLM2-135M to a toksmith code tokenizer (fvt / mean / random) and continue training on CPU.

Run:  .venv/bin/python experiments/transfer_smollm2.py --minutes 12
      (add --smoke for a 1-minute pipeline check with a tiny random model)

Steps: train a gpt4-preset BPE tokenizer (default 32768) on the default corpus with ``toksmith.bpe``; build three
transferred models with ``toksmith.transfer.surgery.transfer``; evaluate the original and the three on the same
held-out code (bits per byte, each with its own tokenizer) at step 0, continue training each for the same number
of steps (as many as fit in ``--minutes`` for all four together, measured with a one-step probe), evaluate again.
Writes ``experiments/results/transfer_smollm2.json`` (table) and ``transfer_smollm2.png`` (plot); the big model
files go to ``$TOKSMITH_CACHE/experiments/transfer_smollm2`` (checkpoints deleted after each run).

Expected shape (the paper's, Fig. 6 in spirit): fvt far closer to the original at step 0 than random, the gap
shrinking with training, and the new tokenizer's sequences shorter (fewer tokens per byte).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

log = logging.getLogger("transfer_smollm2")
RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("fvt", "mean", "random")


def build_tokenizer(work: Path, vocab: int, chars: int) -> Path:
    from toksmith.bpe.train import TrainConfig, train_tokenizer
    from toksmith.corpus import default_corpus_config

    out = work / f"tok-gpt4-{vocab}"
    if not (out / "toksmith.json").is_file():
        train_tokenizer(TrainConfig(vocab_size=vocab, preset="gpt4", corpus=default_corpus_config(total_chars=chars)), out)
    return out


def build_models(work: Path, base: Path, tok: Path) -> dict[str, Path]:
    from toksmith.transfer.surgery import TransferConfig, transfer

    models = {"original": base}
    for m in METHODS:
        out = work / f"model-{m}"
        if not (out / "transfer.json").is_file():
            transfer(TransferConfig(model=str(base), tokenizer=tok, out_dir=out, method=m, pad_to_multiple_of=64, overwrite=True))
        models[m] = out
    return models


def probe_step_seconds(model_dir: Path, seq_len: int, batch: int) -> tuple[float, int]:
    """Seconds of one forward+backward at the training shape, with 1 and 2 threads; returns (best, threads)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    ids = torch.randint(0, 1000, (batch, seq_len))
    best = (float("inf"), 1)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        t = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        best = min(best, (time.perf_counter() - t, threads))
        model.zero_grad(set_to_none=True)
    return best


def smoke_base(work: Path) -> Path:
    """A tiny random Llama with SmolLM2's tokenizer, for --smoke."""
    from toksmith.models import smollm2_dir, tiny_llama

    out = work / "tiny-base"
    if not (out / "config.json").is_file():
        src = smollm2_dir()
        tiny_llama(49152, tie=True, seed=0, bos_token_id=1, eos_token_id=2, pad_token_id=2).save_pretrained(out)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(src / f, out / f)
    return out


def plot(rows: dict, path: Path, steps: int, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from toksmith.artifacts import save_figure

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, r in rows.items():
        ev = [(m["step"], m["eval_bpb"]) for m in r["metrics"] if "eval_bpb" in m]
        a.plot(*zip(*ev), marker="o", label=f"{name} ({r['tokens_per_byte']:.3f} tok/B)")
        tr = [(m["step"], m["loss"]) for m in r["metrics"] if "loss" in m]
        if tr:
            b.plot(*zip(*tr), label=name, lw=1)
    a.set(xlabel="continued-training step", ylabel="held-out code bits per byte", title="bits per byte (lower is better)")
    a.legend()
    b.set(xlabel="step", ylabel="train loss (nats/token, own tokenizer)", title=f"training loss ({steps} steps)")
    b.legend()
    a.axhline(rows["original"]["bpb_step0"], color="grey", ls="--", lw=0.8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=12.0, help="training budget for all four models together")
    p.add_argument("--vocab", type=int, default=32768)
    p.add_argument("--tok-chars", type=int, default=10_000_000, help="corpus characters for the tokenizer")
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--eval-bytes", type=int, default=16_000)
    p.add_argument("--mid-evals", type=int, default=1, help="extra evaluations during training")
    p.add_argument("--smoke", action="store_true", help="tiny random model, small tokenizer, 1 minute")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    import torch

    from toksmith.models import cache_root, smollm2_dir
    from toksmith.transfer.data import heldout_texts
    from toksmith.transfer.finetune import FinetuneConfig, finetune, read_metrics

    name = "transfer_smollm2" + ("_smoke" if args.smoke else "")
    work = cache_root() / "experiments" / name
    if args.smoke:
        args.vocab, args.tok_chars, args.minutes, args.eval_bytes = 2048, 1_000_000, 1.0, 4000
    t0 = time.time()
    tok = build_tokenizer(work, args.vocab, args.tok_chars)
    base = smoke_base(work) if args.smoke else smollm2_dir()
    models = build_models(work, base, tok)
    prep_s = time.time() - t0
    eval_texts = heldout_texts("default", args.eval_bytes)
    step_s, threads = probe_step_seconds(base, args.seq_len, args.batch)
    torch.set_num_threads(threads)
    steps = max(2, int(args.minutes * 60 / len(models) / (step_s * 1.2)))
    log.info("probe: %.2f s per step with %d thread(s) -> %d steps per model", step_s, threads, steps)
    eval_every = max(1, steps // (args.mid_evals + 1)) if args.mid_evals else 0
    rows = {}
    for label, model_dir in models.items():
        run = work / f"run-{label}"
        shutil.rmtree(run, ignore_errors=True)
        t = time.time()
        finetune(FinetuneConfig(model=str(model_dir), out_dir=run, seq_len=args.seq_len, batch_size=args.batch,
                                steps=steps, warmup_steps=max(1, steps // 5), lr=args.lr, eval_every=eval_every,
                                ckpt_every=0, save_final=False, train_chars=20_000_000, bf16="no"),
                 eval_texts=eval_texts)
        metrics = read_metrics(run)
        evals = [m for m in metrics if "eval_bpb" in m]
        rows[label] = {"bpb_step0": evals[0]["eval_bpb"], "bpb_final": evals[-1]["eval_bpb"],
                       "tokens_per_byte": evals[0]["tokens_per_byte"], "steps": steps, "wall_s": round(time.time() - t, 1),
                       "metrics": metrics}
        if label != "original":
            rows[label]["transfer_stats"] = json.loads((model_dir / "transfer.json").read_text())["stats"]
        shutil.rmtree(run / "checkpoints", ignore_errors=True)
        shutil.rmtree(run / "final", ignore_errors=True)
        log.info("%s: bpb %.4f -> %.4f", label, rows[label]["bpb_step0"], rows[label]["bpb_final"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "experiment": name, "tokenizer": str(tok), "vocab_size": args.vocab, "seq_len": args.seq_len,
        "batch_size": args.batch, "lr": args.lr, "steps": steps, "probe_step_s": round(step_s, 2), "threads": threads,
        "eval_bytes": sum(len(t.encode()) for t in eval_texts), "eval_docs": len(eval_texts), "prep_s": round(prep_s, 1),
        "total_s": round(time.time() - t0, 1), "models": rows,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    title = "tiny random Llama (smoke run)" if args.smoke else "SmolLM2-135M-Instruct"
    plot(rows, RESULTS / f"{name}.png", steps, f"{title} switched to a toksmith gpt4-{args.vocab} code tokenizer (CPU)")
    print(f"{'model':10} {'tok/byte':>9} {'bpb@0':>8} {'bpb@' + str(steps):>8}")
    for label, r in rows.items():
        print(f"{label:10} {r['tokens_per_byte']:9.4f} {r['bpb_step0']:8.4f} {r['bpb_final']:8.4f}")
    return result


if __name__ == "__main__":
    main()
