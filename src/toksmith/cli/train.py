"""``toksmith train`` / ``encode`` / ``info``: train a BPE tokenizer, encode text with any tokenizer, describe one.

``train`` builds a :class:`toksmith.bpe.TrainConfig` from ``--config FILE.toml`` (optional) overridden by the
flags, and calls :func:`toksmith.bpe.train_tokenizer`; the config used is saved in the output directory
(``config.toml``, and in ``toksmith.json``), so ``toksmith train --config OUT/config.toml`` redoes the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app


def _mix_from_shares(base: dict[str, float], shares: dict[str, Optional[float]]) -> Optional[dict[str, float]]:
    """Shares given on the command line; the missing ones share the rest in proportion to ``base``.

    The paper's rule (English = 1 - code - multilingual) is the case ``base = {code: .7, english: .3,
    multilingual: 0}``: ``--code-share 0.5`` gives english 0.5, multilingual 0.
    """
    from ..errors import ToksmithError

    given = {k: v for k, v in shares.items() if v is not None}
    if not given:
        return None
    rest = 1.0 - sum(given.values())
    if rest < -1e-9:
        raise ToksmithError(f"the domain shares {given} add up to more than 1; lower them (the rest goes to the other domains)")
    missing = [k for k in shares if k not in given]
    weight = sum(base.get(k, 0.0) for k in missing)
    mix = dict(given)
    for k in missing:
        mix[k] = max(rest, 0.0) * (base.get(k, 0.0) / weight if weight > 0 else 1.0 / len(missing))
    return mix


@app.command("train")
def train(
    config: Optional[Path] = typer.Option(None, "--config", help="TOML/JSON file with a TrainConfig; flags override it"),
    section: Optional[str] = typer.Option(None, help="table of --config that holds the TrainConfig, e.g. train"),
    vocab_size: Optional[int] = typer.Option(None, help="total vocabulary size, specials and 256 bytes included [32000]"),
    preset: Optional[str] = typer.Option(None, help="pre-tokenization preset (toksmith ls presets) or a regex [gpt4]"),
    max_token_length: Optional[int] = typer.Option(None, help="longest token, in bytes [128]"),
    min_frequency: Optional[int] = typer.Option(None, help="stop when the best pair is rarer than this [2]"),
    special_tokens: Optional[str] = typer.Option(None, help="comma-separated specials at ids 0.. [the paper's six]"),
    backend: Optional[str] = typer.Option(None, help="hf | rustbpe | bpeasy | toksmith | reference [hf]"),
    name: Optional[str] = typer.Option(None, help="tokenizer name [<preset>-<vocab size>]"),
    chars: Optional[int] = typer.Option(None, help="corpus character budget"),
    code_share: Optional[float] = typer.Option(None, help="share of the budget from code"),
    english_share: Optional[float] = typer.Option(None, help="share from English (default: the rest)"),
    multilingual_share: Optional[float] = typer.Option(None, help="share from multilingual text"),
    seed: Optional[int] = typer.Option(None, help="corpus interleave seed"),
    out: Optional[Path] = typer.Option(None, help="output directory [tokenizers/<name>]"),
    counts: Optional[Path] = typer.Option(None, help="learn the merges from a counts file (toksmith count) instead of the corpus"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Train a byte-level BPE tokenizer on the corpus and write tokenizer.json + tokenizer.tiktoken + toksmith.json."""
    import dataclasses

    from ..bpe import TrainConfig, train_from_counts, train_tokenizer
    from ..config import from_dict, load_config, to_dict
    from ..corpus import DEFAULT_MIX, default_corpus_config

    base = load_config(TrainConfig, config, section) if config is not None else TrainConfig()
    fields = {
        "vocab_size": vocab_size,
        "preset": preset,
        "max_token_length": max_token_length,
        "min_frequency": min_frequency,
        "special_tokens": [s.strip() for s in special_tokens.split(",") if s.strip()] if special_tokens else None,
        "backend": backend,
        "name": name,
    }
    data = {**to_dict(base), **{k: v for k, v in fields.items() if v is not None}}
    mix_shares = {"code": code_share, "english": english_share, "multilingual": multilingual_share}
    if chars is not None or seed is not None or any(v is not None for v in mix_shares.values()):
        corpus = base.corpus or default_corpus_config()
        mix = _mix_from_shares(corpus.mix or DEFAULT_MIX, mix_shares)
        changes = {"total_chars": chars, "seed": seed, "mix": mix}
        corpus = dataclasses.replace(corpus, **{k: v for k, v in changes.items() if v is not None})
        data["corpus"] = to_dict(corpus)
    cfg = from_dict(TrainConfig, data)
    out_dir = out if out is not None else Path("tokenizers") / cfg.tokenizer_name
    if counts is not None:
        path = train_from_counts(counts, cfg, out_dir)
    else:
        path = train_tokenizer(cfg, out_dir, progress=progress)
    typer.echo(f"wrote {path}")


@app.command("encode")
def encode(
    tokenizer: str = typer.Argument(..., help="a reference name, a tokenizer directory or file"),
    text: Optional[str] = typer.Argument(None, help="the text to encode (or --file)"),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="read the text from this UTF-8 file"),
    as_json: bool = typer.Option(False, "--json", help="print {ids, tokens} as JSON (tokens as escaped bytes)"),
    pattern: Optional[str] = typer.Option(None, "--pattern", help="split regex for a .tiktoken file: a regex, a file, or a reference name (cl100k)"),
) -> None:
    """Encode text; print the ids and each token's bytes."""
    import json

    from ..errors import ToksmithError
    from ..formats import escape_bytes
    from ..references import load_tokenizer

    if (text is None) == (file is None):
        raise ToksmithError("give the text to encode either as an argument or with --file, not both")
    if file is not None:
        if not file.is_file():
            raise ToksmithError(f"--file {file} does not exist")
        text = file.read_text(encoding="utf-8", errors="surrogateescape")
    tok = load_tokenizer(tokenizer, pattern=pattern)
    ids = tok.encode(text)
    pieces = [escape_bytes(tok.token_bytes(i)) for i in ids]
    if as_json:
        typer.echo(json.dumps({"tokenizer": tok.name, "ids": ids, "tokens": pieces}, ensure_ascii=False))
        return
    typer.echo(f"{len(ids)} tokens, {len(text.encode('utf-8'))} bytes ({tok.name})")
    typer.echo("ids: " + " ".join(map(str, ids)))
    typer.echo("tokens: " + " ".join(f"[{p}]" for p in pieces))


@app.command("info")
def info(
    tokenizer: str = typer.Argument(..., help="a reference name, a tokenizer directory or file"),
    top: int = typer.Option(10, help="how many of the longest tokens to list"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Vocabulary size, special tokens, pattern, longest tokens and (for toksmith tokenizers) the manifest."""
    import json

    from ..formats import tokenizer_info

    summary = tokenizer_info(tokenizer, top=top)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{summary['name']} ({summary['class']}): {summary['vocab_size']:,} tokens")
    typer.echo("special tokens: " + (", ".join(f"{s}={i}" for s, i in summary["special_tokens"].items()) or "none"))
    typer.echo(f"pattern: {summary['pattern'] if summary['pattern'] is not None else '(none: identity or not regex-based)'}")
    typer.echo(f"longest tokens (bytes): " + "  ".join(f"{t['id']}:{t['bytes']}:[{t['token']}]" for t in summary["longest_tokens"]))
    for key, value in summary.get("manifest", {}).items():
        typer.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")
