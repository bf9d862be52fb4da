"""Corpus sources: files on disk -> a lazy stream of :class:`Document` records.

A :class:`SourceConfig` names one path (a file, a directory tree filtered by include/exclude globs, or a local
Hugging Face ``datasets`` directory), the *domain* it belongs to (``code``, ``english``, ``multilingual`` or any
name) and its *subset* (the programming or natural language). :func:`iter_documents` turns it into documents,
one at a time, in a fixed order (sorted paths), so memory does not grow with the corpus:

* plain text (one file = one document), JSONL (one line = one document, field ``text_field``), Parquet (streamed
  row group by row group with pyarrow) and ``datasets.load_from_disk`` directories; any file may be compressed
  (``.gz``, ``.zst``);
* binary files (a NUL byte in the first 8 KB) and files that are not UTF-8 are skipped and counted in
  :class:`CorpusStats` (and logged), never silently dropped;
* documents longer than :data:`MAX_DOC_CHARS` are split into chunks at line boundaries.

Glob rules (gitignore-like): a pattern without ``/`` matches the file name anywhere in the tree (``*.py``); a
pattern with ``/`` matches the path relative to the source root, where ``*`` stays within one directory and
``**`` spans any number of them (``**/test/**`` excludes every ``test`` directory). Directories excluded by a
pattern ending in ``/**`` are not walked at all.

Reference: the bigcode/datatrove reader shape (a reader yields records lazily; filters count what they drop).
Limits: a text file larger than :data:`MAX_DOC_CHARS` is decoded in blocks; if an undecodable byte appears after
the first block, the chunks before it have already been yielded (the rest of the file is skipped and counted).
"""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import io
import json
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ToksmithError, unknown_name

log = logging.getLogger(__name__)

FORMATS = ("auto", "text", "jsonl", "parquet", "datasets")
MAX_DOC_CHARS = 1_000_000  # documents above ~1 MB are split at line boundaries (trainers count pre-tokens per doc)
BINARY_SNIFF_BYTES = 8192  # a NUL byte in the first 8 KB marks a binary file (git's heuristic)
_READ_BLOCK = 1 << 18  # read text files in 256 KB blocks


@dataclass(frozen=True)
class Document:
    """One training or evaluation document: its text and where it comes from."""

    text: str
    domain: str  # code | english | multilingual | any name
    subset: str  # the programming or natural language (python, go, de, ...)
    source: str  # file path (plus ":line" for JSONL, "#row" for Parquet/datasets, "@chunk" for split documents)


@dataclass(frozen=True)
class SourceConfig:
    """One corpus source: a path, its domain and subset, and how to read it."""

    path: Path
    domain: str
    subset: str
    format: str = "auto"  # auto: from the suffix (.jsonl/.ndjson, .parquet, else text; .gz/.zst stripped first)
    include: tuple[str, ...] = ()  # globs a file must match (any); empty = every file
    exclude: tuple[str, ...] = ()  # globs that drop a file (or a whole directory with "dir/**")
    text_field: str = "text"  # the column/key holding the text (JSONL, Parquet, datasets)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "include", tuple(self.include))
        object.__setattr__(self, "exclude", tuple(self.exclude))
        if self.format not in FORMATS:
            raise unknown_name("source format", self.format, FORMATS, hint=f"(SourceConfig.format for {self.path})")
        for name in ("domain", "subset", "text_field"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ToksmithError(f"SourceConfig.{name} for {self.path} must be a non-empty string, got {value!r}")

    @property
    def key(self) -> tuple[str, str]:
        return (self.domain, self.subset)


@dataclass
class SubsetCounts:
    docs: int = 0
    chars: int = 0
    bytes: int = 0

    def add(self, text: str) -> None:
        self.docs += 1
        self.chars += len(text)
        self.bytes += len(text.encode("utf-8"))


@dataclass
class CorpusStats:
    """Counters filled while a corpus is read; pass one in and read it after iterating.

    ``subsets`` maps ``"domain/subset"`` to the documents, characters and UTF-8 bytes actually yielded.
    """

    subsets: dict[str, SubsetCounts] = field(default_factory=dict)
    planned_chars: dict[str, int] = field(default_factory=dict)  # "domain/subset" -> its quota before any source ran dry
    files: int = 0
    skipped_binary: int = 0
    skipped_non_utf8: int = 0
    duplicates: int = 0
    heldout_excluded: int = 0
    chunked_documents: int = 0
    dry_sources: list[str] = field(default_factory=list)

    def count(self, doc: Document) -> None:
        self.subsets.setdefault(f"{doc.domain}/{doc.subset}", SubsetCounts()).add(doc.text)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _glob_regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class _Globs:
    def __init__(self, patterns: tuple[str, ...]):
        self.by_name = [_glob_regex(p) for p in patterns if "/" not in p]
        self.by_path = [_glob_regex(p) for p in patterns if "/" in p]
        self.dir_prunes = [_glob_regex(p[:-3]) for p in patterns if p.endswith("/**")]

    def match(self, rel: str) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return any(r.match(name) for r in self.by_name) or any(r.match(rel) for r in self.by_path)

    def prunes_dir(self, rel_dir: str) -> bool:
        return any(r.match(rel_dir) for r in self.dir_prunes)


def _is_datasets_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file())


