"""``toksmith train`` / ``encode`` / ``info``: train a BPE tokenizer, encode text with any tokenizer, describe one.

``train`` builds a :class:`toksmith.bpe.TrainConfig` from ``--config FILE.toml`` (optional) overridden by the
flags (their defaults and help come from ``TrainConfig`` / ``CorpusConfig``), with the corpus from the PATHs given
(:func:`toksmith.corpus.paths.sources_from_paths`) or the embedded default one, and calls
:func:`toksmith.bpe.train_tokenizer`. The config used is saved in the output directory (``config.toml``, and in
``toksmith.json``), so ``toksmith train --config OUT/config.toml`` redoes the run; a ``--counts`` run also saves the
counts file's path and sha256 there and its rerun refuses a changed file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import ToksmithError
from . import app
from .options import config_option, size, split_list, tokenizer_name


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


def _train_option(name: str, *decls: str, **kw):
    from ..bpe import TrainConfig

    return config_option(TrainConfig, name, *decls, **kw)


def _corpus_option(name: str, *decls: str, **kw):
    from ..corpus import CorpusConfig

    return config_option(CorpusConfig, name, *decls, **kw)


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_counts_table(config: Path, section: Optional[str]) -> Optional[dict]:
    """The ``[counts]`` table (path, sha256) a ``train --counts`` run saved beside its TrainConfig, if any."""
    import tomllib

    if config.suffix != ".toml" or not config.is_file():
        return None
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None  # load_config reports it
    table = (data.get(section) if section else data) or {}
    return table.get("counts") if isinstance(table, dict) else None


def _config_without_counts(config: Path, section: Optional[str]):
    """Load a TrainConfig TOML that carries a ``counts`` table (not a TrainConfig field) next to its fields."""
    import tomllib

    from ..bpe import TrainConfig
    from ..config import from_dict

    data = tomllib.loads(config.read_text(encoding="utf-8"))
    table = dict(data.get(section, {}) if section else data)
    table.pop("counts", None)
    return from_dict(TrainConfig, table, where=f"{config}" + (f"[{section}]" if section else ""))


@app.command("train")
def train(
    paths: Optional[list[str]] = typer.Argument(
        None, help="your files, directories or globs (text, JSONL, Parquet, .gz); NAME=PATH or DOMAIN/SUBSET=PATH "
                   "names one; a <domain>/<subset>/ directory names itself. None: the embedded default corpus"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML/JSON file with a TrainConfig; flags override it"),
    section: Optional[str] = typer.Option(None, help="table of --config that holds the TrainConfig, e.g. train"),
    vocab_size: Optional[str] = _train_option("vocab_size", help="total vocabulary size, specials and 256 bytes "
                                              "included (32k, 32000 and 32_000 are the same)"),
    preset: Optional[str] = _train_option("preset", help="pre-tokenization preset (toksmith ls presets) or a regex"),
    max_token_length: Optional[int] = _train_option("max_token_length", help="longest token, in bytes"),
    min_frequency: Optional[int] = _train_option("min_frequency", help="stop when the best pair is rarer than this"),
    special_tokens: Optional[list[str]] = _train_option(
        "special_tokens", help="special tokens at ids 0.. (comma-separated or repeated)", show="the paper's six"),
    backend: Optional[str] = _train_option("backend", help="hf | rustbpe | bpeasy | toksmith | reference"),
    name: Optional[str] = _train_option("name", help="tokenizer name", show="<preset>-<vocab size>"),
    domain: Optional[str] = typer.Option(None, help="domain of the PATHs (e.g. code) [default: their "
                                         "<domain>/<subset>/ layout, else 'data']"),
    subset: Optional[str] = typer.Option(None, help="subset of the PATHs (e.g. java) [default: each file's or "
                                         "directory's name]"),
    text_field: str = typer.Option("text", help="JSONL/Parquet field holding the text"),
    mix: Optional[list[str]] = typer.Option(None, help="domain shares of the budget, e.g. code=0.7,english=0.3 "
                                            "(repeatable)"),
    chars: Optional[str] = _corpus_option("total_chars", "--chars", help="corpus character budget (e.g. 100M)"),
    code_share: Optional[float] = typer.Option(None, help="default corpus: share of the budget from code"),
    english_share: Optional[float] = typer.Option(None, help="default corpus: share from English (default: the rest)"),
    multilingual_share: Optional[float] = typer.Option(None, help="default corpus: share from multilingual text"),
    seed: Optional[int] = _corpus_option("seed", help="corpus interleave seed"),
    out: Optional[Path] = typer.Option(None, help="output directory [default: tokenizers/<name>]"),
    counts: Optional[Path] = typer.Option(None, help="learn the merges from a counts file (toksmith count) instead "
                                          "of a corpus; recorded with its sha256 in OUT/config.toml"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Train a byte-level BPE tokenizer on your files (or the default corpus); write tokenizer.json + .tiktoken."""
    import dataclasses

    from ..bpe import TrainConfig, train_from_counts, train_tokenizer
    from ..config import from_dict, load_config, to_dict
    from ..corpus import DEFAULT_MIX, CorpusConfig, default_corpus_config
    from ..corpus.paths import sources_from_paths
    from .corpus import parse_mix

    saved_counts = _read_counts_table(config, section) if config is not None else None
    if saved_counts is not None:
        base = _config_without_counts(config, section)
    else:
        base = load_config(TrainConfig, config, section) if config is not None else TrainConfig()
    if counts is None and saved_counts is not None:
        counts = Path(saved_counts.get("path", ""))
        if not counts.is_file():
            raise ToksmithError(f"--config {config}: its counts file {counts} does not exist; pass --counts FILE")
        if _sha256(counts) != saved_counts.get("sha256"):
            raise ToksmithError(f"--config {config}: the counts file {counts} changed since that run (sha256 "
                                "differs); pass --counts FILE to train on it anyway")
    if counts is not None and (paths or mix or chars is not None):
        raise ToksmithError("--counts learns from a counts file: drop the PATHs, --mix and --chars (they are "
                            "fixed when counting, by toksmith count)")
    if counts is not None and backend is not None and backend != "toksmith":
        raise ToksmithError(f"--backend {backend} cannot train from --counts: merges from counts are learned by "
                            "the native trainer (--backend toksmith); drop --backend or train on text")
    fields = {
        "vocab_size": size(vocab_size, "--vocab-size"),
        "preset": preset,
        "max_token_length": max_token_length,
        "min_frequency": min_frequency,
        "special_tokens": split_list(special_tokens, "--special-tokens") or None,
        "backend": backend,
        "name": name,
    }
    data = {**to_dict(base), **{k: v for k, v in fields.items() if v is not None}}
    mix_shares = {"code": code_share, "english": english_share, "multilingual": multilingual_share}
    given_shares = any(v is not None for v in mix_shares.values())
    total_chars = size(chars, "--chars")
    mix_given = parse_mix(",".join(mix)) if mix else None
    if paths:
        if given_shares:
            raise ToksmithError("--code-share/--english-share/--multilingual-share set the default corpus' mix; "
                                "with PATHs use --mix DOMAIN=SHARE,...")
        sources = sources_from_paths(paths, domain=domain, subset=subset, text_field=text_field)
        keep = base.corpus or CorpusConfig(sources=sources)
        changes = {"sources": sources, "mix": mix_given or {}, "total_chars": total_chars, "seed": seed}
        corpus = dataclasses.replace(keep, **{k: v for k, v in changes.items() if v is not None})
        data["corpus"] = to_dict(corpus)
    elif domain or subset:
        raise ToksmithError("--domain/--subset name the PATHs; give the files or directories to train on")
    elif total_chars is not None or seed is not None or given_shares or mix_given:
        corpus = base.corpus or default_corpus_config()
        mix_ = mix_given or _mix_from_shares(corpus.mix or DEFAULT_MIX, mix_shares)
        changes = {"total_chars": total_chars, "seed": seed, "mix": mix_}
        corpus = dataclasses.replace(corpus, **{k: v for k, v in changes.items() if v is not None})
        data["corpus"] = to_dict(corpus)
    cfg = from_dict(TrainConfig, data)
    out_dir = out if out is not None else Path("tokenizers") / cfg.tokenizer_name
    if counts is not None:
        if not counts.is_file():
            raise ToksmithError(f"--counts {counts} does not exist; write it with toksmith count --out {counts}")
        path = train_from_counts(counts, cfg, out_dir)
        _record_counts(Path(path), counts)
    else:
        path = train_tokenizer(cfg, out_dir, progress=progress)
    typer.echo(f"wrote {path}")


