"""Stage 6: the whole study from one config: validate it and print its plan (the run itself: `toksmith run`).

Run: .venv/bin/python examples/06_study.py
"""

from pathlib import Path

from rich.console import Console

from toksmith.study import load_study
from toksmith.study.plan import plan, plan_table

root = Path(__file__).resolve().parents[1]
cfg = load_study(root / "configs" / "paper.toml")
rows = plan(cfg)
Console(width=160).print(plan_table(cfg, rows))
print(f"finetune: {rows[4].gpu_hours:,.0f} GPU-hours on {cfg.engines.gpu}")
