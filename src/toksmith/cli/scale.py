"""``toksmith count``: pre-token counting as its own stage (count once, train many vocabulary sizes).

Counts the default corpus' training stream on all cores (``toksmith.bpe.native.count_pretokens``), or sharded
JSONL/Parquet files as a map-reduce on Ray with per-shard checkpoints (``toksmith.bpe.distributed.count_shards``),
and writes one counts file. ``toksmith train --counts FILE --vocab-size V`` then learns merges from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app


@app.command("count")
def count(
    shards: Optional[list[str]] = typer.Argument(None, help="JSONL(.gz)/Parquet shards, local or s3://...; none = the default corpus"),
    out: Path = typer.Option(..., help="counts file to write"),
    preset: str = typer.Option("gpt4", help="pre-tokenization preset or regex (must match the later training)"),
    chars: int = typer.Option(20_000_000, help="with no shards: characters of the default corpus' training stream"),
    engine: str = typer.Option("ray", help="with shards: ray (a local cluster, or --address) or inline"),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (e.g. auto); default: start a local one"),
    num_cpus: Optional[int] = typer.Option(None, help="CPUs of the local Ray cluster"),
    checkpoint_dir: Optional[Path] = typer.Option(None, help="per-shard checkpoints [<out>.shards/]; a rerun resumes"),
    text_field: str = typer.Option("text", help="text field of JSONL/Parquet records"),
    max_unique: Optional[int] = typer.Option(None, help="keep at most this many distinct pre-tokens (prunes the rarest)"),
) -> None:
    """Count pre-tokens (64-bit) of the default corpus or of sharded files into one counts file."""
    from ..pretokenize import resolve_pattern

    _, pattern = resolve_pattern(preset)
    if shards:
        from ..bpe.distributed import count_shards

        ckpt = checkpoint_dir or out.with_name(out.name + ".shards")
        res = count_shards(shards, ckpt, preset, text_field=text_field, address=address, num_cpus=num_cpus,
                           max_unique=max_unique, engine=engine, progress=True)
        counts = res.counts
        typer.echo(f"counted {len(res.counted)} shards, reused {len(res.reused)} from {ckpt}")
    else:
        from ..bpe.native import count_pretokens
        from ..corpus import default_corpus_config, iter_training_texts

        counts = count_pretokens(iter_training_texts(default_corpus_config(total_chars=chars)), pattern,
                                 max_unique=max_unique, progress=True)
    counts.save(out)
    typer.echo(f"wrote {out}: {len(counts):,} distinct pre-tokens, {counts.total:,} in total")
