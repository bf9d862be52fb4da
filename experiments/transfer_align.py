"""Experiment: cheap alignment (:mod:`toksmith.transfer.align`) of the bench's best zero-cost model, on CPU.

Run after ``bench/transfer_init.py`` (it builds ``model-freq`` in ``$TOKSMITH_CACHE/bench/transfer_init``):

    .venv/bin/python experiments/transfer_align.py --minutes 6

Copies ``model-freq`` (SmolLM2-135M switched to the gpt4-32768 code tokenizer, ``freq`` init) to ``aligned-freq``,
trains only its vocabulary rows for ``--minutes`` of wall time (body frozen, teacher = the original model), and
appends bits/byte on the bench's 16 KB of held-out code before and after to ``results/transfer_align.json``
(``runs``, a dated history).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=6.0)
    p.add_argument("--init", default="freq", help="a method (model-<init>) or a bench model dir name (merged-fvt)")
    p.add_argument("--lr", type=float, default=None, help="AlignConfig.lr (default: the config's)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    from toksmith.artifacts import atomic_write_json
    from toksmith.models import cache_root
    from toksmith.transfer.align import AlignConfig, align
    from toksmith.transfer.data import heldout_texts

    torch.set_num_threads(1)
    work = cache_root() / "bench" / "transfer_init"
    d = work / f"aligned-{args.init}"
    shutil.rmtree(d, ignore_errors=True)
    src = work / f"model-{args.init}"
    shutil.copytree(src if src.is_dir() else work / args.init, d)  # "freq" -> model-freq; "merged-fvt" as named
    cfg = AlignConfig(model_dir=d, minutes=args.minutes, **({"lr": args.lr} if args.lr else {}))
    r = align(cfg, eval_texts=heldout_texts("default", 16_000))
    log = [json.loads(x) for x in (d / "align.jsonl").read_text().splitlines()]
    import datetime

    out = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "init": args.init,
           "minutes": args.minutes, "config": cfg.identity(), **r, "log": log}
    path = RESULTS / "transfer_align.json"
    old = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    history = old if "runs" in old else {"runs": [old]}  # a dated history: earlier runs are kept
    atomic_write_json(path, {"runs": history["runs"] + [out]})
    print(json.dumps({k: v for k, v in out.items() if k != "log"}))
    return out


if __name__ == "__main__":
    main()
