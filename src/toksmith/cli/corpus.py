"""``toksmith corpus``: per-domain/subset statistics of a corpus config (docs, chars, bytes, train vs held-out)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from .options import print_tables


def parse_mix(text: str) -> dict[str, float]:
    """``"code=0.7,english=0.3"`` -> ``{"code": 0.7, "english": 0.3}``."""
    from ..errors import ToksmithError

    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            mix[name.strip()] = float(value)
        except ValueError:
            raise ToksmithError(
                f"--mix {text!r}: write domain=share pairs separated by commas, e.g. code=0.7,english=0.3"
            ) from None
    return mix


@app.command("corpus")
def corpus(
    config: Optional[Path] = typer.Option(
        None, help="TOML/JSON file holding a CorpusConfig (default: the embedded corpus)"
    ),
    section: Optional[str] = typer.Option(None, help="table of --config that holds the CorpusConfig, e.g. corpus"),
    mix: Optional[str] = typer.Option(None, help="domain shares of the budget, e.g. code=0.7,english=0.3"),
    total_chars: Optional[int] = typer.Option(None, help="character budget of the training stream"),
    seed: Optional[int] = typer.Option(None, help="seed of the interleave"),
    heldout_fraction: Optional[float] = typer.Option(None, help="share of documents held out (by content hash)"),
    dedup: Optional[bool] = typer.Option(None, "--dedup/--no-dedup", help="drop exact duplicate documents"),
    as_json: bool = typer.Option(False, "--json", help="print the statistics as JSON"),
) -> None:
    """Print documents, characters and bytes per domain/subset of a corpus, train vs held-out, and the budget."""
    import dataclasses
    import json

    from ..config import load_config
    from ..corpus import CorpusConfig, corpus_stats, default_corpus_config

    given = {"mix": parse_mix(mix) if mix is not None else None, "total_chars": total_chars, "seed": seed,
             "heldout_fraction": heldout_fraction, "dedup": dedup}
    overrides = {k: v for k, v in given.items() if v is not None}
    cfg = load_config(CorpusConfig, config, section) if config is not None else default_corpus_config()
    stats = corpus_stats(dataclasses.replace(cfg, **overrides))
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    _print_table(stats)


def _h(n: float) -> str:
    """Compact counts for the table: 9,999 / 12.3k / 4.56M."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= 10 * size if unit == "k" else n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:,}"


def _print_table(stats: dict) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"corpus: budget {stats['total_chars']:,} chars, held-out fraction {stats['heldout_fraction']:g}",
              box=box.SIMPLE_HEAD)
    for col in ("subset", "share", "budget", "train docs", "chars", "bytes", "held docs", "chars", "bytes"):
        t.add_column(col, justify="left" if col == "subset" else "right", no_wrap=True)
    for domain, d in sorted(stats["domains"].items()):
        for r in (r for r in stats["subsets"].values() if r["domain"] == domain):
            t.add_row(f"  {r['subset']}", "", _h(r["budget_chars"]), *(_h(r[k]) for k in _COUNTS))
        t.add_row(f"[bold]{domain}[/]", f"{d['share']:g}", _h(d["budget_chars"]), *(_h(d[k]) for k in _COUNTS),
                  end_section=True)
    console = Console()
    print_tables(t, console=console)  # 9 columns: a compact layout when they do not fit (a pipe is 80)
    console.print(
        f"files {stats['files']:,}; skipped: {stats['skipped_binary']} binary, {stats['skipped_non_utf8']} non-UTF-8 (text files or JSONL lines); "
        f"{stats['duplicates']} duplicates dropped; {stats['chunked_documents']} long documents split"
    )


_COUNTS = ("train_docs", "train_chars", "train_bytes", "heldout_docs", "heldout_chars", "heldout_bytes")
