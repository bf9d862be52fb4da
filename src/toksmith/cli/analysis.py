"""``toksmith compare``, ``toksmith sweep`` and ``toksmith paper-check``: the analysis commands.

Each command parses its options into the stage's config dataclass, calls one library function of
``toksmith.analysis`` and prints the tables that function's result renders to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import ToksmithError
from . import app
from .options import print_tables as _print
from .options import config_option, size, split_list, tokenizer_name


def _is_records_jsonl(path: Path) -> bool:
    """A JSONL whose first record already names its domain and subset (the analysis' own format)."""
    import gzip
    import json

    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    rec = json.loads(line)
                    return isinstance(rec, dict) and "domain" in rec and "subset" in rec
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return False


def corpus_spec(values: list[str], domain: Optional[str], text_field: str, out: Path) -> Optional[str]:
    """``--corpus`` values -> the one spec ``CompareConfig.corpus`` takes.

    One corpus config (.toml/.json), one ``{text, domain, subset}`` JSONL or one ``<domain>/<subset>/``
    directory is passed as is; anything else (plain files, JSONL of ``{"text"}``, directories, globs, several
    values, ``NAME=PATH``) is read with :func:`toksmith.corpus.paths.sources_from_paths` (each file or directory a
    subset named after it) and written to ``OUT/corpus.jsonl``, which is what gets measured.
    """
    from ..artifacts import atomic_write_text
    from ..corpus import iter_documents
    from ..corpus.paths import is_layout_dir, sources_from_paths

    if not values:
        return None
    if len(values) == 1 and domain is None:
        path = Path(values[0]).expanduser()
        if path.is_file() and (path.suffix in (".toml", ".json") or
                               (path.name.endswith((".jsonl", ".jsonl.gz")) and _is_records_jsonl(path))):
            return values[0]
        if is_layout_dir(path):
            return values[0]
    import json

    lines = []
    for source in sources_from_paths(values, domain=domain, text_field=text_field, flag="--corpus"):
        lines += [json.dumps({"text": d.text, "domain": d.domain, "subset": d.subset}, ensure_ascii=False)
                  for d in iter_documents(source)]
    if not lines:
        raise ToksmithError(f"--corpus {' '.join(values)}: no documents in these files")
    return str(atomic_write_text(out / "corpus.jsonl", "\n".join(lines) + "\n"))


def _compare(name: str, *decls: str, **kw):
    from ..analysis.compare import CompareConfig

    return config_option(CompareConfig, name, *decls, **kw)


@app.command("compare")
def compare(
    tokenizers: list[str] = typer.Argument(..., help="reference names (see `toksmith ls references`), trained tokenizer directories or tokenizer files"),
    baseline: Optional[str] = _compare("baseline"),
    corpus: Optional[list[str]] = typer.Option(None, help="your text: files, directories, globs (text, JSONL, Parquet, .gz), repeatable, NAME=PATH to name one; or a corpus .toml/.json config (its held-out split), a .jsonl of {text, domain, subset}, a <domain>/<subset>/ directory; default: the embedded held-out split"),
    domain: Optional[str] = typer.Option(None, help="domain of the --corpus files [default: 'data']"),
    text_field: str = typer.Option("text", help="JSONL/Parquet field holding the text"),
    out: Path = typer.Option(Path("runs/compare"), help="output directory for CSV, JSON and PNG files"),
    threads: Optional[int] = _compare("num_threads", "--threads", help="encoder threads", show="all cores"),
    max_docs: Optional[int] = _compare("max_docs_per_subset", "--max-docs", show="all"),
    plots: Optional[bool] = _compare("plots", "--plots/--no-plots", help="write the bar-chart PNGs"),
    detail: bool = typer.Option(True, help="also print NSL per subset and the vocabulary-use table"),
    pattern: Optional[str] = typer.Option(None, help="split pattern for a .tiktoken file without a pattern.txt: a regex, a file or a reference name (cl100k)"),
) -> None:
    """Compare tokenizers on held-out text: NSL (Table 1 layout), bytes/token, Rényi efficiency, vocabulary use."""
    from ..analysis.compare import CompareConfig, run_compare
    from ..analysis.tables import subset_table, summary_table, vocab_table

    names = tuple(tokenizer_name(t) for t in split_list(tokenizers))
    given = {"baseline": tokenizer_name(baseline) if baseline else None, "num_threads": threads,
             "max_docs_per_subset": max_docs, "plots": plots, "pattern": pattern}
    cfg = CompareConfig(tokenizers=names, corpus=corpus_spec(corpus or [], domain, text_field, out), out_dir=out,
                        **{k: v for k, v in given.items() if v is not None})
    result = run_compare(cfg)
    _print(*((subset_table(result), vocab_table(result)) if detail else ()), summary_table(result), f"files in {out}")


@app.command("paper-check")
def paper_check(
    tokenizer: Optional[list[str]] = typer.Option(None, "--tokenizer", "-t", help="also show this tokenizer (e.g. a trained directory); repeatable"),
    corpus: Optional[str] = typer.Option(None, help="evaluation corpus (default: the embedded held-out split)"),
    out: Path = typer.Option(Path("runs/paper-check"), help="output directory"),
    threads: Optional[int] = typer.Option(None, help="encoder threads (default: all cores)"),
) -> None:
    """Table 1 rows for GPT-2, GPT-4 (cl100k) and Llama 2 on our corpus next to the paper's values."""
    from ..analysis.paper import PaperCheckConfig, paper_table, run_paper_check

    cfg = PaperCheckConfig(extra_tokenizers=tuple(tokenizer_name(t) for t in split_list(tokenizer)), corpus=corpus, out_dir=out, num_threads=threads)
    check = run_paper_check(cfg)
    _print(paper_table(check), check.explanation, f"files in {out}")


def _sweep_default(name: str, fmt: str) -> str:
    from ..analysis import sweep

    return fmt.format(getattr(sweep, name))


@app.command("sweep")
def sweep(
    lever: str = typer.Argument(..., help="vocab | preset | mix"),
    values: Optional[list[str]] = typer.Option(None, help="the grid, comma-separated or repeated: vocab sizes (16000,32000 or 16k,32k), presets (gpt4,punct,...) or mixes (code=0.7+english=0.3,...); default: a small grid"),
    config: Optional[Path] = typer.Option(None, help="TOML/JSON with the base TrainConfig (its \"train\" table, or the whole file)"),
    corpus_chars: Optional[str] = typer.Option(None, help="training characters per tokenizer, e.g. 20M (overrides the base config's corpus budget)", show_default=_sweep_default("DEFAULT_SWEEP_CHARS", "{:_}, more when the largest vocabulary needs it")),
    vocab_size: Optional[str] = typer.Option(None, help="base vocabulary size for the preset and mix levers", show_default=_sweep_default("DEFAULT_SWEEP_VOCAB", "{:_}")),
    backend: Optional[str] = typer.Option(None, help="BPE trainer backend (default: the config's, else toksmith's native one; hf is the paper's)"),
    eval_corpus: Optional[str] = typer.Option(None, help="evaluation corpus (default: the training corpus' held-out split)"),
    baseline: str = typer.Option("llama2", help="NSL baseline"),
    out: Path = typer.Option(Path("runs/sweep"), help="output directory (tokenizers are cached in <out>/tokenizers/)"),
    paper_grid: bool = typer.Option(False, help="use the paper's full grid for this lever (slow)"),
) -> None:
    """Train a grid of tokenizers along one of the paper's levers and compare them on the same held-out split."""
    from ..analysis.sweep import SweepConfig, run_sweep, sweep_table

    grid = ",".join(split_list(values)) or None
    cfg = SweepConfig.build(lever=lever, values=grid, base_config=config, corpus_chars=size(corpus_chars, "--corpus-chars"),
                            vocab_size=size(vocab_size, "--vocab-size"), eval_corpus=eval_corpus, baseline=tokenizer_name(baseline), out_dir=out,
                            paper_grid=paper_grid, backend=backend)
    result = run_sweep(cfg)
    _print(*sweep_table(result), f"files in {out}")
