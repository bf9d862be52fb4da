"""Writing a trained tokenizer directory: ``tokenizer.json``, ``tokenizer.tiktoken``, ``toksmith.json`` and sidecars.

A trained toksmith tokenizer is data (as in tiktoken): a split ``pattern`` (``None`` = identity), the special
tokens at ids ``0..k-1``, the 256 single bytes at ``k..k+255`` (byte ``b`` at ``k + b``) and the merged tokens
after them in merge order. The tokenizer's semantics are tiktoken's rank-based BPE: inside each pre-token,
repeatedly merge the adjacent pair whose concatenation has the lowest id; a pre-token that is itself a token is
kept whole. One directory holds it in every format the later stages read:

* ``tokenizer.tiktoken``: the ranks (``base64(token) id`` per line); pattern and specials are in the manifest.
* ``tokenizer.json``: an HF ``Tokenizer(BPE(vocab, merges, ignore_merges=True))`` with the paper's pre-tokenizer
  (``Split(Regex(pattern), isolated)`` + ``ByteLevel(use_regex=False)``; identity: ByteLevel only), decoder
  ``ByteLevel``, no normalizer and no post-processor, and the specials as special ``AddedToken``s at their ids.
  To encode exactly as tiktoken does, the merges list holds, for each merged token ``t``, every split
  ``(a, b)`` of ``t`` into two tokens, ranked by ``t``'s id (then by ``a``'s, ``b``'s), and
  ``ignore_merges=True`` keeps a pre-token that is a token whole; this is how transformers' ``TikTokenConverter``
  and Llama 3's ``tokenizer.json`` do it. Known limit: where two *overlapping* pairs would make the same token
  (tokens ``ab a ba``: ``ab+a`` and ``a+ba`` are both ``aba``), tiktoken takes the leftmost and HF the one
  listed first; this needs a token that is its own rotation and has not been seen on real text.
* ``tokenizer_config.json`` + ``special_tokens_map.json``: so ``transformers.AutoTokenizer.from_pretrained(dir)``
  gives a ``PreTrainedTokenizerFast`` with ``bos``/``eos``/``pad`` = the first three specials.
* ``vocab.txt``: for people (minbpe's ``.vocab``): ``[a][b] -> [t] id`` per merged token, bytes escaped.
* ``toksmith.json``: the manifest, written last: format, name, pattern, preset, specials, vocab size, the full
  config (loadable to redo the run), corpus statistics, backend, library versions, timings and the sha256 of
  every other file.

The directory is built with :func:`toksmith.artifacts.atomic_dir`: an interrupted write leaves nothing.
"""

from __future__ import annotations

import json
import logging
import platform
import time
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .artifacts import atomic_dir, atomic_write_bytes, atomic_write_json, atomic_write_text, file_hashes
from .errors import ToksmithError
from .tokenizer import HF_FILE, MANIFEST_FILE, TIKTOKEN_FILE, bytelevel_encode, write_tiktoken_ranks

log = logging.getLogger(__name__)

FORMAT = "toksmith-tokenizer v1"
VOCAB_FILE = "vocab.txt"


def build_ranks(special_tokens: Sequence[str], merged: Sequence[bytes]) -> dict[bytes, int]:
    """Token bytes -> id for everything but the specials: byte ``b`` at ``k + b``, merges after, in order.

    >>> r = build_ranks(["<s>"], [b"ab"]); r[b"\\x00"], r[b"a"], r[b"ab"]
    (1, 98, 257)
    """
    k = len(special_tokens)
    ranks = {bytes([b]): k + b for b in range(256)}
    for token in merged:
        if len(token) < 2 or token in ranks:
            raise ToksmithError(f"merged token {token!r} is a single byte or repeated; a backend returned bad merges")
        ranks[token] = len(ranks) + k
    return ranks


def hf_merges(ranks: Mapping[bytes, int]) -> list[tuple[bytes, bytes]]:
    """Every split ``(a, b)`` of each multi-byte token into two tokens, ordered by ``(id(a+b), id(a), id(b))``.

    With ``ignore_merges=True`` this makes HF's merge-rank BPE equal to tiktoken's concatenation-rank BPE.
    """
    merges = []
    for token, rank in ranks.items():
        for i in range(1, len(token)):
            a, b = token[:i], token[i:]
            if a in ranks and b in ranks:
                merges.append((rank, ranks[a], ranks[b], a, b))
    merges.sort()
    return [(a, b) for *_, a, b in merges]


