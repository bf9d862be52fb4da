"""Tokenizer extension (the paper's "Merged"): keep every old token and id, learn more BPE merges on domain data.

Dagan et al. (ICML 2024, Table 4) extend the Llama 32k tokenizer to 80k with code tokens so the first 32k
embedding rows are reused as they are. For an old Hugging Face BPE ``tokenizer.json`` (byte-level like GPT-2 /
SmolLM2 / StarCoder, or SentencePiece-style with ``▁`` and byte fallback) :func:`learn_merges` continues BPE where
the old merges stop: domain texts are normalised and pre-tokenized with the old tokenizer's own components, each
pre-token is encoded with the old model, and the most frequent adjacent pair of the resulting symbol sequences is
merged, repeatedly (ties: the smallest pair by bytes, the rule of :mod:`toksmith.bpe.reference`). :func:`extend_tokenizer` appends the new tokens after the highest
old id and the new merges after the old ones (lowest priority), so every old id is unchanged and any text where
no new merge applies encodes exactly as before. :func:`toksmith.transfer.surgery.transfer` gives the new rows
FVT and copies the old ones (it reads ``extension.json``).

Limits: SentencePiece ``.model`` files are not supported (its unigram/BPE protobuf has no merge list to append
to): convert it to a ``tokenizer.json`` first (``transformers``' ``LlamaTokenizerFast`` does). Byte-fallback tokens
(``<0xXX>``) and added tokens never merge. Pair counting is incremental, pure Python: fine for thousands of merges
over a few MB of domain text.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from ..artifacts import atomic_dir, atomic_write_json, atomic_write_text, sha256_file
from ..bpe.reference import merge_word
from ..config import to_dict
from ..errors import ToksmithError, check_fields
from ..tokenizer import HF_FILE, is_bytelevel, piece_bytes

log = logging.getLogger(__name__)

EXTENSION_FILE = "extension.json"


@dataclasses.dataclass(frozen=True)
class ExtendConfig:
    """Extend ``tokenizer`` (a tokenizer.json or a directory with one, e.g. a model dir) by ``n_new`` tokens."""

    tokenizer: Path
    out_dir: Path
    n_new: int = 1000
    min_frequency: int = 2  # a pair seen once is noise
    max_token_length: int = 64  # bytes; longer tokens are mostly duplicated boilerplate
    data: str = "default"  # domain texts: "default" = code of toksmith's default corpus, or a file / directory
    data_chars: int = 5_000_000  # budget of domain text read from `data`
    overwrite: bool = False

    def __post_init__(self):
        check_fields(self, n_new=1, min_frequency=1, data_chars=1, max_token_length=2)


def _tokenizer_json(path: Path) -> tuple[Path, dict]:
    path = Path(path)
    file = path / HF_FILE if path.is_dir() else path
    if file.suffix == ".model" or (path.is_dir() and (path / "tokenizer.model").is_file() and not file.is_file()):
        raise ToksmithError(
            f"{path}: extension needs a Hugging Face BPE tokenizer.json; SentencePiece .model files have no merge "
            "list to extend. Convert it first (transformers.LlamaTokenizerFast.from_pretrained(dir).save_pretrained)"
        )
    if not file.is_file():
        raise ToksmithError(f"{path} holds no {HF_FILE} to extend")
    data = json.loads(file.read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise ToksmithError(f"{file}: extension supports BPE models only, this one is {model.get('type')!r}")
    return file, data


def symbol_sequences(data: dict, texts: Iterable[str]) -> Counter:
    """Pre-token (as a tuple of old token strings) -> count, using the old tokenizer's normaliser, pre-tokenizer
    and BPE model."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(json.dumps(data))
    pieces: Counter = Counter()
    for text in texts:
        norm = tok.normalizer.normalize_str(text) if tok.normalizer is not None else text
        if tok.pre_tokenizer is not None:
            pieces.update(p for p, _ in tok.pre_tokenizer.pre_tokenize_str(norm))
        else:
            pieces[norm] += 1
    out: Counter = Counter()
    for piece, c in pieces.items():
        out[tuple(t.value for t in tok.model.tokenize(piece))] += c
    return out


