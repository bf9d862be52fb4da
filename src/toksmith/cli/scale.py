"""``toksmith count``: pre-token counting as its own stage (count once, train many vocabulary sizes).

Counts the default corpus' training stream on all cores (``toksmith.bpe.native.count_pretokens``), or sharded
JSONL/Parquet files as a map-reduce on Ray with per-shard checkpoints (``toksmith.bpe.distributed.count_shards``),
and writes one counts file. ``toksmith train --counts FILE --vocab-size V`` then learns merges from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..config import parse_size
from . import app


def _drop_if_unused(ckpt: Path, fresh: bool, empty: bool = False) -> None:
    """After a failed or empty count: remove a checkpoint directory this run created, unless it holds a finished
    shard (kept so a rerun resumes); a directory that existed before is left as it was."""
    import shutil

    if fresh and ckpt.is_dir() and (empty or not any(p.name.endswith(".done.json") for p in ckpt.iterdir())):
        shutil.rmtree(ckpt, ignore_errors=True)


@app.command("count")
def count(
    shards: Optional[list[str]] = typer.Argument(None, help="JSONL(.gz)/Parquet shards, local or s3://...; none = the default corpus"),
    out: Path = typer.Option(..., help="counts file to write"),
    preset: str = typer.Option("gpt4", help="pre-tokenization preset or regex (must match the later training)"),
    chars: str = typer.Option("20M", help="with no shards: characters of the default corpus' training stream"),
    engine: str = typer.Option("ray", help="with shards: ray (a local cluster, or --address) or inline"),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (e.g. auto); default: start a local one"),
    num_cpus: Optional[int] = typer.Option(None, help="CPUs of the local Ray cluster"),
    checkpoint_dir: Optional[Path] = typer.Option(None, help="per-shard checkpoints [<out>.shards/]; a rerun resumes"),
    text_field: str = typer.Option("text", help="text field of JSONL/Parquet records"),
    max_unique: Optional[int] = typer.Option(None, help="keep at most this many distinct pre-tokens (prunes the rarest)"),
) -> None:
    """Count pre-tokens (64-bit) of the default corpus or of sharded files into one counts file."""
    from ..errors import ToksmithError
    from ..pretokenize import resolve_pattern

    _, pattern = resolve_pattern(preset)
    total_chars = parse_size(chars, "--chars")
    if shards:
        from ..bpe.distributed import count_shards
        from ..corpus.paths import expand

        # local globs expand here too (quoted, or from a shell that passes them through); URIs go as given
        shards = [str(p) for s in shards for p in ([s] if "://" in s else expand(s, "SHARDS"))]

        ckpt = checkpoint_dir or out.with_name(out.name + ".shards")
        fresh = not ckpt.exists()
        try:
            res = count_shards(shards, ckpt, preset, text_field=text_field, address=address, num_cpus=num_cpus,
                               max_unique=max_unique, engine=engine, progress=True)
            if res.counts.total == 0:
                _drop_if_unused(ckpt, fresh, empty=True)
                raise ToksmithError(f"{' '.join(shards)}: no text to count (the shards are empty or hold no "
                                    f"{text_field!r} values); nothing written to --out {out}")
        except BaseException:
            _drop_if_unused(ckpt, fresh)
            raise
        counts = res.counts
        typer.echo(f"counted {len(res.counted)} shards, reused {len(res.reused)} from {ckpt}")
    else:
        from ..bpe.native import count_pretokens
        from ..corpus import default_corpus_config, iter_training_texts

        counts = count_pretokens(iter_training_texts(default_corpus_config(total_chars=total_chars)), pattern,
                                 max_unique=max_unique, progress=True)
        if counts.total == 0:
            raise ToksmithError("no text to count; raise --chars")
    counts.save(out)
    typer.echo(f"wrote {out}: {len(counts):,} distinct pre-tokens, {counts.total:,} in total")
