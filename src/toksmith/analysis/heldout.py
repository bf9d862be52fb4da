"""Evaluation texts for the analysis commands, keyed by ``(domain, subset)``.

Every metric in toksmith is computed per subset (one language, one source) and aggregated per domain (code,
english, multilingual), as in the paper's Table 1. This module turns a corpus spec into that plain mapping
``dict[(domain, subset), list[str]]``:

* ``None``: the held-out split of toksmith's embedded default corpus (``toksmith.corpus``);
* a ``.toml``/``.json`` corpus config (a ``CorpusConfig``, or a file with a ``[corpus]`` table): its held-out split;
* a ``.jsonl`` or ``.jsonl.gz`` file of records ``{"text", "domain", "subset"}``;
* a directory laid out as ``<dir>/<domain>/<subset>/<files>``: every file is one UTF-8 document.

Limits: a ``.jsonl`` file or a directory is used whole (it is taken to be held-out text already).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ToksmithError

log = logging.getLogger(__name__)

Heldout = dict[tuple[str, str], list[str]]


def _corpus_module():
    try:
        from .. import corpus
    except ImportError as e:
        raise ToksmithError(
            f"the default corpus needs the toksmith.corpus package, which cannot be imported ({e}); "
            "pass --corpus with a .jsonl file or a <domain>/<subset>/ directory instead"
        ) from None
    return corpus


def default_corpus_config(total_chars: int | None = None):
    """The embedded default ``CorpusConfig`` (``toksmith.corpus.default_corpus_config``)."""
    corpus = _corpus_module()
    return corpus.default_corpus_config() if total_chars is None else corpus.default_corpus_config(total_chars=total_chars)


def heldout_from_config(cfg) -> Heldout:
    """The held-out split of a ``CorpusConfig`` as plain texts."""
    docs = _corpus_module().heldout_documents(cfg)
    out = {key: [d.text for d in ds] for key, ds in docs.items() if ds}
    if not out:
        raise ToksmithError("the corpus config has an empty held-out split; raise heldout_fraction or heldout_max_docs")
    return out


def _from_jsonl(path: Path) -> Heldout:
    from ..corpus.sources import check_text, jsonl_records, open_binary

    out: Heldout = {}
    with open_binary(path) as fh:
        for lineno, rec in jsonl_records(fh, str(path)):
            where = f"{path}:{lineno}"
            if "domain" not in rec or "subset" not in rec:
                raise ToksmithError(f"{where}: expected a JSON object with 'text', 'domain' and 'subset' (keys: {', '.join(rec)})")
            text = check_text(rec.get("text"), "text", where, list(rec), "each line needs 'text', 'domain' and 'subset'")
            out.setdefault((str(rec["domain"]), str(rec["subset"])), []).append(text)
    return out


def _from_dir(path: Path) -> Heldout:
    out: Heldout = {}
    for f in sorted(path.glob("*/*/**/*")):
        if f.is_file() and not f.name.startswith("."):
            domain, subset = f.relative_to(path).parts[:2]
            out.setdefault((domain, subset), []).append(f.read_text(encoding="utf-8", errors="replace"))
    return out


def load_heldout(spec: str | Path | None = None, max_docs_per_subset: int | None = None) -> Heldout:
    """Resolve a corpus spec (see the module docstring) to ``{(domain, subset): [text, ...]}``."""
    if spec is None:
        data = heldout_from_config(default_corpus_config())
    else:
        path = Path(spec).expanduser()
        if path.is_dir():
            data = _from_dir(path)
        elif not path.is_file():
            raise ToksmithError(f"corpus {spec!r} is neither a file nor a directory")
        elif path.name.endswith((".jsonl", ".jsonl.gz")):
            data = _from_jsonl(path)
        elif path.suffix in (".toml", ".json"):
            data = heldout_from_config(_load_corpus_config(path))
        else:
            raise ToksmithError(
                f"corpus {path}: unsupported file type; use a corpus .toml/.json config, a .jsonl of "
                "{text, domain, subset} records, or a <domain>/<subset>/ directory"
            )
    if not data:
        raise ToksmithError(f"corpus {spec!r} holds no documents")
    if max_docs_per_subset is not None:
        data = {k: v[:max_docs_per_subset] for k, v in data.items()}
    log.info("evaluation corpus: %d subsets, %d documents, %.1f MB",
             len(data), sum(map(len, data.values())), sum(len(t) for v in data.values() for t in v) / 1e6)
    return data


def _load_corpus_config(path: Path):
    from ..config import load_config

    corpus = _corpus_module()
    text = path.read_text(encoding="utf-8")
    section = "corpus" if ("[corpus]" in text or '"corpus"' in text) else None
    return load_config(corpus.CorpusConfig, path, section=section)
