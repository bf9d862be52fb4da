"""``toksmith ls``: list the registries (presets, reference tokenizers)."""

from __future__ import annotations

import typer

from . import app


@app.command("ls")
def ls(what: str = typer.Argument("all", help="presets | references | all")) -> None:
    """List pre-tokenization presets and reference tokenizers."""
    from rich.console import Console
    from rich.table import Table

    from ..errors import unknown_name
    from ..pretokenize import PRESETS
    from ..references import REFERENCES

    sections = {"presets", "references"}
    if what != "all" and what not in sections:
        raise unknown_name("listing", what, sections | {"all"})
    console = Console()
    if what in ("all", "presets"):
        t = Table(title="pre-tokenization presets")
        t.add_column("name")
        t.add_column("pattern")
        for name, pat in PRESETS.items():
            t.add_row(name, "(no split)" if pat is None else pat)
        console.print(t)
    if what in ("all", "references"):
        t = Table(title="reference tokenizers")
        t.add_column("name")
        t.add_column("kind")
        t.add_column("description")
        for name, ref in REFERENCES.items():
            t.add_row(name, ref.kind, ref.description)
        console.print(t)