Pair = tuple[str, str]


class PairIndex:
    """Adjacent-pair counts over weighted symbol sequences, updated incrementally, best pair first.

    The one BPE training loop outside :mod:`toksmith.bpe` (which merges from single bytes): here the symbols are
    an old tokenizer's token strings. The choice is the same as :func:`toksmith.bpe.reference.train_steps`: the
    highest count, ties to the smallest ``(left bytes, right bytes)`` (then the spellings), so both learn the
    same merges from the same bytes (a test checks it). A heap with lazy deletion replaces the reference's scan of
    all pairs, so thousands of merges stay cheap.
    """

    def __init__(self, seqs: Counter, allowed, key):
        self.words = [list(w) for w in seqs]
        self.freqs = list(seqs.values())
        self.allowed = allowed  # (a, b) -> may this pair be merged
        self.key = key  # pair -> its tie-break key
        self.counts: Counter = Counter()
        self.where: defaultdict = defaultdict(set)  # pair -> indices of the words holding it
        for i in range(len(self.words)):
            self._add(i, +1)
        self.heap = [(-c, key(p), p) for p, c in self.counts.items()]
        heapq.heapify(self.heap)

    def _pairs(self, w):
        return [(a, b) for a, b in zip(w, w[1:]) if self.allowed(a, b)]

    def _add(self, i: int, sign: int) -> list[Pair]:
        pairs = self._pairs(self.words[i])
        for p in pairs:
            self.counts[p] += sign * self.freqs[i]
            if sign > 0:
                self.where[p].add(i)
        return pairs

    def best(self) -> tuple[Pair, int] | None:
        """The pair to merge next and its count (None when no pair is left); stale heap entries are dropped."""
        while self.heap:
            negc, _, pair = self.heap[0]
            if self.counts.get(pair, 0) == -negc and -negc > 0:
                return pair, -negc
            heapq.heappop(self.heap)
        return None

    def merge(self, pair: Pair) -> None:
        """Replace every occurrence of ``pair`` by one symbol and update the counts of the pairs around it."""
        touched: set[Pair] = set()
        for i in self.where.pop(pair, ()):
            touched.update(self._add(i, -1))
            self.words[i] = merge_word(self.words[i], pair)
            touched.update(self._add(i, +1))
        self.counts.pop(pair, None)
        touched.discard(pair)
        for p in touched:
            if self.counts[p] > 0:
                heapq.heappush(self.heap, (-self.counts[p], self.key(p), p))
            else:
                self.counts.pop(p, None)


def learn_merges(data: dict, texts: Iterable[str], n_new: int, min_frequency: int = 2,
                 max_token_length: int = 64) -> list[tuple[str, str]]:
    """Up to ``n_new`` merges ``(left, right)`` (token strings) whose results are not old tokens, in merge order.

    Steps: encode the domain texts with the old tokenizer (:func:`symbol_sequences`), count adjacent pairs
    (:class:`PairIndex`), then repeatedly merge the most frequent pair (count >= ``min_frequency``, result at most
    ``max_token_length`` bytes, no byte-fallback or added token; ties to the smallest pair by bytes) until
    ``n_new`` merges made a token the old vocabulary lacks.
    """
    bytelevel = is_bytelevel(data)
    frozen = {t["content"] for t in data.get("added_tokens", [])}
    size_cache: dict[str, bytes] = {}

    def raw(s: str) -> bytes:
        if s not in size_cache:
            size_cache[s] = piece_bytes(s, bytelevel, s in frozen)
        return size_cache[s]

    def mergeable(s: str) -> bool:
        return s not in frozen and not (len(s) == 6 and s.startswith("<0x") and s.endswith(">"))

    def allowed(a: str, b: str) -> bool:
        return mergeable(a) and mergeable(b) and len(raw(a)) + len(raw(b)) <= max_token_length

    index = PairIndex(symbol_sequences(data, texts), allowed, key=lambda p: (raw(p[0]), raw(p[1]), p))
    vocab = set(data["model"]["vocab"])
    merges: list[tuple[str, str]] = []
    while len(vocab) - len(data["model"]["vocab"]) < n_new:
        found = index.best()
        if found is None or found[1] < min_frequency:
            break
        pair = found[0]
        index.merge(pair)
        merges.append(pair)
        vocab.add(pair[0] + pair[1])
    return merges


