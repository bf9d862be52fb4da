"""Initialisation methods for a tokenizer switch: the registry :data:`METHODS` (``toksmith transfer --method``).

Every method is a function ``InitContext -> Rows``: given the old input rows ``E_in [V_old, d]``, the old output
head ``E_out`` (``None`` when the model stays tied), the FVT map ``{new_id: [old_id, ...]}``
(:func:`toksmith.transfer.fvt.token_map`: a new token's bytes encoded with the old tokenizer; special tokens
mapped by role) it returns the new input rows and, for an untied head, the new head rows. Methods that read the
old model's behaviour get it from :meth:`InitContext.stats` (:class:`ModelStats`: the model run once over a
calibration text the evaluation never sees). Each method's docstring gives its idea and its source.

Rows of tokens with an empty mapping and vocabulary-padding rows get the mean of the old rows, as in
:func:`~toksmith.transfer.fvt.init_rows`. Methods whose name ends in ``-logprob`` build a separate output head
and refuse a tied model unless untying was asked for (``--untie``): a tied model stays tied otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from ..errors import ToksmithError
from .fvt import init_rows

log = logging.getLogger(__name__)


class Rows(NamedTuple):
    emb: object  # torch.Tensor [num_rows, d]: the new input embedding
    head: object | None  # torch.Tensor [num_rows, d] for an untied head; None = tied to ``emb``


@dataclasses.dataclass
class ModelStats:
    """What the old model does on calibration text (old tokenization), collected once by :func:`model_stats`.

    ``counts[v]``: occurrences of old token ``v``; ``H [N, d]``: the head's input (final hidden state) at each
    position; ``pair_logp[(a, b)]``: mean model log-probability of ``b`` at positions whose previous token is
    ``a``; ``next_logp[b]``: mean log-probability of ``b`` wherever it is the next token; ``mean_logp`` over all.
    """

    counts: object
    H: object
    pair_logp: dict[tuple[int, int], float]
    next_logp: dict[int, float]
    mean_logp: float
    tokens: int


@dataclasses.dataclass
class InitContext:
    """Everything a method may use. ``stats_fn`` (lazy) runs the old model on calibration text."""

    E_in: object
    E_out: object | None
    mapping: Mapping[int, Sequence[int]]
    num_rows: int
    std: float = 0.02
    noise: float = 0.01
    seed: int = 0
    stats_fn: Callable[[], ModelStats] | None = None
    counts_fn: Callable[[], object] | None = None  # old-token counts alone (no model run): what ``freq`` needs
    new_texts_fn: Callable[[], list[list[int]]] | None = None  # calibration text in the NEW tokenization
    _stats: ModelStats | None = None

    def stats(self, method: str) -> ModelStats:
        if self._stats is None:
            if self.stats_fn is None:
                raise ToksmithError(f"initialisation method {method!r} needs the old model and calibration text")
            self._stats = self.stats_fn()
        return self._stats

    def counts(self, method: str):
        """``ModelStats.counts`` without running the model when only the counts are needed."""
        if self._stats is None and self.counts_fn is not None:
            return self.counts_fn()
        return self.stats(method).counts

    def require_head(self, method: str):
        if self.E_out is None:
            raise ToksmithError(
                f"initialisation method {method!r} builds a separate output head but the model is tied; "
                "pass --untie (TransferConfig.untie=True) or choose a method without '-logprob'"
            )
        return self.E_out


InitMethod = Callable[[InitContext], Rows]


def calibration_ids(model, old_tok, texts: Sequence[str], max_tokens: int = 4096) -> list[int]:
    """The first ``max_tokens`` ids of ``[BOS] + old_tok.encode(t)`` over ``texts``: what the statistics see."""
    cfg = model.config
    bos = cfg.bos_token_id if cfg.bos_token_id is not None else cfg.eos_token_id
    ids: list[int] = []
    for t in texts:
        ids += [int(bos)] + list(old_tok.encode(t))
        if len(ids) >= max_tokens:
            break
    return ids[:max_tokens]


def token_counts(model, ids: Sequence[int]):
    """``counts[v]``: occurrences of old token ``v`` in ``ids`` (a float tensor over the model's rows)."""
    import torch

    return torch.bincount(torch.tensor(list(ids), dtype=torch.long),
                          minlength=model.get_input_embeddings().weight.shape[0]).float()


def model_stats(model, old_tok, texts: Sequence[str], max_tokens: int = 4096, seq_len: int = 512,
                max_positions: int = 8192, seed: int = 0) -> ModelStats:
    """Run ``model`` over ``texts`` (old tokenization, ``[BOS] + ids`` windows of ``seq_len``); see :class:`ModelStats`."""
    import torch

    ids = calibration_ids(model, old_tok, texts, max_tokens)
    counts = token_counts(model, ids)
    head = model.get_output_embeddings()
    captured: list = []
    hook = head.register_forward_hook(lambda m, inp, out: captured.append(inp[0].detach()))
    pair_sum: dict[tuple[int, int], float] = defaultdict(float)
    pair_n: dict[tuple[int, int], int] = defaultdict(int)
    next_sum: dict[int, float] = defaultdict(float)
    next_n: dict[int, int] = defaultdict(int)
    Hs, total, n = [], 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(ids) - 1, seq_len):
                x = ids[s : s + seq_len + 1]
                if len(x) < 2:
                    break
                captured.clear()
                logits = model(input_ids=torch.tensor([x[:-1]])).logits[0].float()
                lp = torch.log_softmax(logits, -1).gather(1, torch.tensor(x[1:]).unsqueeze(1)).squeeze(1).tolist()
                Hs.append(captured[-1][0].float())
                for j, v in enumerate(lp):
                    a, b = x[j], x[j + 1]
                    pair_sum[(a, b)] += v
                    pair_n[(a, b)] += 1
                    next_sum[b] += v
                    next_n[b] += 1
                    total += v
                    n += 1
    finally:
        hook.remove()
        if was_training:
            model.train()
    H = torch.cat(Hs) if Hs else torch.zeros(0, model.get_input_embeddings().weight.shape[1])
    if H.shape[0] > max_positions:
        H = H[torch.randperm(H.shape[0], generator=torch.Generator().manual_seed(seed))[:max_positions]]
    return ModelStats(counts=counts, H=H, pair_logp={k: pair_sum[k] / pair_n[k] for k in pair_sum},
                      next_logp={k: next_sum[k] / next_n[k] for k in next_sum}, mean_logp=total / max(1, n), tokens=n)


