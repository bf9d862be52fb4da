"""Stage 5: code generation signals: run reference solutions in the sandbox, and score their bits/byte.

Run: .venv/bin/python examples/05_codegen.py   (loads SmolLM2-135M; under a minute on a CPU)
"""

import tempfile
from pathlib import Path

from toksmith.codegen.benchmarks import load_humaneval
from toksmith.codegen.likelihood import solution_bpb
from toksmith.codegen.sandbox import run_program

problems = list(load_humaneval())[:2]
for p in problems:
    r = run_program(p.program(p.reference))  # the canonical solution passes its tests in the sandbox
    print(p.task_id, r.status)
    assert r.status == "passed"
res = solution_bpb("smollm2", problems, Path(tempfile.mkdtemp()) / "scores.jsonl", threads=1)
print(f"SmolLM2: {res['bpb']:.3f} bits/byte on {res['n']} reference solutions given their prompts")
assert 0 < res["bpb"] < 8