def producing_pair(token: bytes, ranks: Mapping[bytes, int]) -> tuple[bytes, bytes]:
    """A pair of earlier tokens that concatenate to ``token`` (the one whose later half is oldest), for display."""
    rank = ranks[token]
    splits = [
        (max(ranks[token[:i]], ranks[token[i:]]), token[:i], token[i:])
        for i in range(1, len(token))
        if ranks.get(token[:i], rank) < rank and ranks.get(token[i:], rank) < rank
    ]
    if not splits:
        raise ToksmithError(f"token {token!r} (id {rank}) is not the merge of two earlier tokens")
    _, a, b = min(splits)
    return a, b


def build_hf_tokenizer(pattern: str | None, special_tokens: Sequence[str], ranks: Mapping[bytes, int]):
    """The ``tokenizers.Tokenizer`` equivalent of (pattern, specials, ranks)."""
    from tokenizers import AddedToken, Tokenizer, decoders
    from tokenizers.models import BPE

    from .pretokenize import hf_pre_tokenizer

    vocab = {s: i for i, s in enumerate(special_tokens)}
    for token, rank in ranks.items():
        spelling = bytelevel_encode(token)
        if spelling in vocab:
            raise ToksmithError(
                f"special token {spelling!r} is also a learned token; rename the special token "
                "(e.g. wrap it in <|...|>) or use a split preset"
            )
        vocab[spelling] = rank
    merges = [(bytelevel_encode(a), bytelevel_encode(b)) for a, b in hf_merges(ranks)]
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, ignore_merges=True, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = hf_pre_tokenizer(pattern)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in special_tokens])
    for i, s in enumerate(special_tokens):
        if tok.token_to_id(s) != i:
            raise ToksmithError(f"special token {s!r} did not land at id {i} in tokenizer.json")
    return tok


def _transformers_configs(special_tokens: Sequence[str], model_max_length: int) -> tuple[dict, dict]:
    roles = dict(zip(("bos_token", "eos_token", "pad_token"), special_tokens))
    special_map = {**roles, "additional_special_tokens": list(special_tokens[len(roles) :])}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special_map,
        "model_max_length": model_max_length,
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "add_eos_token": False,
    }
    return config, special_map


def escape_bytes(data: bytes) -> str:
    """Readable, unambiguous bytes: UTF-8 text kept, control/format characters and invalid bytes escaped.

    >>> escape_bytes(b"\\tx\\xff]")
    '\\\\tx\\\\xff\\\\]'
    """
    out = []
    for ch in data.decode("utf-8", errors="surrogateescape"):
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:  # an invalid byte, smuggled by surrogateescape
            out.append(f"\\x{cp - 0xDC00:02x}")
        elif ch in "\\[]":
            out.append("\\" + ch)
        elif ch in "\t\n\r":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch])
        elif unicodedata.category(ch)[0] in "CZ" and ch != " ":
            out.append(f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}")
        else:
            out.append(ch)
    return "".join(out)


def vocab_text(special_tokens: Sequence[str], ranks: Mapping[bytes, int]) -> str:
    """minbpe-style listing: specials, then bytes ``[t] id``, then merges ``[a][b] -> [t] id``."""
    lines = [f"# {FORMAT}: {len(special_tokens) + len(ranks)} tokens; bytes escaped, for human inspection only"]
    lines += [f"special [{s}] {i}" for i, s in enumerate(special_tokens)]
    for token, rank in sorted(ranks.items(), key=lambda x: x[1]):
        if len(token) == 1:
            lines.append(f"[{escape_bytes(token)}] {rank}")
        else:
            a, b = producing_pair(token, ranks)
            lines.append(f"[{escape_bytes(a)}][{escape_bytes(b)}] -> [{escape_bytes(token)}] {rank}")
    return "\n".join(lines) + "\n"


def library_versions(backend: str | None = None) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = ["toksmith", "tokenizers", "tiktoken", "regex"]
    if backend in ("rustbpe", "bpeasy"):
        names.append(backend)
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = "not installed"
    return out


