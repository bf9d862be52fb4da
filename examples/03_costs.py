"""Stage 3: vocabulary economics: fit NSL(V) to measured points and find the inference/memory-optimal V.

Run: .venv/bin/python examples/03_costs.py
"""

from toksmith.costs.nsl import PAPER_CODE_POINTS, Compression, fit_exp
from toksmith.costs.optimal import inference_optimal_v, memory_optimal_v
from toksmith.costs.shapes import load_shape

curve = fit_exp(PAPER_CODE_POINTS, source="the paper's code NSL points")
comp = Compression(curve=curve)
for name in ("paper-1.5b", "llama2-7b"):
    shape = load_shape(name)
    inf = inference_optimal_v(shape, comp)
    mem = memory_optimal_v(shape, comp, batch=64, seq_ref_tokens=1000)
    print(f"{name}: inference-optimal V {inf.label()}, memory-optimal V {mem.label()}")
    assert 8_000 <= inf.vocab_size <= 512_000