def _record_counts(out_dir: Path, counts: Path) -> None:
    """Add ``[counts] path, sha256`` to OUT/config.toml, so ``train --config OUT/config.toml`` redoes this run."""
    import tomli_w
    import tomllib

    from ..artifacts import atomic_write_text

    cfg_file = (out_dir if out_dir.is_dir() else out_dir.parent) / "config.toml"
    data = tomllib.loads(cfg_file.read_text(encoding="utf-8"))
    data["counts"] = {"path": str(counts.resolve()), "sha256": _sha256(counts)}
    atomic_write_text(cfg_file, tomli_w.dumps(data))


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
    tok = load_tokenizer(tokenizer_name(tokenizer), pattern=pattern)
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

    summary = tokenizer_info(tokenizer_name(tokenizer), top=top)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{summary['name']} ({summary['class']}): {summary['vocab_size']:,} tokens")
    typer.echo("special tokens: " + (", ".join(f"{s}={i}" for s, i in summary["special_tokens"].items()) or "none"))
    typer.echo(f"pattern: {summary['pattern'] if summary['pattern'] is not None else '(none: identity or not regex-based)'}")
    typer.echo(f"longest tokens (bytes): " + "  ".join(f"{t['id']}:{t['bytes']}:[{t['token']}]" for t in summary["longest_tokens"]))
    for key, value in summary.get("manifest", {}).items():
        typer.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")
