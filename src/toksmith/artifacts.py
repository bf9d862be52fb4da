"""Atomic, hash-checked artifacts.

Nothing toksmith writes is ever half-written: files go to a temporary sibling and are renamed into place
(``os.replace`` is atomic on POSIX), and whole artifact directories (a tokenizer, a model) are built in a
temporary sibling directory and renamed at the end. A reader therefore sees either the old artifact or the new
one, never a mix. Directories are keyed by a hash of the config that made them, so a repeated run can reuse them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def config_hash(config: Any, length: int = 12) -> str:
    """A short, stable hash of a JSON-able config (keys sorted), used to name cached artifacts."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2, strict: bool = False) -> Path:
    """``strict``: refuse NaN/Infinity (not JSON; other readers reject them) with a ValueError."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False, default=str, allow_nan=not strict)
    return atomic_write_text(path, text + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Build a directory in a temporary sibling and move it to ``path`` only if the block succeeds.

    On an exception the temporary directory is removed and ``path`` is untouched. With ``overwrite`` an existing
    ``path`` is replaced (moved aside, then deleted) only after the new one is complete.

    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_dir(root / "tok") as d:
    ...     _ = (d / "tokenizer.json").write_text("{}")
    >>> sorted(p.name for p in (root / "tok").iterdir())
    ['tokenizer.json']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True or choose another output directory")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; the result should get the usual mode
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend: the one way toksmith gets a plotting module."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, **savefig_kwargs) -> Path:
    """Render a matplotlib figure to PNG in memory, close it, and write it atomically to ``path``."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig_kwargs)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def file_hashes(directory: str | os.PathLike, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every regular file under ``directory`` (relative posix paths), for a manifest."""
    directory = Path(directory)
    out = {}
    for p in sorted(directory.rglob("*")):
        rel = p.relative_to(directory).as_posix()
        if p.is_file() and rel not in exclude:
            out[rel] = sha256_file(p)
    return out


def verify_hashes(directory: str | os.PathLike, expected: dict[str, str]) -> list[str]:
    """Return the relative paths whose sha256 differs from ``expected`` (missing files count as different)."""
    directory = Path(directory)
    bad = []
    for rel, digest in expected.items():
        p = directory / rel
        if not p.is_file() or sha256_file(p) != digest:
            bad.append(rel)
    return bad