def weighted_rows(E, mapping: Mapping[int, Sequence[int]], num_rows: int, weights: Callable[[Sequence[int]], Sequence[float]]):
    """``E_new[t] = sum_i w_i E[m_i] / sum_i w_i`` with ``w = weights(mapping[t])``; empty / unmapped rows: ``mean(E)``.

    Example: ``E = [[0,0],[2,4],[4,8]]``, ``mapping = {0: [1, 2]}``, ``weights = lambda ids: [1, 3]`` -> ``[[3.5, 7]]``.
    """
    import torch

    E = E.detach().float()
    out = E.mean(0).expand(num_rows, -1).clone()
    items = [(t, list(ids)) for t, ids in mapping.items() if ids]
    if not items:
        return out
    flat = torch.tensor([i for _, ids in items for i in ids], dtype=torch.long)
    seg = torch.tensor([k for k, (_, ids) in enumerate(items) for _ in ids], dtype=torch.long)
    w = torch.tensor([float(x) for _, ids in items for x in weights(ids)], dtype=torch.float32)
    sums = torch.zeros(len(items), E.shape[1]).index_add_(0, seg, E[flat] * w.unsqueeze(1))
    wsum = torch.zeros(len(items)).index_add_(0, seg, w).clamp_min(1e-12)
    out[torch.tensor([t for t, _ in items], dtype=torch.long)] = sums / wsum.unsqueeze(1)
    single = [(t, ids[0]) for t, ids in items if len(ids) == 1]
    if single:  # a token the old vocabulary has keeps its row bit for bit (w * E / w may round)
        out[torch.tensor([t for t, _ in single], dtype=torch.long)] = E[torch.tensor([i for _, i in single], dtype=torch.long)]
    return out


