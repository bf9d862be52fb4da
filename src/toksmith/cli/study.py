"""``toksmith run CONFIG [--dry-run]``: the whole study from one TOML file (toksmith.study)."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app


@app.command("run")
def run_cmd(
    config: Path = typer.Argument(..., help="study config TOML (configs/quickstart.toml, configs/paper.toml)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate and print the plan per stage; run nothing"),
    until: str = typer.Option(None, "--until", help="stop after this stage"),
) -> None:
    """Run a study: tokenizers, compare, costs, transfer, finetune, codegen, speed, report."""
    from rich.console import Console

    from ..study import load_study, run_study
    from ..study.plan import plan, plan_table
    from ..study.run import summary_table
    from ..study.stages import STAGES, headlines

    cfg = load_study(config)
    con = Console()
    if until is not None and until not in [s.name for s in STAGES]:
        from ..errors import unknown_name

        raise unknown_name("--until stage", until, [s.name for s in STAGES])
    if dry_run:
        con.print(plan_table(cfg, plan(cfg)))
        con.print(f"{config}: valid; outputs would go to {cfg.run_dir}/<stage>/<key>/")
        return
    run = run_study(cfg, until=until)
    con.print(summary_table(run, headlines(run)))
    if "report" in run.stages:
        con.print(f"report: {cfg.run_dir / 'report.html'} (and report.md)")
