"""Fast Vocabulary Transfer: map each new token to old tokens by bytes, then build its embedding row.

Reference: Gee, Zugarini, Rigutini & Torroni, "Fast Vocabulary Transfer for Language Model Compression" (EMNLP
industry 2022), used by Dagan et al. (ICML 2024, section 3.3.1) to switch a code LLM's tokenizer. Two pure steps:

1. :func:`token_map` ``(old_tok, new_tok) -> {new_id: [old_id, ...]}``. A new token whose bytes are an old token's
   bytes maps to that one id (its row is copied); any other token's bytes are encoded with the old tokenizer and map
   to the resulting ids. Everything goes through ``Tokenizer.token_bytes`` so byte-level (``Ġ``) and SentencePiece
   (``▁``, ``<0xXX>``) vocabularies are compared as raw bytes, never as spellings. Bytes that are not valid UTF-8
   (a piece of a multi-byte character) map to the old tokenizer's single-byte tokens. Special tokens are mapped by
   role (:data:`ROLE_NAMES`): new BOS -> old BOS etc., else by their text.
2. :func:`init_rows` ``(E_old, mapping, method)`` builds the new matrix: ``fvt`` = mean of the mapped old rows,
   ``mean`` = mean of all old rows plus small noise, ``random`` = N(0, std) like a fresh Llama init.

Limits: SentencePiece encoders add a dummy-prefix space; when the encoding of ``text`` comes back as
``b" " + text``, :func:`encode_bytes` encodes it after a sentinel character and cuts at the sentinel's boundary
(else a greedy longest match over the old vocabulary). Normalisers that change text (NFKC) make the old encoding approximate;
those tokens are counted in :class:`MapStats` ``approximate``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

from ..errors import ToksmithError
from ..tokenizer import Tokenizer

log = logging.getLogger(__name__)

ROW_METHODS = ("fvt", "mean", "random")  # what init_rows builds; every method: toksmith.transfer.methods.METHODS

# Spellings of special tokens by role, across common tokenizers (Llama 3, Llama 2, GPT-2, StarCoder, CodeLlama,
# DeepSeek-Coder, Qwen2). The toksmith defaults come first.
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "bos": ("<|begin_of_text|>", "<s>", "<|startoftext|>", "<bos>", "<｜begin▁of▁sentence｜>"),
    "eos": ("<|end_of_text|>", "</s>", "<|endoftext|>", "<eos>", "<｜end▁of▁sentence｜>"),
    "pad": ("<pad>", "<|pad|>", "[PAD]", "<|finetune_right_pad_id|>"),
    "fim_prefix": ("<|fim_prefix|>", "<fim_prefix>", "<PRE>", "▁<PRE>", "<｜fim▁begin｜>"),
    "fim_middle": ("<|fim_middle|>", "<fim_middle>", "<MID>", "▁<MID>", "<｜fim▁end｜>"),
    "fim_suffix": ("<|fim_suffix|>", "<fim_suffix>", "<SUF>", "▁<SUF>", "<｜fim▁hole｜>"),
}


def roles_by_name(special_tokens: Mapping[str, int]) -> dict[str, int]:
    """Role -> id for the special tokens whose spelling is a known one for that role (first match wins)."""
    out: dict[str, int] = {}
    for role, names in ROLE_NAMES.items():
        for name in names:
            if name in special_tokens:
                out[role] = special_tokens[name]
                break
    return out


@dataclasses.dataclass
class MapStats:
    """How a new vocabulary relates to an old one (reported in the transfer manifest)."""

    new_vocab: int = 0
    old_vocab: int = 0
    exact: int = 0  # tokens with the same bytes in both: rows copied
    composed: int = 0  # tokens built from >= 2 old tokens: mean of their rows
    special_by_role: int = 0
    special_by_text: int = 0
    approximate: int = 0  # old encoding did not reproduce the bytes (normaliser, unknown bytes)
    empty: int = 0  # nothing to map to (no old ids): gets the mean of all rows
    mean_pieces: float = 0.0  # mean number of old tokens per non-exact regular token

    @property
    def overlap(self) -> float:
        """Share of the new vocabulary whose bytes exist in the old one."""
        return self.exact / self.new_vocab if self.new_vocab else 0.0

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "overlap": round(self.overlap, 6)}


def old_byte_index(old_tok: Tokenizer) -> dict[bytes, int]:
    """Bytes -> lowest old id with those bytes, over ordinary (non-special) tokens."""
    special = set(old_tok.special_tokens.values())
    index: dict[bytes, int] = {}
    for i in range(old_tok.vocab_size):
        if i in special:
            continue
        b = _token_bytes(old_tok, i)
        if b and b not in index:
            index[b] = i
    return index


def _token_bytes(tok: Tokenizer, i: int) -> bytes:
    """Bytes of id ``i``, or ``b""`` for an unused id (cl100k has no id 100256: its special tokens start after a
    gap)."""
    try:
        return tok.token_bytes(i)
    except KeyError:
        return b""


def encode_bytes(old_tok: Tokenizer, data: bytes, index: Mapping[bytes, int]) -> tuple[list[int], bool]:
    """Old ids whose bytes concatenate to ``data``; returns ``(ids, exact)``.

    Valid UTF-8 runs go through ``old_tok.encode``; bytes that do not decode alone go to single-byte tokens.
    A SentencePiece dummy-prefix space is removed. ``exact`` is False when the bytes could not be reproduced.
    """
    ids: list[int] = []
    exact = True
    pos = 0
    while pos < len(data):
        # longest valid UTF-8 run starting at pos
        end = pos
        chunk = data[pos:]
        try:
            chunk.decode("utf-8")
            end = len(data)
        except UnicodeDecodeError as e:
            end = pos + e.start
        if end > pos:
            part_ids, part_exact = _encode_text(old_tok, data[pos:end], index)
            ids += part_ids
            exact &= part_exact
            pos = end
        else:
            b = data[pos : pos + 1]
            if b in index:
                ids.append(index[b])
            else:
                exact = False
            pos += 1
    return ids, exact


def _encode_text(old_tok: Tokenizer, data: bytes, index: Mapping[bytes, int]) -> tuple[list[int], bool]:
    text = data.decode("utf-8")
    ids = list(old_tok.encode(text))
    got = old_tok.decode_bytes(ids)
    if got == data:
        return ids, True
    if got == b" " + data:  # a SentencePiece dummy prefix: encode after a sentinel and cut at its boundary
        for sentinel in ("\n", "\x00", "."):
            ids = list(old_tok.encode(sentinel + text))
            for k in range(1, min(4, len(ids))):
                if old_tok.decode_bytes(ids[k:]) == data and old_tok.decode_bytes(ids[:k]).strip() == sentinel.encode():
                    return ids[k:], True
        return _greedy(data, index)
    return ids, False


def _greedy(data: bytes, index: Mapping[bytes, int], max_len: int = 64) -> tuple[list[int], bool]:
    """Longest-prefix match over the old vocabulary's bytes (exact whenever every single byte is a token)."""
    ids, pos, exact = [], 0, True
    while pos < len(data):
        for n in range(min(max_len, len(data) - pos), 0, -1):
            if data[pos : pos + n] in index:
                ids.append(index[data[pos : pos + n]])
                pos += n
                break
        else:
            exact = False
            pos += 1
    return ids, exact


