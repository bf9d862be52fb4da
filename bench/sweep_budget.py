"""Benchmark: how many BPE merges a character budget of the default corpus supports (the sweep's default budget).

``toksmith sweep vocab`` trains every size on the embedded default corpus with a character budget; a budget too
small for the largest size fails ("learned only N merges"). This measures, for each budget, the most merges the
native trainer learns (GPT-4 preset, max token length 128, min frequency 2: the sweep's base config) by counting
the budget's pre-tokens once and merging until no pair is left, then fits ``merges = k * chars**alpha`` in log-log.
:func:`toksmith.analysis.sweep.default_sweep_chars` uses that fit (with a margin) to size the default budget from the
largest vocabulary asked.

Usage: ``python bench/sweep_budget.py --mb 1 2 5 10 20`` (appends a dated run to ``bench/sweep_budget.json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import time
from pathlib import Path

OUT = Path(__file__).with_suffix(".json")


def max_merges(chars: int) -> tuple[int, int, float]:
    from toksmith.bpe.native import count_pretokens, merges_from_counts
    from toksmith.corpus import default_corpus_config, iter_training_texts
    from toksmith.pretokenize import resolve_pattern

    start = time.perf_counter()
    _, pattern = resolve_pattern("gpt4")
    counts = count_pretokens(iter_training_texts(default_corpus_config(total_chars=chars)), pattern)
    merged = merges_from_counts(counts, 1_000_000, max_token_length=128, min_frequency=2)
    return len(set(merged)), counts.total, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[1, 2, 5, 10, 20], help="budgets in millions of chars")
    args = ap.parse_args()
    rows = []
    for mb in args.mb:
        chars = int(mb * 1_000_000)
        merges, pretokens, seconds = max_merges(chars)
        rows.append({"chars": chars, "max_merges": merges, "pre_tokens": pretokens, "seconds": round(seconds, 1)})
        print(f"{chars:>12,} chars: at most {merges:>7,} merges ({seconds:.1f} s)", flush=True)
    xs, ys = [math.log(r["chars"]) for r in rows], [math.log(r["max_merges"]) for r in rows]
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    alpha = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    k = math.exp(my - alpha * mx)
    print(f"fit: merges = {k:.4g} * chars^{alpha:.4f}")
    history = json.loads(OUT.read_text()) if OUT.is_file() else {"runs": []}
    history["runs"].append({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                            "preset": "gpt4", "max_token_length": 128, "min_frequency": 2, "rows": rows,
                            "fit": {"k": k, "alpha": alpha}})
    OUT.write_text(json.dumps(history, indent=2) + "\n")
    print(f"appended to {OUT}")


if __name__ == "__main__":
    main()
