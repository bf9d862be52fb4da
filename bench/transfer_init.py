"""Benchmark: zero-cost initialisations after a tokenizer switch, side by side with mergekit's tokensurgeon.

Run:  .venv/bin/python bench/transfer_init.py            # SmolLM2-135M, gpt4-32768 code tokenizer, 16 KB held-out code
      .venv/bin/python bench/transfer_init.py --smoke --model DIR --tokenizer DIR --eval-file FILE   (tests)

One run, same model, same new tokenizer (the one ``experiments/transfer_smollm2.py`` trains: toksmith gpt4 preset,
32768 tokens, 10M characters of the default corpus) and the same held-out code for every row:

* ``original``: the model with its own tokenizer (the target);
* every method of :data:`toksmith.transfer.methods.METHODS` through ``toksmith.transfer.surgery.transfer``
  (``-logprob`` methods with ``untie=True``);
* mergekit's ``mergekit-tokensurgeon MODEL DONOR OUT -a <method>`` as its users call it (CLI, subprocess), with
  the donor = toksmith's ``fvt`` model directory (only its tokenizer matters for these methods; a fresh
  tokenizer has no donor embeddings, so ``omp`` is left out: with a random donor it is meaningless);
* the extension ("Merged") case: SmolLM2's tokenizer extended by 1000 code merges (``toksmith extend``), old ids
  and rows kept, new rows by ``fvt`` and the new methods.

Each row runs in its own process: init wall time and peak RSS (``ru_maxrss`` of the process at the end of the
init; of the mergekit subprocess for mergekit), then bits/byte and tokens/byte on the held-out code
(:func:`toksmith.transfer.bpb.evaluate_bpb`, windows of 512) and greedy continuations of three code prompts.
Results append to ``bench/transfer_init.json`` (dated history, never overwritten) and the latest run is written as
a table to ``bench/transfer_init.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger("bench.transfer_init")
HERE = Path(__file__).resolve().parent
PROMPTS = ("def fibonacci(n):\n", "import os\n\n\ndef read_lines(path):\n", "for (int i = 0; i < n; i++) {\n")
MERGEKIT = ("subword-mean", "subword-weighted_mean", "john_hewitt")
MERGED_METHODS = ("fvt", "pos", "fvt-logprob")


def _rss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def greedy(model, tok, prompt: str, n: int = 24) -> str:
    """Greedy continuation of ``prompt`` (``[BOS] + encode(prompt)``), restricted to the tokenizer's ids."""
    import torch

    cfg = model.config
    start = cfg.bos_token_id if cfg.bos_token_id is not None else cfg.eos_token_id
    ids = [int(start)] + list(tok.encode(prompt))
    out: list[int] = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(input_ids=torch.tensor([ids + out])).logits[0, -1, : tok.vocab_size].argmax())
            if nxt == cfg.eos_token_id:
                break
            out.append(nxt)
    return tok.decode_bytes(out).decode("utf-8", "replace")


def evaluate(model_dir: Path, texts: list[str]) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from toksmith.references import load_tokenizer
    from toksmith.transfer.bpb import evaluate_bpb

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    tok = load_tokenizer(model_dir)
    t = time.perf_counter()
    r = evaluate_bpb(model, tok, texts, seq_len=512, batch_size=4)
    return {"bpb": r["bpb"], "tokens_per_byte": r["tokens_per_byte"], "eval_s": round(time.perf_counter() - t, 1),
            "continuations": {p: greedy(model, tok, p) for p in PROMPTS}}