def _same(ctx: InitContext, fn) -> Rows:
    """Apply ``fn(E, is_head)`` to the input rows and, for an untied model, to the head rows."""
    emb = fn(ctx.E_in, False)
    head = fn(ctx.E_out, True) if ctx.E_out is not None else None
    return Rows(emb.to(ctx.E_in.dtype), None if head is None else head.to(ctx.E_out.dtype))


def fvt(ctx: InitContext) -> Rows:
    """Mean of the rows of the old tokens that spell the new token (Fast Vocabulary Transfer).

    Source: Gee et al., "Fast Vocabulary Transfer for Language Model Compression" (EMNLP 2022); Dagan et al. 2024
    section 3.3.1. Input and (untied) head rows alike.
    """
    return _same(ctx, lambda E, h: init_rows(E, ctx.mapping, "fvt", ctx.num_rows).float())


def mean(ctx: InitContext) -> Rows:
    """Every new row = mean of all old rows + small noise (the paper's "without FVT" baseline; Hewitt 2021)."""
    return _same(ctx, lambda E, h: init_rows(E, ctx.mapping, "mean", ctx.num_rows, noise=ctx.noise,
                                             seed=ctx.seed + h).float())


def random(ctx: InitContext) -> Rows:
    """Every new row ~ N(0, initializer_range^2): training the vocabulary from scratch (Llama's init)."""
    return _same(ctx, lambda E, h: init_rows(E, ctx.mapping, "random", ctx.num_rows, std=ctx.std,
                                             seed=ctx.seed + h).float())


def _freq_weights(ctx: InitContext, name: str):
    counts = ctx.counts(name)
    total = float(counts.sum()) + counts.numel()

    def w(ids):  # self-information -log p(piece) with add-one smoothing: rare pieces carry the meaning
        return [-math.log((float(counts[i]) + 1.0) / total) for i in ids]

    return w


def freq(ctx: InitContext) -> Rows:
    """Frequency-aware FVT: pieces weighted by their self-information ``-log p(piece)`` on calibration text.

    Idea: in a composed token like ``b"_fibonacci"`` = ``_fib`` + ``onacci``, frequent glue pieces (spaces,
    ``_``, ``(``) carry little of the token's meaning and dominate a plain mean; IDF-like weighting (as in
    TF-IDF-weighted subword averages, e.g. WECHSEL's and FOCUS's weighted combinations) shifts the row to the
    informative pieces. Frequencies: the old tokenizer on the calibration text (:func:`model_stats`).
    """
    w = _freq_weights(ctx, "freq")
    return _same(ctx, lambda E, h: weighted_rows(E, ctx.mapping, ctx.num_rows, w))


def _pos_weights(ids):
    return [float(k + 1) for k in range(len(ids))]


def pos(ctx: InitContext) -> Rows:
    """Position-weighted FVT: piece ``k`` of ``n`` gets weight ``k`` (later pieces count more).

    Idea: after reading all pieces of a word, a causal LM's state is driven most by the last piece (it must
    predict what follows the whole token); the new single input token should land where the last pieces would.
    Source: position-weighted subword averaging as ablated by Minixhofer et al. (ZeTT, 2024) and the "last
    subtoken" heuristic of Hewitt-style initialisations; here a linear ramp.
    """
    return _same(ctx, lambda E, h: weighted_rows(E, ctx.mapping, ctx.num_rows, _pos_weights))


