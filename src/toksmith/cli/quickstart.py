"""``toksmith quickstart``: the main job on the embedded default data (see ``toksmith.study``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app


@app.command("quickstart")
def quickstart(
    config: Optional[Path] = typer.Option(None, "--config", help="a TOML file with a [quickstart] table (flags override it)"),
    vocab_size: Optional[int] = typer.Option(None, help="total vocabulary size (specials and bytes included) [32000]"),
    preset: Optional[str] = typer.Option(None, help="pre-tokenization preset or a custom regex [gpt4]"),
    chars: Optional[int] = typer.Option(None, help="training budget in characters of the default corpus [30M]"),
    backend: Optional[str] = typer.Option(None, help="training backend: hf, rustbpe, bpeasy, toksmith, reference [hf]"),
    out: Optional[Path] = typer.Option(None, help="output directory [runs/quickstart]"),
) -> None:
    """Train a code tokenizer on the default corpus; print bytes/token and NSL next to cl100k and Llama 2."""
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from ..artifacts import atomic_write_text
    from ..config import dumps_toml, load_config
    from ..study import QuickstartConfig, run_quickstart

    cfg = load_config(QuickstartConfig, config, section="quickstart") if config else QuickstartConfig()
    train_over = {k: v for k, v in {"vocab_size": vocab_size, "preset": preset, "backend": backend}.items() if v is not None}
    cfg = replace(cfg, train=replace(cfg.train, **train_over))
    if chars is not None:
        cfg = replace(cfg, corpus_chars=chars)
    if out is not None:
        cfg = replace(cfg, out_dir=out)
    result = run_quickstart(cfg)
    atomic_write_text(cfg.out_dir / "quickstart.toml", dumps_toml({"quickstart": cfg}))
    table = Table(title=f"held-out bytes/token (higher is better) and NSL vs {result.baseline} (lower is better)")
    table.add_column("tokenizer")
    table.add_column("vocab", justify="right")
    for d in result.domains:
        table.add_column(f"{d} B/tok", justify="right")
    for d in result.domains:
        table.add_column(f"{d} NSL", justify="right")
    for s in result.summaries:
        table.add_row(s.tokenizer, f"{s.vocab_size:,}", *[f"{s.bytes_per_token[d]:.3f}" for d in result.domains],
                      *[f"{s.nsl[d]:.3f}" for d in result.domains])
    console = Console(width=None if Console().is_terminal else 140)
    console.print(table)
    console.print(f"tables and plots: {cfg.out_dir / 'compare'}; config used: {cfg.out_dir / 'quickstart.toml'}")