def child(spec: dict) -> dict:
    """One row, in its own process: build the model (timed, peak memory), then evaluate it."""
    import torch

    torch.set_num_threads(1)
    texts = json.loads(Path(spec["texts"]).read_text())
    out = Path(spec.get("out", "."))
    t = time.perf_counter()
    if spec["kind"] == "original":
        model_dir, init = Path(spec["model"]), {"init_s": 0.0, "init_peak_mb": None}
    elif spec["kind"] == "toksmith":
        from toksmith.transfer.methods import SEPARATE_HEAD
        from toksmith.transfer.surgery import TransferConfig, transfer

        transfer(TransferConfig(model=spec["model"], tokenizer=Path(spec["tokenizer"]), out_dir=out,
                                method=spec["method"], untie=spec["method"] in SEPARATE_HEAD, pad_to_multiple_of=64,
                                overwrite=True, calib_bytes=spec.get("calib_bytes", 16384)))
        model_dir = out
        init = {"init_s": round(time.perf_counter() - t, 1), "init_peak_mb": round(_rss_mb(), 0)}
    else:  # mergekit CLI
        method = spec["method"]
        cmd = [str(Path(sys.executable).parent / "mergekit-tokensurgeon"), spec["model"], spec["donor"], str(out)]
        if method.startswith("subword-"):
            cmd += ["-a", "subword", "-s", method.split("-", 1)[1]]
        else:
            cmd += ["-a", method]
        cmd += ["-j", "1", "--quiet"]
        shutil.rmtree(out, ignore_errors=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if proc.returncode != 0:
            return {"error": (proc.stderr or proc.stdout).strip()[-600:], "command": " ".join(cmd)}
        model_dir = out
        init = {"init_s": round(time.perf_counter() - t, 1), "init_peak_mb": round(_rss_mb(resource.RUSAGE_CHILDREN), 0),
                "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}
    return {**init, **evaluate(model_dir, texts)}


def run_row(label: str, spec: dict, in_process: bool = False) -> dict:
    """One row in a fresh process (``in_process`` for --smoke: faster, but peak memory is the whole run's)."""
    t = time.perf_counter()
    if in_process:
        row = child(spec)
    else:
        proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        row = json.loads(lines[-1]) if proc.returncode == 0 and lines else {"error": proc.stderr.strip()[-800:]}
    row["wall_s"] = round(time.perf_counter() - t, 1)
    log.info("%s: %s", label, {k: row.get(k) for k in ("bpb", "tokens_per_byte", "init_s", "init_peak_mb", "error")})
    return row


def build_tokenizer(work: Path) -> Path:
    from toksmith.bpe.train import TrainConfig, train_tokenizer
    from toksmith.corpus import default_corpus_config
    from toksmith.models import cache_root

    out = cache_root() / "experiments" / "transfer_smollm2" / "tok-gpt4-32768"  # shared with the experiments
    if not (out / "toksmith.json").is_file():
        train_tokenizer(TrainConfig(vocab_size=32768, preset="gpt4", corpus=default_corpus_config(total_chars=10_000_000)), out)
    return out


def build_merged(work: Path, model_dir: Path) -> Path:
    from toksmith.transfer.extend import ExtendConfig, extend_tokenizer

    out = work / "tok-merged-1000"
    if not (out / "extension.json").is_file():
        extend_tokenizer(ExtendConfig(tokenizer=model_dir, out_dir=out, n_new=1000, data_chars=2_000_000, overwrite=True))
    return out


def table(rows: dict, original: float | None) -> str:
    lines = ["| row | bits/byte | x original | tokens/byte | init s | init peak MB | `def fibonacci(n):` continuation |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for label, r in rows.items():
        if "error" in r:
            lines.append(f"| {label} | error: {r['error'][-120:].replace('|', '/').replace(chr(10), ' ')} | | | | | |")
            continue
        rel = f"{r['bpb'] / original:.2f}" if original else ""
        cont = r["continuations"][PROMPTS[0]].replace("\n", "\\n").replace("|", "\\|")[:60]
        lines.append(f"| {label} | {r['bpb']:.3f} | {rel} | {r['tokens_per_byte']:.3f} | {r['init_s']} | "
                     f"{r['init_peak_mb'] if r['init_peak_mb'] is not None else ''} | `{cont}` |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true",
                   help="tiny model from --model/--tokenizer, rows in this process, no mergekit, no merged case")
    p.add_argument("--model", default=None, help="model directory (default: smollm2)")
    p.add_argument("--tokenizer", default=None, help="new tokenizer directory (default: the gpt4-32768 one)")
    p.add_argument("--eval-file", default=None, help="held-out text file (default: 16 KB of held-out code)")
    p.add_argument("--eval-bytes", type=int, default=16_000)
    p.add_argument("--only", default=None, help="comma-separated row labels to run")
    p.add_argument("--jobs", type=int, default=1, help="rows run side by side (one torch thread each)")
    p.add_argument("--out", default=str(HERE / "transfer_init.json"))
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return {}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from toksmith.artifacts import atomic_write_json, atomic_write_text
    from toksmith.models import cache_root, smollm2_dir
    from toksmith.transfer.data import heldout_texts
    from toksmith.transfer.methods import METHODS

    work = cache_root() / "bench" / ("transfer_init_smoke" if args.smoke else "transfer_init")
    work.mkdir(parents=True, exist_ok=True)
    model = Path(args.model) if args.model else smollm2_dir()
    tok = Path(args.tokenizer) if args.tokenizer else build_tokenizer(work)
    if args.eval_file:
        texts = [Path(args.eval_file).read_text(encoding="utf-8")[: args.eval_bytes]]
    else:
        texts = heldout_texts("default", args.eval_bytes)
    texts_path = work / "heldout.json"
    texts_path.write_text(json.dumps(texts))
    base = {"model": str(model), "texts": str(texts_path)}
    specs: dict[str, dict] = {"original": {**base, "kind": "original"}}
    # the new methods first, the baselines (mean, random) last: a run cut short keeps the informative rows
    for m in sorted(METHODS, key=lambda m: (m in ("mean", "random"), m not in ("fvt", "fvt-logprob", "pos", "freq"))):
        specs[m] = {**base, "kind": "toksmith", "method": m, "tokenizer": str(tok), "out": str(work / f"model-{m}")}
    if not args.smoke:
        merged = build_merged(work, model)
        for m in MERGED_METHODS:
            specs[f"merged {m}"] = {**base, "kind": "toksmith", "method": m, "tokenizer": str(merged),
                                    "out": str(work / f"merged-{m}")}
        for m in MERGEKIT:  # the donor is toksmith's fvt model directory (for its tokenizer)
            specs[f"mergekit {m}"] = {**base, "kind": "mergekit", "method": m, "donor": str(work / "model-fvt"),
                                      "out": str(work / f"mergekit-{m}")}
    if args.only:
        keep = set(args.only.split(","))
        specs = {k: v for k, v in specs.items() if k in keep or k == "original"}
    t0 = time.time()
    out = Path(args.out)
    history = json.loads(out.read_text())["runs"] if out.is_file() else []
    run = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": f"{platform.machine()} {os.cpu_count()} cpus, loaded (shared by other jobs), 1 torch thread per row",
           "smoke": args.smoke, "model": str(model.name), "tokenizer": str(tok.name),
           "eval_bytes": sum(len(t.encode()) for t in texts), "eval_docs": len(texts), "complete": False, "rows": {}}
    lock = threading.Lock()

    def write() -> None:  # after every row: a run cut short keeps its finished rows
        rows = {k: run["rows"][k] for k in specs if k in run["rows"]}
        original = rows.get("original", {}).get("bpb")
        for r in rows.values():
            if "bpb" in r and original:
                r["relative_to_original"] = round(r["bpb"] / original, 4)
        run["rows"], run["total_s"] = rows, round(time.time() - t0, 1)
        atomic_write_json(out, {"benchmark": "transfer_init", "runs": history + [run]})
        md = (f"# transfer_init ({run['date']}{'' if run['complete'] else ', incomplete'})\n\n{run['model']} -> "
              f"{run['tokenizer']}, {run['eval_bytes']} bytes of held-out code, {run['machine']}. Generated by "
              f"`bench/transfer_init.py`; history in `{out.name}`.\n\n" + table(rows, original) + "\n")
        atomic_write_text(out.with_suffix(".md"), md)

    def one(kv):
        row = run_row(*kv, in_process=args.smoke)
        with lock:
            run["rows"][kv[0]] = row
            write()
        return row

    jobs = 1 if args.smoke else max(1, args.jobs)
    first = {k: v for k, v in specs.items() if v["kind"] != "mergekit"}  # mergekit's donor is the fvt model
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, first.items()))
        list(pool.map(one, [kv for kv in specs.items() if kv[0] not in first]))
    run["complete"] = True
    write()
    print(table(run["rows"], run["rows"]["original"].get("bpb")))
    return run


if __name__ == "__main__":
    main()
