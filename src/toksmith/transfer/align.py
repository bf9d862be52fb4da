"""Cheap alignment after a tokenizer switch: train only the vocabulary rows, body frozen, towards the original model.

:func:`align` (``toksmith transfer --align-minutes N``) loads a transferred model directory
(``transfer.json`` names the original model) and trains its input embedding and output head only (every
transformer block frozen; in an extension, rows below ``identity_prefix`` stay fixed too) on training-split code,
never the held-out documents. The loss per block of text is

    L = CE(new model, next new token) + hidden_weight * mean_{shared boundaries} ||h_new - h_old||^2 / ||h_old||^2

where a shared boundary is a byte offset at which both the old and the new tokenization end a token: there the
original model's head input ``h_old`` (final hidden state) is the target for the new model's ``h_new``, pulling
the new rows to where the body expects them (the hidden-state matching of Minixhofer et al.'s ZeTT / the
"align then train" recipe of Dobler & de Melo's FOCUS, here with the original model as teacher). The CE term
trains the head rows. Adam, constant learning rate, ``seq_len``-token blocks one at a time.

Resumable: every ``ckpt_every`` steps the trainable rows, the optimizer, the step and the number of consumed
blocks go atomically to ``out/align_state.pt``; a rerun continues from there (the data stream is deterministic),
and refuses to resume with different settings. ``align.jsonl`` logs loss and, every ``eval_every`` steps,
bits/byte on the held-out texts given. At the end the model directory's weights are rewritten in place (atomic per file) and
``transfer.json``'s ``weights_sha256`` updated.

Limits: one process, CPU or one GPU; the teacher costs one extra forward per step (no backward).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import ToksmithError, check_fields

log = logging.getLogger(__name__)

STATE = "align_state.pt"
LOG = "align.jsonl"


@dataclasses.dataclass(frozen=True)
class AlignConfig:
    """Align the vocabulary rows of the transferred model in ``model_dir`` (rewritten in place at the end)."""

    model_dir: Path
    minutes: float = 10.0  # wall-clock budget of this invocation (a rerun resumes)
    steps: int = 1000  # total steps of the alignment (the schedule's end)
    seq_len: int = 128
    lr: float = 1e-4  # 1e-3 made freq worse in 6 min (1.733 -> 1.918), 3e-4 1.673, 1e-4 1.609, 3e-5 1.653 (5 min)
    hidden_weight: float = 1.0
    train_chars: int = 2_000_000
    ckpt_every: int = 10
    eval_every: int = 0  # 0 = only at the start and the end
    seed: int = 0

    def __post_init__(self):
        check_fields(self, positive=("minutes", "lr"), steps=1, seq_len=8)

    def identity(self) -> dict:
        """Settings a resumed run must share with the run it continues."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("minutes", "model_dir")}


def boundaries(tok, text: str) -> tuple[list[int], list[int]]:
    """``(ids, ends)``: the token ids of ``text`` and the byte offset where each token ends.

    >>> from toksmith.references import load_tokenizer
    >>> boundaries(load_tokenizer("gpt2"), "def f(x)")  # def| f|(|x|)
    ([4299, 277, 7, 87, 8], [3, 5, 6, 7, 8])
    """
    ids = list(tok.encode(text))
    ends, pos = [], 0
    for i in ids:
        pos += len(tok.token_bytes(i))
        ends.append(pos)
    return ids, ends


def shared_positions(old_ends: Sequence[int], new_ends: Sequence[int]) -> tuple[list[int], list[int]]:
    """Index pairs ``(i_old, i_new)`` of tokens that end at the same byte offset in both tokenizations.

    >>> shared_positions([2, 3, 5, 7], [3, 7])
    ([1, 3], [0, 1])
    """
    where = {e: i for i, e in enumerate(old_ends)}
    a, b = [], []
    for j, e in enumerate(new_ends):
        if e in where:
            a.append(where[e])
            b.append(j)
    return a, b