def ones_direction(H, ridge: float = 1e-3):
    """``c = argmin_c ||H c - 1||^2 + ridge * n * ||c||^2``: a vector whose dot product with any head input is ~1.

    Adding ``delta * c`` to a head row shifts that token's logit by about ``delta`` at every position (the
    final RMSNorm keeps hidden states on a shell, so such a direction exists). Returns ``(c, rms residual)``.
    """
    import torch

    H = H.double()
    n, d = H.shape
    A = H.T @ H + ridge * n * torch.eye(d, dtype=torch.float64)
    c = torch.linalg.solve(A, H.T @ torch.ones(n, dtype=torch.float64))
    resid = float(((H @ c) - 1).pow(2).mean().sqrt())
    return c.float(), resid


def continuation_logp(stats: ModelStats, ids: Sequence[int]) -> float:
    """``sum_{j>=2} log p(m_j | m_{j-1})`` from the model's own mean predictions on calibration text.

    Pairs never seen fall back to the model's mean log-probability of ``m_j`` as a next token, then to its mean
    over all tokens. Example: pieces ``[a, b]`` with ``pair_logp[(a, b)] = -0.2`` -> ``-0.2``.
    """
    s = 0.0
    for a, b in zip(ids, ids[1:]):
        v = stats.pair_logp.get((a, b))
        if v is None:
            v = stats.next_logp.get(b, stats.mean_logp)
        s += v
    return s


def logprob_head(ctx: InitContext, name: str, scale: float = 1.0):
    """Head rows ``W_new[t] = W_old[m_1] + scale * continuation_logp(m) * c`` (``c``: :func:`ones_direction`).

    A new token's logit then approximates ``log p(m_1 | ctx) + log p(m_2..m_k | m_1)``: the log-probability of
    the old-token sequence that spells it (approximate likelihood matching), instead of the mean of the pieces'
    logits that FVT's mean of rows gives.
    """
    import torch

    W = ctx.require_head(name).detach().float()
    stats = ctx.stats(name)
    c, resid = ones_direction(stats.H)
    log.info("%s: ones-direction rms residual %.3f over %d positions", name, resid, stats.H.shape[0])
    out = W.mean(0).expand(ctx.num_rows, -1).clone()
    items = [(t, list(ids)) for t, ids in ctx.mapping.items() if ids]
    rows = torch.tensor([t for t, _ in items], dtype=torch.long)
    out[rows] = W[torch.tensor([ids[0] for _, ids in items], dtype=torch.long)]
    delta = torch.tensor([continuation_logp(stats, ids) for _, ids in items], dtype=torch.float32)
    out[rows] += scale * delta.unsqueeze(1) * c.unsqueeze(0)
    return out


def _with_logprob_head(base: InitMethod, name: str) -> InitMethod:
    def method(ctx: InitContext) -> Rows:
        emb = base(_input_only(ctx)).emb
        return Rows(emb, logprob_head(ctx, name).to(ctx.require_head(name).dtype))

    method.__doc__ = (f"``{base.__name__}`` input rows; the output head from :func:`logprob_head` (first piece's row plus "
                      "the model's estimated log-probability of the remaining pieces along the ones-direction). "
                      "Needs an untied head (``--untie``).")
    method.__name__ = name.replace("-", "_")
    return method


def _input_only(ctx: InitContext) -> InitContext:
    view = dataclasses.replace(ctx, E_out=None)
    view._stats = ctx._stats
    view.stats_fn = (lambda: ctx.stats("input")) if ctx.stats_fn is not None else None
    return view


