"""Paths a user types -> corpus sources: files, directories and globs, named by flags, by ``NAME=PATH`` or by layout.

:func:`sources_from_paths` is how ``toksmith train PATH...`` and ``toksmith compare --corpus PATH`` read the user's
own data; the documents themselves are read by :func:`toksmith.corpus.sources.iter_documents` (text, JSONL with a
``text_field``, Parquet, gzip). Naming rules, in order:

* ``DOMAIN/SUBSET=PATH`` or ``SUBSET=PATH`` names that path's source;
* a directory laid out as ``<dir>/<domain>/<subset>/<files>`` (no ``domain`` given) gives one source per subset
  directory;
* otherwise the domain is ``domain`` (default :data:`DEFAULT_DOMAIN`) and the subset is ``subset`` or the file's
  or directory's name without its extensions (``java/`` -> ``java``, ``man.de.txt.gz`` -> ``man``).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.jsonl").write_text('{"text": "x"}\\n'); _ = (d / "b.txt").write_text("y")
>>> [(s.domain, s.subset, s.path.name) for s in sources_from_paths([str(d / "*")])]
[('data', 'a', 'a.jsonl'), ('data', 'b', 'b.txt')]
>>> [(s.domain, s.subset) for s in sources_from_paths([f"code/py={d / 'b.txt'}"])]
[('code', 'py')]
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import ToksmithError
from .sources import SourceConfig

DEFAULT_DOMAIN = "data"  # the domain of a path given without --domain, a NAME= prefix or a <domain>/<subset>/ layout
_GLOB_CHARS = set("*?[")


def _stem(path: Path) -> str:
    name = path.name
    return name.split(".", 1)[0] or name if not path.is_dir() else name


def _visible_dirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def is_layout_dir(path: Path) -> bool:
    """True for ``<dir>/<domain>/<subset>/...``: only directories at the top, and each holds only directories."""
    if not path.is_dir():
        return False
    top = [p for p in path.iterdir() if not p.name.startswith(".")]
    if not top or any(not p.is_dir() for p in top):
        return False
    for d in top:
        inner = [p for p in d.iterdir() if not p.name.startswith(".")]
        if not inner or any(not p.is_dir() for p in inner):
            return False
    return True


def _split_name(spec: str) -> tuple[str | None, str | None, str]:
    """``"code/java=src"`` -> ("code", "java", "src"); ``"java=src"`` -> (None, "java", "src"); else no name."""
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest or os.path.exists(spec) or name.count("/") > 1 or set(name) & _GLOB_CHARS:
        return None, None, spec
    domain, slash, subset = name.partition("/")
    return (domain, subset, rest) if slash else (None, domain, rest)


def expand(spec: str, flag: str = "PATH") -> list[Path]:
    """A path or a glob (``**`` recursive) to the existing paths it names, sorted; an error names the input."""
    if any(c in spec for c in _GLOB_CHARS) and not os.path.exists(spec):
        found = sorted(Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True))
        found = [p for p in found if p.is_file() or p.is_dir()]
        if not found:
            raise ToksmithError(f"{flag} {spec}: no file matches this pattern; check the path and quote the glob")
        return found
    path = Path(spec).expanduser()
    if not path.exists():
        raise ToksmithError(f"{flag} {spec}: no such file or directory")
    return [path]


def sources_from_paths(specs: Sequence[str], domain: str | None = None, subset: str | None = None,
                       text_field: str = "text", flag: str = "PATH") -> tuple[SourceConfig, ...]:
    """One :class:`SourceConfig` per file, directory or subset directory named by ``specs`` (module docstring)."""
    out: list[SourceConfig] = []
    for spec in specs:
        named_domain, named_subset, raw = _split_name(spec)
        for path in (p.resolve() for p in expand(raw, flag)):  # absolute: a saved config reruns from anywhere
            if named_subset is not None:
                out.append(SourceConfig(path, named_domain or domain or DEFAULT_DOMAIN, named_subset,
                                        text_field=text_field))
            elif domain is None and subset is None and is_layout_dir(path):
                out += [SourceConfig(sub, dom.name, sub.name, text_field=text_field)
                        for dom in _visible_dirs(path) for sub in _visible_dirs(dom)]
            else:
                out.append(SourceConfig(path, domain or DEFAULT_DOMAIN, subset or _stem(path), text_field=text_field))
    if not out:
        raise ToksmithError(f"{flag}: give at least one file, directory or glob")
    return tuple(out)