def _blocks(old_tok, new_tok, texts, seq_len: int):
    """Aligned text chunks: each yields new ids (<= seq_len), old ids and the shared boundary index pairs."""
    for text in texts:
        ids, ends = boundaries(new_tok, text)
        for s in range(0, len(ids) - 1, seq_len):
            chunk_ids = ids[s : s + seq_len]
            start = ends[s - 1] if s else 0
            chunk_text = text.encode("utf-8")[start : ends[s + len(chunk_ids) - 1]]
            try:
                piece = chunk_text.decode("utf-8")
            except UnicodeDecodeError:
                continue  # a chunk edge inside a multi-byte character: skip it
            new_ids, new_ends = boundaries(new_tok, piece)
            old_ids, old_ends = boundaries(old_tok, piece)
            if len(new_ids) < 2 or len(old_ids) < 2:
                continue
            a, b = shared_positions(old_ends, new_ends)
            yield new_ids, old_ids, a, b


class _Aligner:
    """The state of one alignment run: the student model and its trainable rows, the teacher, the optimizer."""

    def __init__(self, cfg: AlignConfig):
        import torch
        from transformers import AutoModelForCausalLM

        from ..references import load_tokenizer

        self.cfg, self.dir = cfg, Path(cfg.model_dir)
        manifest_path = self.dir / "transfer.json"
        if not manifest_path.is_file():
            raise ToksmithError(f"{self.dir} is not a toksmith transfer output (no transfer.json); run `toksmith transfer` first")
        self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        old_dir = Path(self.manifest["old_model"])
        if not old_dir.is_dir():
            raise ToksmithError(f"the original model {old_dir} named in {manifest_path} is gone; alignment needs it as teacher")
        torch.manual_seed(cfg.seed)
        self.model = AutoModelForCausalLM.from_pretrained(self.dir, dtype=torch.float32)
        self.teacher = AutoModelForCausalLM.from_pretrained(old_dir, dtype=torch.float32).eval()
        self.new_tok, self.old_tok = load_tokenizer(self.dir), load_tokenizer(old_dir)
        self.prefix = int(self.manifest.get("identity_prefix", 0))  # an extension's old rows stay fixed
        for p in self.model.parameters():
            p.requires_grad_(False)
        emb, self.head = self.model.get_input_embeddings(), self.model.get_output_embeddings()
        self.params = [emb.weight] + ([self.head.weight] if self.head.weight is not emb.weight else [])
        for p in self.params:
            p.requires_grad_(True)
        self.opt = torch.optim.Adam(self.params, lr=cfg.lr)
        self.state_path, self.log_path = self.dir / STATE, self.dir / LOG
        self.step, self.consumed = 0, 0

    def resume(self) -> None:
        """Load ``align_state.pt`` when there is one; refuse one written with other settings."""
        import torch

        if not self.state_path.is_file():
            return
        st = torch.load(self.state_path, weights_only=False)
        if st["config"] != self.cfg.identity():
            diff = {k: (st["config"].get(k), v) for k, v in self.cfg.identity().items() if st["config"].get(k) != v}
            raise ToksmithError(f"{self.state_path} was written with other settings {diff} (saved, now); "
                                "rerun with the same settings or delete it to start over")
        with torch.no_grad():
            for p, saved in zip(self.params, st["rows"]):
                p.copy_(saved)
        self.opt.load_state_dict(st["opt"])
        self.step, self.consumed = st["step"], st["consumed"]
        log.info("align: resuming %s at step %d", self.dir, self.step)

    def save_state(self) -> None:
        import torch

        tmp = self.state_path.with_suffix(".tmp")
        torch.save({"config": self.cfg.identity(), "rows": [p.detach().clone() for p in self.params],
                    "opt": self.opt.state_dict(), "step": self.step, "consumed": self.consumed}, tmp)
        tmp.replace(self.state_path)

    def record(self, rec: dict) -> None:
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")

    def bpb(self, eval_texts: Sequence[str] | None) -> float | None:
        from .bpb import evaluate_bpb

        return evaluate_bpb(self.model, self.new_tok, list(eval_texts), seq_len=512)["bpb"] if eval_texts else None

    def train_step(self, new_ids: list[int], old_ids: list[int], a: list[int], b: list[int]) -> float:
        """One block: CE on the new ids + the hidden-state distance to the teacher at shared boundaries."""
        import torch

        captured: list = []
        hooks = [self.head.register_forward_hook(lambda m, inp, o: captured.append(inp[0])),
                 self.teacher.get_output_embeddings().register_forward_hook(lambda m, inp, o: captured.append(inp[0]))]
        try:
            x = torch.tensor([new_ids])
            logits = self.model(input_ids=x).logits[0, :-1, : self.new_tok.vocab_size]
            with torch.no_grad():
                self.teacher(input_ids=torch.tensor([old_ids]))
            h_new, h_old = captured[0][0], captured[1][0].detach()
        finally:
            for h in hooks:
                h.remove()
        loss = torch.nn.functional.cross_entropy(logits.float(), x[0, 1:])
        if a and self.cfg.hidden_weight > 0:
            ho, hn = h_old[a], h_new[b]
            loss = loss + self.cfg.hidden_weight * ((hn - ho).pow(2).sum(-1) / ho.pow(2).sum(-1).clamp_min(1e-6)).mean()
        loss.backward()
        if self.prefix:
            for p in self.params:
                p.grad[: self.prefix] = 0
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.step += 1
        return float(loss.detach())

    def save_model(self) -> dict[str, str]:
        """Rewrite the model directory's weights and its manifest's ``weights_sha256`` (each file atomically)."""
        from ..artifacts import atomic_write_json
        from ..models import save_model

        for p in self.model.parameters():
            p.requires_grad_(False)
        weights = save_model(self.model, self.dir)
        atomic_write_json(self.dir / "transfer.json", {**self.manifest, "weights_sha256": weights})
        return weights