def write_tokenizer_dir(
    out_dir: str | Path,
    *,
    name: str,
    preset: str,
    pattern: str | None,
    special_tokens: Sequence[str],
    merged: Sequence[bytes],
    manifest: Mapping[str, Any] | None = None,
    extra_files: Mapping[str, str] | None = None,
    model_max_length: int = 8192,
) -> Path:
    """Write every file of a tokenizer directory atomically and return its path.

    ``manifest`` adds entries (config, corpus stats, backend, timings...) to ``toksmith.json``; its
    ``timings`` get ``write_s``. ``extra_files`` (name -> text) are written too and hashed in the manifest.
    """
    start = time.perf_counter()
    ranks = build_ranks(special_tokens, merged)
    vocab_size = len(special_tokens) + len(ranks)
    hf = build_hf_tokenizer(pattern, special_tokens, ranks)
    tok_config, special_map = _transformers_configs(special_tokens, model_max_length)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        atomic_write_bytes(tmp / TIKTOKEN_FILE, write_tiktoken_ranks(ranks))
        atomic_write_text(tmp / HF_FILE, hf.to_str(pretty=True))
        atomic_write_json(tmp / "tokenizer_config.json", tok_config)
        atomic_write_json(tmp / "special_tokens_map.json", special_map)
        atomic_write_text(tmp / VOCAB_FILE, vocab_text(special_tokens, ranks))
        for fname, text in (extra_files or {}).items():
            atomic_write_text(tmp / fname, text)
        longest = max(ranks, key=len)
        extra = dict(manifest or {})
        timings = {**extra.pop("timings", {}), "write_s": round(time.perf_counter() - start, 3)}
        data = {
            "format": FORMAT,
            "name": name,
            "preset": preset,
            "pattern": pattern,
            "special_tokens": {s: i for i, s in enumerate(special_tokens)},
            "vocab_size": vocab_size,
            "n_merges": len(merged),
            "longest_token_bytes": len(longest),
            **extra,
            "timings": timings,
            "files": file_hashes(tmp),
        }
        atomic_write_json(tmp / MANIFEST_FILE, data)
    log.info("wrote tokenizer %s (%d tokens) to %s in %.2f s", name, vocab_size, out_dir, time.perf_counter() - start)
    return out_dir


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The ``toksmith.json`` of a tokenizer directory, checked for format."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise ToksmithError(f"{directory} is not a toksmith tokenizer directory (no {MANIFEST_FILE})")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ToksmithError(f"{path} has format {data.get('format')!r}, expected {FORMAT!r}")
    return data


def tokenizer_info(spec, top: int = 10) -> dict[str, Any]:
    """A summary of any tokenizer ``load_tokenizer`` accepts: size, specials, pattern, longest tokens, manifest.

    Token lengths are in bytes (``token_bytes``), never in the file's spelling.
    """
    from .references import load_tokenizer

    tok = load_tokenizer(spec)
    specials = tok.special_tokens
    special_ids = set(specials.values())
    lengths = sorted(
        ((len(tok.token_bytes(i)), i) for i in range(tok.vocab_size) if i not in special_ids), reverse=True
    )
    info: dict[str, Any] = {
        "name": tok.name,
        "class": type(tok).__name__,
        "vocab_size": tok.vocab_size,
        "special_tokens": specials,
        "pattern": getattr(tok, "pattern", None),
        "longest_tokens": [
            {"id": i, "bytes": n, "token": escape_bytes(tok.token_bytes(i))} for n, i in lengths[:top]
        ],
    }
    path = Path(str(spec))
    if path.is_dir() and (path / MANIFEST_FILE).is_file():
        m = read_manifest(path)
        info["pattern"] = m.get("pattern")
        info["manifest"] = {k: m[k] for k in ("format", "preset", "backend", "n_merges", "timings", "versions") if k in m}
        config = dict(m.get("config", {}))
        corpus = config.pop("corpus", None)
        if corpus:  # the sources list is long; the mix and budget say what matters
            config["corpus"] = {k: corpus[k] for k in ("mix", "total_chars", "seed") if k in corpus}
            config["corpus"]["sources"] = len(corpus.get("sources", []))
        info["manifest"]["config"] = config
        stream = m.get("corpus", {}).get("stream")
        if stream:
            info["manifest"]["corpus"] = stream
    return info