def iter_files(source: SourceConfig) -> Iterator[Path]:
    """The files of a source in sorted order (lazily; a directory is walked one level at a time)."""
    root = source.path
    if not root.exists() and not root.is_symlink():
        raise ToksmithError(
            f"corpus source {root} (domain {source.domain!r}, subset {source.subset!r}) does not exist; "
            "fix SourceConfig.path or create it"
        )
    if root.is_file() or source.format == "datasets" or _is_datasets_dir(root):
        yield root
        return
    include, exclude = _Globs(source.include), _Globs(source.exclude)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not exclude.prunes_dir(rel_dir + d))
        for name in sorted(filenames):
            rel = rel_dir + name
            if (not source.include or include.match(rel)) and not exclude.match(rel):
                yield Path(dirpath) / name


def detect_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    if _is_datasets_dir(path):
        return "datasets"
    name = path.name.lower()
    for ext in COMPRESSED:
        name = name.removesuffix(ext)
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    return "text"


COMPRESSED = (".gz", ".zst")  # read transparently, by suffix


def open_binary(path: Path) -> io.BufferedIOBase:
    """The bytes of ``path``, decompressed when it ends in ``.gz`` (gzip) or ``.zst`` (Zstandard, through pyarrow)."""
    try:
        fh = open(path, "rb")
    except OSError as e:
        raise ToksmithError(
            f"cannot read corpus file {path}: {e.strerror or e}; check that it exists and is readable"
        ) from None
    if path.name.lower().endswith(".gz"):
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    if path.name.lower().endswith(".zst"):
        import pyarrow as pa

        return io.BufferedReader(pa.CompressedInputStream(pa.PythonFile(fh, mode="r"), "zstd"))  # type: ignore[arg-type]
    return fh  # type: ignore[return-value]


def _read_error(path: Path, e: Exception) -> ToksmithError:
    return ToksmithError(f"cannot read corpus file {path}: {e}; the file is corrupt or truncated, fix or exclude it")


def chunk_text(text: str, max_chars: int = MAX_DOC_CHARS) -> list[str]:
    """Split ``text`` into pieces of at most ``max_chars`` characters, cutting after a newline when possible."""
    if len(text) <= max_chars:
        return [text]
    pieces, start = [], 0
    while len(text) - start > max_chars:
        cut = text.rfind("\n", start, start + max_chars)
        cut = start + max_chars if cut <= start else cut + 1
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def _text_file_docs(path: Path, stats: CorpusStats) -> Iterator[tuple[str, str]]:
    """(text, source) chunks of one text file; skipped and counted when binary or not UTF-8."""
    n_chunk = 0
    with open_binary(path) as fh:
        try:
            head = fh.read(BINARY_SNIFF_BYTES)
            if b"\x00" in head:
                stats.skipped_binary += 1
                log.debug("skipped binary file %s (NUL byte in the first %d bytes)", path, BINARY_SNIFF_BYTES)
                return
            decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
            buf, block, final = "", head, False
            while True:
                if not final:
                    more = fh.read(_READ_BLOCK)
                    final = not more
                    buf += decoder.decode(block, final=final)
                    block = more
                if len(buf) <= MAX_DOC_CHARS and not final:
                    continue
                pieces = chunk_text(buf)
                keep = pieces if final else pieces[:-1]
                for piece in keep:
                    yield piece, (f"{path}@{n_chunk}" if n_chunk or len(pieces) > 1 or not final else str(path))
                    n_chunk += 1
                if final:
                    return
                buf = pieces[-1]
        except UnicodeDecodeError as e:
            stats.skipped_non_utf8 += 1
            log.debug("skipped non-UTF-8 file %s (%s)", path, e.reason)
        except (OSError, EOFError, zlib.error) as e:
            raise _read_error(path, e) from None
        finally:
            if n_chunk > 1:
                stats.chunked_documents += 1


def check_text(value: object, field_name: str, where: str, keys: list[str],
               hint: str = "set SourceConfig.text_field to the right key") -> str:
    """``value`` if it is a document's text, else a :class:`ToksmithError` naming ``where`` and the field."""
    if value is None:
        raise ToksmithError(f"{where}: no text field {field_name!r} (keys: {', '.join(map(str, keys)) or 'none'}); {hint}")
    if not isinstance(value, str):
        raise ToksmithError(f"{where}: field {field_name!r} is {type(value).__name__}, not a string")
    return value


