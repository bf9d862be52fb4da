"""The numbers of docs/costs.md that `toksmith cost` does not print: how the optima move, the sanity check against
docs/paper.md §6, the refits of the paper's NSL sweep and the baseline's bytes per token.

Run:  .venv/bin/python docs/costs/sensitivity.py      (writes docs/costs/sensitivity.json, prints a summary)

Every figure in docs/costs.md outside the `toksmith cost` tables (whose output is docs/costs/cost.json) and the
`toksmith speed` runs (docs/costs/speed_*.json) is a value in sensitivity.json; tests/costs/test_sensitivity_doc.py
checks that the document quotes them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "sensitivity.json"
PRESETS = ("paper-1.5b", "llama2-7b", "llama2-13b", "llama2-70b", "codellama-7b", "llama3-8b", "smollm2-135m")
MEMORY_CASES = ((1, 1_000), (64, 1_000), (1, 4_000), (8, 4_000), (1, 16_000), (1, 100_000))


def main() -> dict:
    from toksmith.artifacts import atomic_write_json
    from toksmith.costs import SHAPES, Compression, flops_per_byte, kv_cache_bytes
    from toksmith.costs.model import effective_context_bytes, nonembedding_params
    from toksmith.costs.nsl import PAPER_CODE_POINTS, NSLCurve, bytes_per_token, default_code_texts, fit_exp
    from toksmith.costs.optimal import inference_optimal_v, memory_optimal_v
    from toksmith.references import load_reference

    fit = Compression()
    points = Compression(curve=NSLCurve("points", points=PAPER_CODE_POINTS, source="paper code sweep points"))
    out: dict = {"inference_optimum": {}, "memory_optimum": {}, "sanity": {}, "refit": {}, "bytes_per_token": {}}

    for name in PRESETS:
        s = SHAPES[name]
        out["inference_optimum"][name] = {
            "non_embedding_params": nonembedding_params(s),
            **{f"n_ctx {n}": inference_optimal_v(s, fit, n).label() for n in (1024, 4096, 16384)},
            "n_ctx 4096 fixed (fit)": inference_optimal_v(s, fit, 4096, fixed_context=True).label(),
            "n_ctx 4096 fixed (points)": inference_optimal_v(s, points, 4096, fixed_context=True).label(),
        }
        out["memory_optimum"][name] = {f"B{b} S{s_ / 1000:g}k": memory_optimal_v(s, fit, b, s_).label()
                                       for b, s_ in MEMORY_CASES}

    # docs/paper.md §6 illustration: n_ctx 4096 fixed in tokens; 256k vs 32k at 1.5B; fp32 KV; 7B points curve
    s15, s7 = SHAPES["paper-1.5b"], SHAPES["llama2-7b"]
    for label, comp in (("fit", fit), ("points", points)):
        f32, f256 = (flops_per_byte(s15, v, comp, 4096, fixed_context=True) for v in (32_000, 256_000))
        out["sanity"][f"1.5b 256k vs 32k FLOPs/byte ({label})"] = round(float(f256 / f32 - 1) * 100, 1)
    out["sanity"]["7b memory optimum (points)"] = {f"B{b} S{s_ / 1000:g}k": memory_optimal_v(s7, points, b, s_).label()
                                                   for b, s_ in MEMORY_CASES}
    out["sanity"]["7b memory optimum fp32 KV (fit)"] = {
        f"B{b} S{s_ / 1000:g}k": memory_optimal_v(s7, fit, b, s_, kv_dtype="fp32").label() for b, s_ in ((64, 1_000), (1, 100_000))}
    out["sanity"]["7b KV GB, 1000 tokens, bf16"] = round(kv_cache_bytes(s7, 1, 1000) / 1e9, 3)
    out["sanity"]["7b effective context kB at 32k (Llama 2, NSL 1) and 128k"] = [
        round(4096 * fit.baseline_bytes_per_token / 1e3, 1), round(float(effective_context_bytes(s7, 128_000, fit)) / 1e3, 1)]

    # refits of the paper's 11 sweep points (docs/paper.md §5.3)
    def rmse(curve) -> float:
        return math.sqrt(float(np.mean([(curve(v) - y) ** 2 for v, y in PAPER_CODE_POINTS])))

    for label, pts in (("all 11 points", PAPER_CODE_POINTS), ("without 10k", PAPER_CODE_POINTS[1:])):
        c = fit_exp(pts)
        out["refit"][label] = {"a": round(c.a, 3), "b": round(c.b, 3), "c": f"{c.c / 1000:.0f}k", "rmse": round(rmse(c), 3)}
    out["refit"]["documented fit rmse"] = round(rmse(fit.curve), 3)
    out["refit"]["NSL(32k) documented fit"] = round(float(fit.curve(32_000)), 3)

    # bytes per token on ten stdlib modules (the baseline's bpt_ref and other references on the same text)
    texts = default_code_texts()
    out["bytes_per_token"]["text kB"] = round(sum(len(t.encode()) for t in texts) / 1e3)
    for name in ("llama2", "cl100k", "llama3", "starcoder", "gpt2"):
        out["bytes_per_token"][name] = round(bytes_per_token(load_reference(name), texts), 2)

    atomic_write_json(OUT, out)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=1, ensure_ascii=False))
