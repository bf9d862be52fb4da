"""Benchmark: characters per second of ``toksmith compare`` against a plain loop over each library's batch encode.

Run: ``.venv/bin/python bench/compare_speed.py [--mb 50] [--tokenizers all|llama2,cl100k,...] [--json bench/compare_speed.json]``

The text is ~``--mb`` MB of the embedded default corpus' training stream (code and English; documents are
repeated if the corpus is smaller). Measured in one run, on the same texts:

* **plain** (= "before": how toksmith encoded HF and SentencePiece references before the tiktoken-ranks fast
  path): for each tokenizer, one call of the library's own batch encoder over all documents, as a user would
  write it (for a ``tokenizer.json`` reference the HF ``tokenizers`` object, never the fast path): ``tiktoken.Encoding.encode_ordinary_batch``, ``tokenizers.Tokenizer.encode_batch``,
  ``SentencePieceProcessor.encode(list, num_threads=cores)``; then ``sum(map(len, ids))``. Token counts only.
* **toksmith**: ``toksmith.analysis.compare.compare`` end to end on the same texts (one subset, this tokenizer
  as the only one), which also computes bytes/chars/words, unigram histograms, Rényi/Shannon efficiency and
  vocabulary use. Per tokenizer the two paths run back to back, in alternating order, so that the load of a
  shared machine hits both alike.

Prints chars/s per tokenizer and overall, and the ratio toksmith / plain (>= 1.0 means toksmith is at least as
fast). Token totals of the two paths are checked to be equal. Each run is appended (with date, cores and load
average) to ``--json`` (default ``bench/compare_speed.json``): a dated history, never overwritten.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path


def load_texts(mb: float) -> list[str]:
    from toksmith.corpus import default_corpus_config, iter_training_texts

    target = int(mb * 1_000_000)
    texts = list(iter_training_texts(default_corpus_config(total_chars=target)))
    have = sum(map(len, texts))
    if not texts:
        sys.exit("the default corpus yielded no text")
    i = 0
    while have < target:  # the corpus is smaller than asked: repeat documents
        texts.append(texts[i])
        have += len(texts[i])
        i += 1
    return texts


def plain_encoder(name: str):
    """The library's own batch encode, called as its documentation shows."""
    from toksmith.references import load_reference
    from toksmith.tokenizer import HFTokenizer, SentencePieceTokenizer, TiktokenTokenizer

    tok = load_reference(name)
    cores = os.cpu_count() or 1
    if isinstance(tok, TiktokenTokenizer):
        return lambda texts: tok.encoding.encode_ordinary_batch(texts)
    if isinstance(tok, HFTokenizer):
        return lambda texts: [e.ids for e in tok.tok.encode_batch(texts, add_special_tokens=False)]
    if isinstance(tok, SentencePieceTokenizer):
        return lambda texts: tok.sp.encode(texts, num_threads=cores)
    raise SystemExit(f"no plain encoder for {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=float(os.environ.get("TOKSMITH_BENCH_MB", 50)))
    ap.add_argument("--tokenizers", default="all", help="comma-separated reference names, or all")
    ap.add_argument("--json", type=Path, default=Path(__file__).with_name("compare_speed.json"),
                    help="append this run to this history file ('-' for none)")
    args = ap.parse_args()

    from toksmith.analysis.compare import compare
    from toksmith.references import REFERENCES, load_reference

    names = list(REFERENCES) if args.tokenizers == "all" else [n.strip() for n in args.tokenizers.split(",") if n.strip()]
    load0 = os.getloadavg()[0]

    texts = load_texts(args.mb)
    chars = sum(map(len, texts))
    print(f"{len(texts)} documents, {chars / 1e6:.1f} M chars, {os.cpu_count()} cores, tokenizers: {', '.join(names)}")
    for n in names:  # load outside the timed regions (both paths share the cached objects)
        load_reference(n)

    def run_plain(n):
        encode = plain_encoder(n)
        t0 = time.perf_counter()
        tokens = sum(map(len, encode(texts)))
        return tokens, time.perf_counter() - t0

    def run_toksmith(n):
        t0 = time.perf_counter()
        result = compare([], {("bench", "all"): texts}, baseline=n)  # the full compare, this tokenizer alone
        return result.rows[0].n_tokens, time.perf_counter() - t0

    # Per tokenizer, the two paths run back to back (order alternating), so both see the same machine load.
    plain_s, ours_s, tokens = {}, {}, {}
    for i, n in enumerate(names):
        order = (("plain", run_plain), ("toksmith", run_toksmith))
        got = {}
        for label, fn in order if i % 2 == 0 else order[::-1]:
            got[label] = fn(n)
        (pt, plain_s[n]), (ot, ours_s[n]) = got["plain"], got["toksmith"]
        if pt != ot:
            sys.exit(f"token totals differ for {n}: toksmith {ot} vs plain {pt}")
        tokens[n] = pt
        print(f"  {n:>10}: plain {chars / plain_s[n] / 1e6:6.2f} M chars/s ({plain_s[n]:5.1f} s)   toksmith "
              f"{chars / ours_s[n] / 1e6:6.2f} M chars/s ({ours_s[n]:5.1f} s)   ratio {plain_s[n] / ours_s[n]:.2f}x   "
              f"{pt:,} tokens (equal)")

    total = chars * len(names)
    p, o = sum(plain_s.values()), sum(ours_s.values())
    print(f"  total: plain {total / p / 1e6:.2f} M chars/s ({p:.1f} s, token counts only); toksmith {total / o / 1e6:.2f}"
          f" M chars/s ({o:.1f} s, full compare with every metric)")
    print(f"  ratio toksmith/plain (chars/s): {p / o:.2f}x")
    if str(args.json) != "-":
        run = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": platform.machine(), "cores": os.cpu_count(), "loadavg_1m_start": round(load0, 2),
               "loadavg_1m_end": round(os.getloadavg()[0], 2), "mb": args.mb, "chars": chars, "documents": len(texts),
               "tokenizers": {n: {"adapter": type(load_reference(n)).__name__,
                                  "plain_mchars_per_s": round(chars / plain_s[n] / 1e6, 3),
                                  "toksmith_mchars_per_s": round(chars / ours_s[n] / 1e6, 3),
                                  "tokens": tokens[n]} for n in names}}
        history = json.loads(args.json.read_text()) if args.json.is_file() else {"runs": []}
        history["runs"].append(run)
        tmp = args.json.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(history, indent=1) + "\n")
        tmp.replace(args.json)
        print(f"  appended to {args.json} ({len(history['runs'])} runs)")


if __name__ == "__main__":
    main()