def focus(ctx: InitContext, k: int = 10, temperature: float = 0.1) -> Rows:
    """FOCUS-style: a non-overlapping new token = softmax-similarity mix of overlapping tokens' old rows.

    Source: Dobler & de Melo, "FOCUS" (EMNLP 2023), itself after WECHSEL (Minixhofer et al., NAACL 2022): the
    similarity comes from an auxiliary embedding space trained on the target tokenization (fastText there). Here
    the auxiliary space is a cheap one: PPMI co-occurrence (window 2) of new tokens on the calibration text,
    reduced by a randomised SVD to 64 dims. A new token shared with the old vocabulary (one-to-one mapping)
    keeps its row; any other one mixes its ``k`` most similar shared tokens (cosine / ``temperature``), averaged
    50/50 with its FVT row (tokens the calibration text never shows keep pure FVT).
    """
    import torch

    seqs = ctx.new_texts_fn() if ctx.new_texts_fn is not None else None
    if not seqs:
        raise ToksmithError("initialisation method 'focus' needs calibration text in the new tokenization")
    V = ctx.num_rows
    rows_i, cols_i = [], []
    for s in seqs:
        t = torch.tensor(s, dtype=torch.long)
        for off in (1, 2):
            if len(s) > off:
                rows_i += [t[:-off], t[off:]]
                cols_i += [t[off:], t[:-off]]
    r, c = torch.cat(rows_i), torch.cat(cols_i)
    M = torch.sparse_coo_tensor(torch.stack([r, c]), torch.ones(len(r)), (V, V), check_invariants=True).coalesce()
    idx, val = M.indices(), M.values()
    rs = torch.zeros(V).index_add_(0, idx[0], val)
    tot = float(val.sum())
    pmi = torch.log(val * tot / (rs[idx[0]] * rs[idx[1]])).clamp_min(0)
    P = torch.sparse_coo_tensor(idx, pmi, (V, V), check_invariants=True).coalesce()
    with torch.random.fork_rng(devices=[]):  # randomised SVD: seeded, without touching the global RNG
        torch.manual_seed(ctx.seed)
        U, S, _ = torch.svd_lowrank(P, q=64, niter=3)
    Z = torch.nn.functional.normalize(U * S.sqrt(), dim=1)
    seen = rs > 0
    shared = [t for t, ids in ctx.mapping.items() if len(ids) == 1 and t < V and seen[t]]
    shared_t = torch.tensor(shared, dtype=torch.long)
    src = torch.tensor([ctx.mapping[t][0] for t in shared], dtype=torch.long)
    targets = [t for t, ids in ctx.mapping.items() if len(ids) > 1 and t < V and seen[t]]

    def build(E, h):
        base = init_rows(E, ctx.mapping, "fvt", ctx.num_rows).float()
        if not targets:
            return base
        Ef = E.detach().float()
        tt = torch.tensor(targets, dtype=torch.long)
        for s in range(0, len(tt), 2048):
            chunk = tt[s : s + 2048]
            sim = Z[chunk] @ Z[shared_t].T
            top, j = sim.topk(min(k, len(shared)), dim=1)
            w = torch.softmax(top / temperature, dim=1)
            mix = (w.unsqueeze(2) * Ef[src[j]]).sum(1)
            base[chunk] = 0.5 * base[chunk] + 0.5 * mix
        return base

    return _same(ctx, build)


METHODS: dict[str, InitMethod] = {
    "fvt": fvt,
    "mean": mean,
    "random": random,
    "freq": freq,
    "pos": pos,
    "focus": focus,
    "fvt-logprob": _with_logprob_head(fvt, "fvt-logprob"),
    "freq-logprob": _with_logprob_head(freq, "freq-logprob"),
    "pos-logprob": _with_logprob_head(pos, "pos-logprob"),
}

NEEDS_STATS = frozenset({"freq", "freq-logprob", "fvt-logprob", "pos-logprob"})
NEEDS_NEW_TEXT = frozenset({"focus"})
SEPARATE_HEAD = frozenset(n for n in METHODS if n.endswith("-logprob"))


def get_method(name: str) -> InitMethod:
    """The registered method ``name``; an unknown name lists the known ones."""
    if name not in METHODS:
        from ..errors import unknown_name

        raise unknown_name("initialisation method", name, tuple(METHODS))
    return METHODS[name]