def jsonl_records(lines: Iterable[bytes], where: str, on_non_utf8: Callable[[int], None] | None = None
                  ) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of JSON Lines, the one JSONL parser of toksmith.

    A line that is not UTF-8 goes to ``on_non_utf8(lineno)`` (skipped) or, without it, is an error; a line that
    is not one JSON object is an error naming ``where:lineno``.

    >>> list(jsonl_records([b'{"text": "a"}', b"", b'{"text": "b"}'], "x.jsonl"))
    [(1, {'text': 'a'}), (3, {'text': 'b'})]
    """
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            if on_non_utf8 is None:
                raise ToksmithError(f"{where}:{lineno}: not UTF-8; each line must be one JSON object in UTF-8") from None
            on_non_utf8(lineno)
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ToksmithError(f"{where}:{lineno}: not valid JSON ({e.msg}); each line must be one JSON object") from None
        if not isinstance(record, dict):
            raise ToksmithError(f"{where}:{lineno}: expected a JSON object, got {type(record).__name__}")
        yield lineno, record


def read_jsonl(path: str | os.PathLike, field_name: str = "text", hint: str = "set SourceConfig.text_field to the right key"
               ) -> Iterator[tuple[str, str]]:
    """``(text, "path:line")`` of each record of a ``.jsonl`` (or ``.jsonl.gz``) file, strictly (no skipping)."""
    path = Path(path)
    with open_binary(path) as fh:
        try:
            for lineno, record in jsonl_records(fh, str(path)):
                yield check_text(record.get(field_name), field_name, f"{path}:{lineno}", list(record), hint), f"{path}:{lineno}"
        except (OSError, EOFError, zlib.error) as e:
            raise _read_error(path, e) from None


def parquet_texts(pf, field_name: str, where: str, hint: str = "set SourceConfig.text_field to the right key"
                  ) -> Iterator[tuple[str, str]]:
    """``(text, "where#row")`` of a ``pyarrow.parquet.ParquetFile``'s column ``field_name``, one row group at a time."""
    names = pf.schema_arrow.names
    if field_name not in names:
        check_text(None, field_name, where, names, hint)
    row = 0
    for rg in range(pf.num_row_groups):
        for value in pf.read_row_group(rg, columns=[field_name]).column(0).to_pylist():
            yield check_text(value, field_name, f"{where}#{row}", names, hint), f"{where}#{row}"
            row += 1


def _jsonl_docs(path: Path, field_name: str, stats: CorpusStats) -> Iterator[tuple[str, str]]:
    def skipped(lineno: int) -> None:
        stats.skipped_non_utf8 += 1
        log.debug("skipped non-UTF-8 line %s:%d", path, lineno)

    with open_binary(path) as fh:
        try:
            for lineno, record in jsonl_records(fh, str(path), skipped):
                yield check_text(record.get(field_name), field_name, f"{path}:{lineno}", list(record)), f"{path}:{lineno}"
        except (OSError, EOFError, zlib.error) as e:
            raise _read_error(path, e) from None


def _parquet_docs(path: Path, field_name: str) -> Iterator[tuple[str, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fh = open_binary(path)
    try:
        pf = pq.ParquetFile(fh)
    except (pa.ArrowException, OSError, EOFError, zlib.error) as e:
        fh.close()
        raise _read_error(path, e) from None
    with fh:
        try:
            yield from parquet_texts(pf, field_name, str(path))
        except (pa.ArrowException, OSError, EOFError) as e:
            raise _read_error(path, e) from None


def _datasets_docs(path: Path, field_name: str) -> Iterator[tuple[str, str]]:
    try:
        import datasets
    except ImportError:
        raise ToksmithError(f"corpus source {path} is a datasets directory: pip install 'toksmith[datasets]'") from None
    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as e:
        raise ToksmithError(f"cannot load datasets directory {path}: {e}; it must be written by save_to_disk") from None
    if isinstance(loaded, datasets.DatasetDict):
        splits = [(name, loaded[name]) for name in sorted(loaded)]
    else:
        splits = [("", loaded)]
    for split, ds in splits:
        if field_name not in ds.column_names:
            check_text(None, field_name, f"{path}{'/' + split if split else ''}", ds.column_names)
        row = 0
        for batch in ds.select_columns([field_name]).iter(batch_size=1000):
            for value in batch[field_name]:
                where = f"{path}{'/' + split if split else ''}#{row}"
                yield check_text(value, field_name, where, ds.column_names), where
                row += 1


def iter_documents(
    source: SourceConfig, stats: CorpusStats | None = None, files: list[Path] | None = None
) -> Iterator[Document]:
    """Every document of ``source`` in file order, lazily (no held-out split, no dedup, no budget).

    ``files`` overrides the walk (the mixer passes a shuffled file list). Skips and splits are counted in ``stats``.
    """
    stats = stats if stats is not None else CorpusStats()
    for path in files if files is not None else iter_files(source):
        fmt = detect_format(path, source.format)
        stats.files += 1
        if fmt == "text":
            records = _text_file_docs(path, stats)
        elif fmt == "jsonl":
            records = _jsonl_docs(path, source.text_field, stats)
        elif fmt == "parquet":
            records = _parquet_docs(path, source.text_field)
        else:
            records = _datasets_docs(path, source.text_field)
        for text, where in records:
            if not text:
                continue
            if fmt != "text" and "\x00" in text[:BINARY_SNIFF_BYTES]:
                stats.skipped_binary += 1
                continue
            pieces = chunk_text(text) if fmt != "text" else [text]
            if len(pieces) > 1:
                stats.chunked_documents += 1
            for i, piece in enumerate(pieces):
                yield Document(piece, source.domain, source.subset, where if len(pieces) == 1 else f"{where}@{i}")