def domain_texts(spec: str, max_chars: int) -> Iterable[str]:
    """``max_chars`` characters of domain text: the default corpus's code, or a file / directory of texts."""
    if spec == "default":
        from ..corpus import default_corpus_config, iter_training_texts

        source: Iterable[str] = iter_training_texts(default_corpus_config(total_chars=max_chars, mix={"code": 1.0}))
    else:
        from .data import read_texts

        source = read_texts(spec)
    total = 0
    for t in source:
        if total >= max_chars:
            return
        yield t[: max_chars - total]
        total += len(t)


def extend_tokenizer(cfg: ExtendConfig, texts: Iterable[str] | None = None) -> Path:
    """Write ``cfg.out_dir`` = the old tokenizer plus learned merges (tokenizer.json, tokenizer_config.json if the
    old one has it, ``extension.json``). ``texts`` overrides ``cfg.data``. Returns the directory."""
    out = Path(cfg.out_dir)
    if out.exists() and not cfg.overwrite:
        raise ToksmithError(f"output directory {out} exists; pass overwrite=True (--overwrite) or choose another one")
    file, data = _tokenizer_json(Path(cfg.tokenizer))
    if texts is None:
        texts = domain_texts(cfg.data, cfg.data_chars)
    merges = learn_merges(data, texts, cfg.n_new, cfg.min_frequency, cfg.max_token_length)
    model = data["model"]
    vocab: dict[str, int] = model["vocab"]
    ids = list(vocab.values()) + [t["id"] for t in data.get("added_tokens", [])]
    old_size = max(ids) + 1
    next_id = old_size
    string_merges = bool(model["merges"]) and isinstance(model["merges"][0], str)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = next_id
            next_id += 1
        model["merges"].append(f"{a} {b}" if string_merges else [a, b])
    if next_id == old_size:
        raise ToksmithError(f"no new merge reached min_frequency={cfg.min_frequency} on the domain texts; give more text")
    log.info("extended %s from %d to %d tokens (%d merges)", file, old_size, next_id, len(merges))
    with atomic_dir(out, overwrite=cfg.overwrite) as d:
        atomic_write_text(d / HF_FILE, json.dumps(data, ensure_ascii=False))
        for name in ("tokenizer_config.json", "chat_template.jinja", "chat_template.json"):  # the chat template too
            if (file.parent / name).is_file():
                atomic_write_text(d / name, (file.parent / name).read_text(encoding="utf-8"))
        atomic_write_json(d / EXTENSION_FILE, {
            "kind": "toksmith-extension",
            "old_tokenizer": str(file),
            "old_tokenizer_sha256": sha256_file(file),
            "old_vocab_size": old_size,
            "new_vocab_size": next_id,
            "n_merges": len(merges),
            "config": to_dict(cfg),
        })
    return out


def extension_prefix(new_dir: Path, old_model_dir: Path) -> int:
    """Old vocabulary size if ``new_dir`` extends the tokenizer of ``old_model_dir`` (same sha256), else 0."""
    meta = Path(new_dir) / EXTENSION_FILE
    old_file = Path(old_model_dir) / HF_FILE
    if not meta.is_file() or not old_file.is_file():
        return 0
    info = json.loads(meta.read_text(encoding="utf-8"))
    if info.get("old_tokenizer_sha256") != sha256_file(old_file):
        log.warning("%s extends another tokenizer than %s's; transferring it as a new tokenizer", new_dir, old_model_dir)
        return 0
    return int(info["old_vocab_size"])