def token_map(
    old_tok: Tokenizer,
    new_tok: Tokenizer,
    old_roles: Mapping[str, int] | None = None,
    new_roles: Mapping[str, int] | None = None,
    identity_prefix: int = 0,
) -> tuple[dict[int, list[int]], MapStats]:
    """Map every new token id to the old ids whose rows initialise it (FVT, by bytes).

    ``old_roles`` / ``new_roles``: role -> id (``bos``, ``eos``, ``pad``, ``fim_*``); defaults from the
    tokenizers' special-token spellings (:func:`roles_by_name`). A new special token goes, in order, to the old
    special token with the same text, to the old token of the same role, else to the FVT of its text.
    ``identity_prefix``: ids below it map to themselves (extension keeps old ids and rows).

    Example: a new token ``b"hello"`` absent from the old vocabulary, which the old tokenizer encodes as
    ``[b"hel", b"lo"]`` = ids ``[7, 9]``, gets ``mapping[new_id] == [7, 9]``; :func:`init_rows` then gives
    ``(E[7] + E[9]) / 2``. Steps per new id: the identity prefix, :func:`map_special`, :func:`map_bytes`.
    """
    old_roles = dict(roles_by_name(old_tok.special_tokens) if old_roles is None else old_roles)
    new_roles = dict(roles_by_name(new_tok.special_tokens) if new_roles is None else new_roles)
    index = old_byte_index(old_tok)
    new_special = {i: s for s, i in new_tok.special_tokens.items()}
    role_of = {i: r for r, i in new_roles.items()}
    stats = MapStats(new_vocab=new_tok.vocab_size, old_vocab=old_tok.vocab_size)
    mapping: dict[int, list[int]] = {}
    pieces = 0
    for i in range(new_tok.vocab_size):
        if i < identity_prefix:
            mapping[i], how = [i], "exact"
        elif i in new_special or i in role_of:
            text = new_special.get(i) or _token_bytes(new_tok, i).decode("utf-8", "replace")
            mapping[i], how = map_special(old_tok, text, role_of.get(i), old_roles, index)
        else:
            mapping[i], how = map_bytes(old_tok, _token_bytes(new_tok, i), index)
        _count(stats, how, mapping[i])
        pieces += len(mapping[i]) if how in ("composed", "approximate") else 0
    stats.mean_pieces = pieces / stats.composed if stats.composed else 0.0
    return mapping, stats


