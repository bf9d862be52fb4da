"""The embedded default corpus: the running interpreter's Python standard library plus vendored samples.

Nothing is downloaded at run time. Code: ``*.py`` of ``sysconfig.get_paths()["stdlib"]`` (no ``test``/``tests``
directories, no ``site-packages``) as subset ``python``, and the vendored C, Go, Rust and JavaScript samples.
English: Python documentation and a Debian handbook (``english-docs``) and Shakespeare's plays
(``english-plays``). Multilingual: Debian handbook/reference translations in de, fr, es, it, pt, ru, ja, zh, ar.
The vendored files, their provenance and licenses are listed in ``data/README.md`` and ``data/manifest.json``
(both written by ``scripts/build_default_corpus.py``, which rebuilds them from public packages).

The default mix is the paper's code mix: 70% code, 30% English, 0% multilingual (docs/paper.md §2.2). The multilingual
subsets still have a held-out split (it is computed over all sources, whatever the mix), so NSL can be reported
per language. Limits: a few MB per language, far from the paper's 10B characters; the Python subset depends on
the interpreter (its size and content change across Python versions).
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

from ..errors import ToksmithError
from .mix import CorpusConfig
from .sources import SourceConfig

DATA_DIR = Path(__file__).with_name("data")
DEFAULT_MIX = {"code": 0.7, "english": 0.3, "multilingual": 0.0}
STDLIB_EXCLUDE = ("site-packages/**", "dist-packages/**", "**/test/**", "**/tests/**", "**/idle_test/**",
                  "**/__pycache__/**")


def vendored_manifest() -> list[dict]:
    """The rows of ``data/manifest.json``: file, domain, subset, docs, chars, bytes, sha256, provenance."""
    path = DATA_DIR / "manifest.json"
    if not path.is_file():
        raise ToksmithError(f"the vendored corpus manifest {path} is missing; run scripts/build_default_corpus.py")
    return json.loads(path.read_text("utf-8"))["files"]


def stdlib_source() -> SourceConfig:
    return SourceConfig(path=Path(sysconfig.get_paths()["stdlib"]), domain="code", subset="python",
                        include=("*.py",), exclude=STDLIB_EXCLUDE)


def default_corpus_config(
    total_chars: int = 20_000_000,
    mix: dict[str, float] | None = None,
    seed: int = 0,
    heldout_fraction: float = 0.1,
    heldout_max_docs: int = 1000,
) -> CorpusConfig:
    """The embedded corpus as a :class:`CorpusConfig` (default mix: code 0.7 / english 0.3 / multilingual 0).

    ``heldout_fraction`` is 0.1 rather than 0.05 because the vendored languages have only a few hundred documents.
    """
    sources = [stdlib_source()]
    sources += [SourceConfig(path=DATA_DIR / row["file"], domain=row["domain"], subset=row["subset"], format="jsonl")
                for row in vendored_manifest()]
    return CorpusConfig(sources=tuple(sources), mix=dict(DEFAULT_MIX if mix is None else mix),
                        total_chars=total_chars, seed=seed, heldout_fraction=heldout_fraction,
                        heldout_max_docs=heldout_max_docs)
