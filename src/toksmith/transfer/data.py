"""Text for continued training and evaluation: documents from the default corpus or files, packed into blocks.

* :func:`training_texts`: the code domain of toksmith's default corpus (its held-out documents never appear), or
  every UTF-8 file under a path (``.jsonl``: the ``text`` field of each row).
* :func:`heldout_texts`: a fixed, byte-capped set of held-out code documents (round-robin over languages, each
  document cut to a few KB), so every model is evaluated on exactly the same text.
* :func:`packed_blocks`: ``[BOS] + ids + [EOS]`` per document, concatenated and cut into ``seq_len`` blocks
  (document packing, as in GPT-style pre-training; attention crosses document boundaries).

Limits: the last partial block of the stream is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..corpus.sources import read_jsonl
from ..errors import ToksmithError


def read_texts(spec: str | os.PathLike) -> list[str]:
    """Documents from a file (``.jsonl`` rows' ``text``, else the whole file) or every UTF-8 file under a dir."""
    path = Path(spec)
    if not path.exists():
        raise ToksmithError(f"data {spec!r} is neither 'default' nor an existing file or directory")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    out: list[str] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary file in a source tree
        if f.suffix == ".jsonl":
            out += [t for t, _ in read_jsonl(f, "text", "each line needs a 'text' string")]
        elif text:
            out.append(text)
    if not out:
        raise ToksmithError(f"data {spec!r} holds no UTF-8 text")
    return out


def default_code_corpus(train_chars: int):
    """The default corpus restricted to code; its held-out split is the same as the full default corpus's."""
    from ..corpus import default_corpus_config

    return default_corpus_config(total_chars=train_chars, mix={"code": 1.0})


def training_texts(spec: str = "default", train_chars: int = 20_000_000) -> Iterable[str]:
    """The training documents: the default corpus's code (held-out documents excluded), or a file / directory."""
    if spec == "default":
        from ..corpus import iter_training_texts

        return iter_training_texts(default_code_corpus(train_chars))
    return read_texts(spec)


def heldout_texts(spec: str = "default", max_bytes: int = 100_000, train_chars: int = 20_000_000) -> list[str]:
    """Held-out texts, at most ``max_bytes`` UTF-8 bytes, round-robin over code subsets (default corpus)."""
    if spec == "default":
        from ..corpus import heldout_documents

        groups = [[d.text for d in docs] for (domain, _), docs in sorted(heldout_documents(default_code_corpus(train_chars)).items())
                  if domain == "code" and docs]
        pool = [g[i] for i in range(max(map(len, groups), default=0)) for g in groups if i < len(g)]
    else:
        pool = read_texts(spec)
    out, total = [], 0
    per_doc = max(2000, max_bytes // 20)  # many short documents rather than a few long ones
    pool = [t.encode("utf-8")[:per_doc].decode("utf-8", "ignore") for t in pool]
    for t in pool:
        b = len(t.encode("utf-8"))
        if total + b > max_bytes:
            t = t.encode("utf-8")[: max_bytes - total].decode("utf-8", "ignore")
            b = len(t.encode("utf-8"))
        if b:
            out.append(t)
            total += b
        if total >= max_bytes:
            break
    if not out:
        raise ToksmithError(f"no held-out text found in {spec!r}")
    return out


def packed_blocks(texts: Iterable[str], tok, seq_len: int, bos: int | None, eos: int | None,
                  chunk: int = 64) -> Iterator[list[int]]:
    """``[bos] + ids + [eos]`` per document, concatenated and cut into blocks of ``seq_len`` (the rest dropped)."""
    buf: list[int] = []
    batch: list[str] = []

    def flush():
        nonlocal buf
        for ids in tok.encode_batch(batch):
            buf += ([bos] if bos is not None else []) + ids + ([eos] if eos is not None else [])
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= chunk:
            flush()
            while len(buf) >= seq_len:
                yield buf[:seq_len]
                buf = buf[seq_len:]
    flush()
    while len(buf) >= seq_len:
        yield buf[:seq_len]
        buf = buf[seq_len:]
