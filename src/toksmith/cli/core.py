"""``toksmith ls``: list the registries (presets, reference tokenizers, benchmarks, model shapes)."""

from __future__ import annotations

import typer

from . import app
from .options import print_tables


@app.command("ls")
def ls(what: str = typer.Argument("all", help="presets | references | benchmarks | models | all")) -> None:
    """List pre-tokenization presets, reference tokenizers, benchmarks and model shapes."""
    from rich.console import Console
    from rich.table import Table

    from ..errors import unknown_name
    from ..pretokenize import PRESETS
    from ..references import REFERENCES

    from ..codegen.benchmarks import BENCHMARKS
    from ..costs.shapes import SHAPES

    sections = {"presets", "references", "benchmarks", "models"}
    if what != "all" and what not in sections:
        raise unknown_name("listing", what, sections | {"all"})
    console = Console()
    if what in ("all", "presets"):
        t = Table(title="pre-tokenization presets")
        t.add_column("name")
        t.add_column("pattern")
        for name, pat in PRESETS.items():
            t.add_row(name, "(no split)" if pat is None else pat)
        print_tables(t, console=console)
    if what in ("all", "references"):
        t = Table(title="reference tokenizers")
        t.add_column("name")
        t.add_column("kind")
        t.add_column("description")
        for name, ref in REFERENCES.items():
            t.add_row(name, ref.kind, ref.description)
        print_tables(t, console=console)
    if what in ("all", "benchmarks"):
        t = Table(title="code-generation benchmarks (toksmith evaluate --benchmark)")
        t.add_column("name")
        t.add_column("problems", justify="right")
        for name, loader in BENCHMARKS.items():
            t.add_row(name, str(len(loader("all"))))
        print_tables(t, console=console)
    if what in ("all", "models"):
        t = Table(title="model shapes (toksmith cost -m)")
        t.add_column("name")
        t.add_column("layers x d_model", justify="right")
        t.add_column("heads / kv", justify="right")
        t.add_column("tied", justify="right")
        for name, shape in SHAPES.items():
            t.add_row(name, f"{shape.n_layers} x {shape.d_model}", f"{shape.n_heads} / {shape.n_kv_heads}", str(shape.tie_embeddings))
        print_tables(t, console=console)