def align(cfg: AlignConfig, eval_texts: Sequence[str] | None = None, train_texts: Sequence[str] | None = None) -> dict:
    """Run (or resume) the alignment; returns ``{"step", "done", "bpb_start", "bpb_end"}``."""
    from ..artifacts import atomic_write_json
    from .data import training_texts

    run = _Aligner(cfg)
    run.resume()
    out = {"bpb_start": None, "bpb_end": None}
    if run.step == 0:
        out["bpb_start"] = run.bpb(eval_texts)
        run.record({"step": 0, "eval_bpb": out["bpb_start"]})
    texts = train_texts if train_texts is not None else training_texts("default", cfg.train_chars)
    stream = _blocks(run.old_tok, run.new_tok, texts, cfg.seq_len)
    for _ in range(run.consumed):  # skip what the interrupted run already trained on
        next(stream, None)
    t0 = time.time()
    run.model.train()
    while run.step < cfg.steps and time.time() - t0 < cfg.minutes * 60:
        item = next(stream, None)
        if item is None:
            break
        run.consumed += 1
        loss = run.train_step(*item)
        rec = {"step": run.step, "loss": round(loss, 4)}
        if cfg.eval_every and run.step % cfg.eval_every == 0:
            run.model.eval()
            rec["eval_bpb"] = run.bpb(eval_texts)
            run.model.train()
            log.info("align step %d: %.4f bits/byte", run.step, rec["eval_bpb"])
        run.record(rec)
        if run.step % cfg.ckpt_every == 0:
            run.save_state()
    run.model.eval()
    run.save_state()
    done = run.step >= cfg.steps
    out["bpb_end"] = run.bpb(eval_texts)
    run.record({"step": run.step, "eval_bpb": out["bpb_end"], "final": True})
    run.save_model()
    atomic_write_json(run.dir / "align.json", {"config": cfg.identity(), "step": run.step, "done": done, **out})
    log.info("align: step %d%s, bits/byte %s -> %s", run.step, " (done)" if done else "", out["bpb_start"], out["bpb_end"])
    return {"step": run.step, "done": done, **out}