def map_special(old_tok: Tokenizer, text: str, role: str | None, old_roles: Mapping[str, int],
                index: Mapping[bytes, int]) -> tuple[list[int], str]:
    """A new special token -> old ids: the old special token with the same text, else the old token of the same
    role, else the FVT of its text. Returns ``(ids, "special_by_text" | "special_by_role")``."""
    if text in old_tok.special_tokens:
        return [old_tok.special_tokens[text]], "special_by_text"
    if role is not None and old_roles.get(role) is not None:
        return [old_roles[role]], "special_by_role"
    return encode_bytes(old_tok, text.encode("utf-8"), index)[0], "special_by_text"


def map_bytes(old_tok: Tokenizer, data: bytes, index: Mapping[bytes, int]) -> tuple[list[int], str]:
    """An ordinary new token's bytes -> old ids: the old token with the same bytes (``exact``), else the old
    encoding of the bytes (``composed``; ``approximate`` when it does not reproduce them; ``empty`` when nothing
    maps)."""
    if data in index:
        return [index[data]], "exact"
    ids, exact = encode_bytes(old_tok, data, index) if data else ([], False)
    if not ids:
        return ids, "empty"
    return ids, "composed" if exact else "approximate"


def _count(stats: MapStats, how: str, ids: list[int]) -> None:
    """Tally one mapped token: ``approximate`` tokens are also ``composed``; empty non-exact ones are also
    ``approximate`` (the bytes were not reproduced)."""
    if how == "approximate":
        stats.composed += 1
    if how == "empty":
        stats.approximate += 1
    setattr(stats, how, getattr(stats, how) + 1)


def init_rows(E_old, mapping: Mapping[int, Sequence[int]], method: str = "fvt", num_rows: int | None = None,
              std: float = 0.02, noise: float = 0.01, seed: int = 0):
    """The new embedding (or output-head) matrix, shape ``[num_rows, d]``, from old rows ``E_old [V_old, d]``.

    * ``fvt``: ``E_new[t] = (1/k) * sum_i E_old[m_i]`` for ``mapping[t] = [m_1..m_k]``; ``k = 1`` copies the row.
      Example: ``E_old = [[0,0],[2,4],[4,8]]``, ``mapping = {0: [2], 1: [1, 2]}`` -> ``[[4,8],[3,6]]``.
    * ``mean``: every row ``= mean_v E_old[v] + N(0, (noise * std(E_old))^2)``.
    * ``random``: every row ``~ N(0, std^2)`` (Llama's embedding init with ``std = initializer_range``).

    Rows not in ``mapping`` (vocabulary padding) and tokens with an empty mapping get the mean of all old rows.
    Computed in float32, returned in ``E_old``'s dtype.
    """
    import torch

    if method not in ROW_METHODS:
        from ..errors import unknown_name

        raise unknown_name("initialisation method", method, ROW_METHODS)
    E = E_old.detach().float()
    num_rows = num_rows if num_rows is not None else (max(mapping) + 1 if mapping else 0)
    if mapping and max(mapping) >= num_rows:
        raise ToksmithError(f"mapping has id {max(mapping)} but only {num_rows} rows were asked for")
    gen = torch.Generator().manual_seed(seed)
    mean = E.mean(dim=0)
    if method == "random":
        out = torch.randn(num_rows, E.shape[1], generator=gen) * std
    elif method == "mean":
        out = mean.expand(num_rows, -1) + torch.randn(num_rows, E.shape[1], generator=gen) * (noise * E.std().item())
    else:
        out = mean.expand(num_rows, -1).clone()
        single = {t: ids[0] for t, ids in mapping.items() if len(ids) == 1}
        if single:
            rows = torch.tensor(list(single), dtype=torch.long)
            out[rows] = E[torch.tensor(list(single.values()), dtype=torch.long)]
        multi = [(t, ids) for t, ids in mapping.items() if len(ids) > 1]
        if multi:
            flat = torch.tensor([i for _, ids in multi for i in ids], dtype=torch.long)
            seg = torch.tensor([k for k, (_, ids) in enumerate(multi) for _ in ids], dtype=torch.long)
            sums = torch.zeros(len(multi), E.shape[1]).index_add_(0, seg, E[flat])
            counts = torch.tensor([len(ids) for _, ids in multi], dtype=torch.float32).unsqueeze(1)
            out[torch.tensor([t for t, _ in multi], dtype=torch.long)] = sums / counts
    return out.to(E_old.dtype)


def check_roles(needed: Sequence[str], new_roles: Mapping[str, int], new_name: str) -> None:
    """Raise if the new tokenizer lacks a special-token role the model uses (e.g. EOS for generation)."""
    missing = [r for r in needed if new_roles.get(r) is None]
    if missing:
        spell = "; ".join(f"{r}: one of {', '.join(ROLE_NAMES[r][:3])}" for r in missing)
        raise ToksmithError(
            f"tokenizer {new_name!r} has no special token for role(s) {', '.join(missing)} that the model uses; "
            f"train it with those special tokens ({spell}) or name them in its tokenizer_config.json"
        )
