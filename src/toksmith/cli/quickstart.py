"""``toksmith quickstart``: the main job on the embedded default data (see ``toksmith.study``)."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app


@app.command("quickstart")
def quickstart(
    vocab_size: int = typer.Option(32000, help="total vocabulary size (specials and bytes included)"),
    preset: str = typer.Option("gpt4", help="pre-tokenization preset or a custom regex"),
    chars: int = typer.Option(30_000_000, help="training budget in characters of the default corpus"),
    backend: str = typer.Option("hf", help="training backend (hf, rustbpe, bpeasy, toksmith, reference)"),
    out: Path = typer.Option(Path("runs/quickstart"), help="output directory"),
) -> None:
    """Train a code tokenizer on the default corpus; print bytes/token and NSL next to cl100k and Llama 2."""
    from rich.console import Console
    from rich.table import Table

    from ..bpe import TrainConfig
    from ..study import QuickstartConfig, run_quickstart

    cfg = QuickstartConfig(train=TrainConfig(vocab_size=vocab_size, preset=preset, backend=backend),
                           corpus_chars=chars, out_dir=out)
    result = run_quickstart(cfg)
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
    console.print(f"tables and plots: {out / 'compare'}")
