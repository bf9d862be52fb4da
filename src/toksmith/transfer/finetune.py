"""Continued causal-LM training after a tokenizer switch (``toksmith finetune``), with checkpoints and resume.

The paper's finding (Dagan et al. 2024, section 3.3 / Fig. 6): after a tokenizer change, continued training closes
the gap to the unchanged model. :func:`finetune` runs that training on ``transformers`` + ``accelerate``: documents
are tokenized with the model directory's own tokenizer, wrapped in BOS/EOS and packed into ``seq_len`` blocks;
AdamW (betas 0.9/0.95, weight decay on matrices, the Code Llama recipe) with gradient accumulation, gradient
clipping, linear warm-up then cosine decay (:func:`lr_at`); bf16 autocast where the GPU has it; an optional first
stage that trains only the embeddings and head (the paper's freezing ablation); bits per byte on held-out text
every ``eval_every`` steps (:mod:`.bpb`); checkpoints every ``ckpt_every`` steps through
``accelerator.save_state`` into ``out/checkpoints/step-N``, built in a temporary sibling, completed with a marker
holding the file hashes, then renamed; a rerun resumes from the latest one (step counter, optimizer, RNG and the
position in the data stream). ``accelerate launch`` / ``torchrun`` run the same code on several GPUs (DDP or
FSDP as configured in accelerate, experimental): blocks are dealt round-robin to processes.

Limits: the training stream is re-tokenized from the start on resume and the consumed blocks are skipped (cheap
next to training). The freeze stage toggles ``requires_grad`` (DDP is then built with ``find_unused_parameters``;
FSDP supports it only with ``use_orig_params=True``). Multi-process runs (DDP/FSDP) are experimental: untested
(no GPU was available), refused unless ``experimental_distributed`` (``--experimental-distributed``) is set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..artifacts import atomic_dir, atomic_write_json, atomic_write_text, file_hashes, verify_hashes
from ..errors import ToksmithError, check_fields
from .data import heldout_texts, packed_blocks, training_texts

log = logging.getLogger(__name__)

MARKER = "checkpoint.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.tiktoken", "toksmith.json",
                   "transfer.json", "special_tokens_map.json", "chat_template.jinja", "chat_template.json")


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    model: str  # a model directory (toksmith transfer output) or "smollm2"
    out_dir: Path
    train_data: str = "default"  # "default" = code of toksmith's default corpus, or a file / directory of texts
    eval_data: str = "default"  # "default" = held-out code documents of the default corpus, or a file / dir
    train_chars: int = 20_000_000  # budget of the default training corpus
    eval_max_bytes: int = 100_000  # held-out text evaluated (same texts for every model)
    seq_len: int = 512
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 3e-4  # Code Llama's 7B peak LR (docs/paper.md §7; paper §3)
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 20
    steps: int = 200  # length of the schedule
    max_steps: int | None = None  # stop this run at this global step (an interruption; rerun to resume)
    freeze_body_steps: int = 0  # first steps train only embeddings + head (the paper's freezing ablation)
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 50  # 0 = only at start and end
    ckpt_every: int = 50  # 0 = only when stopped early by max_steps (a finished run saves final/ instead)
    save_final: bool = True  # write out/final (model + tokenizer) when the schedule is done
    keep_checkpoints: int = 2
    seed: int = 0
    bf16: str = "auto"  # auto = bf16 autocast where the GPU supports it | yes | no
    resume: bool = True  # continue from the latest complete checkpoint in out_dir
    threads: int = 0  # torch intra-op threads on CPU; 0 = torch's default
    experimental_distributed: bool = False  # allow multi-process (DDP/FSDP) launches: experimental, untested

    def __post_init__(self):
        check_fields(self, **dict.fromkeys(("seq_len", "batch_size", "grad_accum", "steps", "keep_checkpoints",
                                            "eval_max_bytes"), 1),
                     **dict.fromkeys(("warmup_steps", "freeze_body_steps", "eval_every", "ckpt_every", "threads"), 0))
        if self.max_steps is not None and not 1 <= self.max_steps <= self.steps:
            raise ToksmithError(f"FinetuneConfig.max_steps must be in [1, steps={self.steps}], got {self.max_steps}")
        if not self.lr > 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ToksmithError(f"FinetuneConfig.lr must be > 0 and min_lr_ratio in [0, 1], got {self.lr}, {self.min_lr_ratio}")
        if self.bf16 not in ("auto", "yes", "no"):
            raise ToksmithError(f"FinetuneConfig.bf16 must be auto, yes or no, got {self.bf16!r}")
        if self.warmup_steps > self.steps:
            log.warning("warm-up of %d steps is longer than the run (%d steps): clamped to %d",
                        self.warmup_steps, self.steps, self.steps)
            object.__setattr__(self, "warmup_steps", self.steps)


def lr_at(step: int, lr: float, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """LR for optimizer step ``step`` (0-based): linear warm-up, then cosine to ``lr * min_ratio``.

    ``lr * (step+1)/warmup`` while ``step < warmup``; then with ``p = (step-warmup)/max(1, total-warmup)``:
    ``lr * (min_ratio + (1-min_ratio) * 0.5 * (1 + cos(pi p)))``. Example: lr=1, warmup=10, total=110, step=60
    -> p = 0.5 -> 0.1 + 0.9 * 0.5 = 0.55.
    """
    if step < warmup:
        return lr * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


# ==== checkpoints =============================================================================================


def list_checkpoints(out_dir: Path) -> list[tuple[int, Path]]:
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith("step-") and p.name[5:].isdigit():
            found.append((int(p.name[5:]), p))
    return sorted(found)


def check_checkpoint(path: Path) -> dict:
    """The checkpoint's state (its marker), or a ToksmithError saying why it cannot be resumed from."""
    marker = path / MARKER
    if not marker.is_file():
        raise ToksmithError(
            f"checkpoint {path} is incomplete or corrupted (no {MARKER}); delete that directory to resume from an "
            "earlier checkpoint, or use a new out_dir to start over. Nothing was overwritten."
        )
    try:
        state = json.loads(marker.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise ToksmithError(f"checkpoint {path}: {MARKER} does not parse; delete the directory. Nothing was overwritten.") from None
    bad = verify_hashes(path, state.get("files", {}))
    if bad:
        raise ToksmithError(
            f"checkpoint {path} is corrupted: {', '.join(bad[:5])} missing or changed since it was written; delete "
            "that directory to resume from an earlier checkpoint. Nothing was overwritten."
        )
    return state


def save_checkpoint(accelerator, out_dir: Path, state: dict, keep: int) -> Path:
    """``accelerator.save_state`` into ``.step-N.tmp``, write the marker (hashes) last, rename to ``step-N``."""
    root = Path(out_dir) / "checkpoints"
    final = root / f"step-{state['step']}"
    tmp = root / f".step-{state['step']}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        from ..models import set_artifact_mode

        set_artifact_mode(p for p in tmp.rglob("*") if p.is_file())  # safetensors writes 0600
        atomic_write_json(tmp / MARKER, {**state, "files": file_hashes(tmp, exclude=(MARKER,))})
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for _, old in list_checkpoints(out_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


# ==== training ================================================================================================


def _set_body_trainable(model, trainable: bool) -> None:
    keep = {id(model.get_input_embeddings().weight), id(model.get_output_embeddings().weight)}
    for p in model.parameters():
        p.requires_grad_(trainable or id(p) in keep)


def _append_metrics(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read_metrics(out_dir: Path) -> list[dict]:
    path = Path(out_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_accelerator(cfg: FinetuneConfig):
    """bf16 autocast where the GPU has it (``bf16="auto"``); DDP told about unused parameters for the freeze stage."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    mp = cfg.bf16
    if mp == "auto":
        mp = "yes" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    handlers = [DistributedDataParallelKwargs(find_unused_parameters=True)] if cfg.freeze_body_steps else []
    return Accelerator(mixed_precision="bf16" if mp == "yes" else "no", kwargs_handlers=handlers)


def make_optimizer(model, cfg: FinetuneConfig):
    """AdamW, betas (0.9, 0.95) as Code Llama; weight decay on matrices only (not norms or biases)."""
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), eps=1e-8)


def train_step(accelerator, model, opt, blocks: list[list[int]], batch_size: int, grad_accum: int, grad_clip: float) -> float:
    """One optimizer step over ``grad_accum`` micro-batches of this process's ``blocks``; returns the mean loss
    (averaged over processes). Gradients are synchronised only on the last micro-batch."""
    import torch

    total = 0.0
    for k in range(grad_accum):
        ids = torch.tensor(blocks[k * batch_size : (k + 1) * batch_size], device=accelerator.device)
        last = k == grad_accum - 1
        ctx = accelerator.no_sync(model) if not last and accelerator.num_processes > 1 else contextlib.nullcontext()
        with ctx, accelerator.autocast():
            loss = model(input_ids=ids, labels=ids).loss / grad_accum
            accelerator.backward(loss)
        total += loss.item()
    if grad_clip > 0:
        accelerator.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return float(accelerator.reduce(torch.tensor(total, device=accelerator.device), reduction="mean").item())


# Options that may change between a run and its resumption: they do not change what is trained.
RESUMABLE_CHANGES = ("out_dir", "max_steps", "resume", "threads", "experimental_distributed")
CONFIG_FILE = "finetune_config.json"


def check_resume_config(cfg: FinetuneConfig, out: Path) -> None:
    """Refuse to resume ``out`` with options other than those it was started with (its ``finetune_config.json``).

    The message names the differing options as CLI flags, with the saved and the new value.
    """
    from ..config import to_dict

    path = out / CONFIG_FILE
    if not path.is_file():
        return
    old, new = json.loads(path.read_text(encoding="utf-8")), to_dict(cfg)
    diff = [k for k in sorted(set(old) | set(new)) if k not in RESUMABLE_CHANGES and old.get(k) != new.get(k)]
    if diff:
        flag = {"model": "MODEL"}  # the positional argument; every other field is its --flag
        what = ", ".join(f"{flag.get(k, '--' + k.replace('_', '-'))} {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise ToksmithError(f"{out} holds a run started with other options ({what}); resume it with the same "
                            "options or choose another --out")


def check_distributed(num_processes: int, allowed: bool) -> None:
    """Multi-process training (DDP / FSDP through ``accelerate launch``) is experimental: never run it silently."""
    if num_processes > 1 and not allowed:
        raise ToksmithError(
            f"this is a {num_processes}-process launch: multi-GPU fine-tuning (DDP/FSDP) is experimental and "
            "untested; pass --experimental-distributed to run it anyway, or launch one process")
    if num_processes > 1:
        log.warning("multi-process fine-tuning (%d processes) is experimental and untested", num_processes)


def _resume_point(cfg: FinetuneConfig, out: Path) -> tuple[Path | None, dict | None]:
    """Step 1, before anything is written: the checkpoint to resume from (and its state), or refusal."""
    done = out / "summary.json"
    if done.is_file() and json.loads(done.read_text(encoding="utf-8")).get("finished"):
        raise ToksmithError(f"{out} holds a finished run (summary.json); choose a new out_dir to train again")
    ckpts = list_checkpoints(out)
    if not ckpts:
        return None, None
    if not cfg.resume:
        raise ToksmithError(f"{out} already holds checkpoints; pass resume=True (--resume) or a new out_dir")
    check_resume_config(cfg, out)
    return ckpts[-1][1], check_checkpoint(ckpts[-1][1])


def _open_metrics(accelerator, cfg: FinetuneConfig, out: Path, ckpt: Path | None, state: dict | None) -> tuple[int, int]:
    """Step 3: restore the checkpoint (model, optimizer, RNG) and cut metrics.jsonl back to it, or start a fresh
    run directory (empty metrics, the config). Returns ``(step, blocks consumed)``."""
    metrics_path = out / "metrics.jsonl"
    if ckpt is not None:
        accelerator.load_state(str(ckpt))
        log.info("resuming from %s (step %d)", ckpt, int(state["step"]))
        if accelerator.is_main_process:  # drop records logged after the checkpoint: they are redone
            kept = [r for r in read_metrics(out) if r["step"] <= int(state["step"])]
            atomic_write_text(metrics_path, "".join(json.dumps(r) + "\n" for r in kept))
        return int(state["step"]), int(state["blocks"])
    if accelerator.is_main_process:
        from ..config import save_config

        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(metrics_path, "")
        save_config(cfg, out / CONFIG_FILE)
    return 0, 0


@dataclasses.dataclass
class _Run:
    """What the steps of one :func:`finetune` call share."""

    cfg: FinetuneConfig
    out: Path
    model_dir: Path
    accelerator: object
    model: object
    opt: object
    tok: object
    bos: int | None
    eos: int | None

    @property
    def metrics_path(self) -> Path:
        return self.out / "metrics.jsonl"


def _setup(cfg: FinetuneConfig, out: Path, model_dir: Path) -> _Run:
    """Step 2: threads, ``accelerate`` (refusing an unasked multi-process launch), seed, model, optimizer."""
    import torch
    from accelerate.utils import set_seed
    from transformers import AutoModelForCausalLM

    from ..references import load_tokenizer

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    accelerator = make_accelerator(cfg)
    check_distributed(accelerator.num_processes, cfg.experimental_distributed)
    set_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    bos, eos = model.config.bos_token_id, model.config.eos_token_id
    eos = eos[0] if isinstance(eos, (list, tuple)) else eos
    model, opt = accelerator.prepare(model, make_optimizer(model, cfg))
    return _Run(cfg, out, model_dir, accelerator, model, opt, load_tokenizer(model_dir), bos, eos)


def _evaluate(run: _Run, eval_set: list[str], at: int) -> None:
    """Held-out bits per byte of the current model, appended to metrics.jsonl."""
    from .bpb import evaluate_bpb

    r = evaluate_bpb(run.model, run.tok, eval_set, seq_len=run.cfg.seq_len, batch_size=run.cfg.batch_size,
                     start_id=run.bos if run.bos is not None else run.eos, accelerator=run.accelerator)
    log.info("step %d: held-out %.4f bits/byte (%.4f tokens/byte)", at, r["bpb"], r["tokens_per_byte"])
    if run.accelerator.is_main_process:
        _append_metrics(run.metrics_path, {"step": at, "eval_bpb": r["bpb"], "tokens_per_byte": r["tokens_per_byte"]})


def _train_loop(run: _Run, stream, eval_set: list[str], step: int, blocks_done: int) -> tuple[int, float]:
    """Step 4: optimizer steps until ``max_steps`` (or ``steps``), each logged; evaluation every ``eval_every``
    steps and at the end; a checkpoint every ``ckpt_every`` steps and when stopped early. Returns the last step and
    loss."""
    import itertools

    cfg, acc = run.cfg, run.accelerator
    per_step = cfg.batch_size * cfg.grad_accum * acc.num_processes
    unwrapped = acc.unwrap_model(run.model)
    stop = cfg.max_steps or cfg.steps
    last_loss = float("nan")
    from ..progress import progress_bar

    with progress_bar(None if acc.is_main_process else False, "finetune", total=cfg.steps, unit="steps") as advance:
        advance(step)  # a resumed run starts where it stopped
        run.model.train()
        while step < stop:
            _set_body_trainable(unwrapped, step >= cfg.freeze_body_steps)
            lr = lr_at(step, cfg.lr, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
            for g in run.opt.param_groups:
                g["lr"] = lr
            blocks = list(itertools.islice(stream, per_step))
            if len(blocks) < per_step:
                raise ToksmithError(f"training data ran out at step {step}: give more text or fewer steps")
            blocks = blocks[acc.process_index :: acc.num_processes]
            last_loss = train_step(acc, run.model, run.opt, blocks, cfg.batch_size, cfg.grad_accum, cfg.grad_clip)
            step += 1
            blocks_done += per_step
            if acc.is_main_process:
                _append_metrics(run.metrics_path, {"step": step, "loss": last_loss, "lr": lr, "blocks": blocks_done})
            advance(1, f"finetune loss {last_loss:.3f}")
            if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps:
                _evaluate(run, eval_set, step)
            if (cfg.ckpt_every and step % cfg.ckpt_every == 0) or step == stop < cfg.steps:
                save_checkpoint(acc, run.out, {"step": step, "blocks": blocks_done, "loss": last_loss}, cfg.keep_checkpoints)
    return step, last_loss


def finetune(cfg: FinetuneConfig, train_texts: Sequence[str] | None = None, eval_texts: Sequence[str] | None = None) -> dict:
    """Train ``cfg.model`` as configured; returns a summary (steps, final loss, bpb curve, paths).

    ``train_texts`` / ``eval_texts`` override ``cfg.train_data`` / ``cfg.eval_data`` (tests, experiments).
    Steps: (1) :func:`_resume_point`: the checkpoint to resume from, refusing changed options; (2) :func:`_setup`:
    ``accelerate``, model, optimizer; (3) :func:`_open_metrics`: restore the checkpoint or start the run
    directory; (4) :func:`_train_loop`: steps, metrics, evaluation, checkpoints, progress; (5) the final model,
    the curve and ``summary.json``.
    """
    import itertools

    from ..models import resolve_model_dir

    out = Path(cfg.out_dir)
    model_dir = resolve_model_dir(cfg.model)
    ckpt, state = _resume_point(cfg, out)  # raises before anything is written
    run = _setup(cfg, out, model_dir)
    step, blocks_done = _open_metrics(run.accelerator, cfg, out, ckpt, state)
    texts = train_texts if train_texts is not None else training_texts(cfg.train_data, cfg.train_chars)
    eval_set = list(eval_texts) if eval_texts is not None else heldout_texts(cfg.eval_data, cfg.eval_max_bytes, cfg.train_chars)
    stream = itertools.islice(packed_blocks(texts, run.tok, cfg.seq_len, run.bos, run.eos), blocks_done, None)
    if step == 0:
        _evaluate(run, eval_set, 0)
    step, last_loss = _train_loop(run, stream, eval_set, step, blocks_done)
    summary = {"step": step, "finished": step >= cfg.steps, "loss": last_loss, "metrics": str(run.metrics_path)}
    if step >= cfg.steps and cfg.save_final:
        summary["final_model"] = str(save_final(run.accelerator, run.model, model_dir, out / "final"))
    if run.accelerator.is_main_process:
        summary["curve"] = str(plot_curve(read_metrics(out), out / "curve.png", title=f"finetune {model_dir.name}"))
        atomic_write_json(out / "summary.json", summary)
    return summary


def save_final(accelerator, model, model_dir: Path, path: Path) -> Path:
    """The trained model (safetensors, full state dict under FSDP; generation_config.json) + the tokenizer files
    and chat template, atomically; ``finetune.json`` holds the sha256 of the weight files."""
    state = accelerator.get_state_dict(model)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with atomic_dir(path) as d:
            from ..models import save_model

            weights = save_model(accelerator.unwrap_model(model), d, state_dict=state)
            for name in TOKENIZER_FILES:
                if (model_dir / name).is_file():
                    shutil.copyfile(model_dir / name, d / name)
            atomic_write_json(d / "finetune.json", {"kind": "toksmith-finetune", "base_model": str(model_dir),
                                                    "weights_sha256": weights})
    accelerator.wait_for_everyone()
    return path


def plot_curve(records: list[dict], path: Path, title: str = "finetune") -> Path:
    """Training loss (left) and held-out bits per byte (right) against the step, as a PNG."""
    from ..artifacts import pyplot, save_figure

    plt = pyplot()

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    tr = [(r["step"], r["loss"]) for r in records if "loss" in r]
    ev = [(r["step"], r["eval_bpb"]) for r in records if "eval_bpb" in r]
    if tr:
        a.plot(*zip(*tr), lw=1)
    a.set(xlabel="step", ylabel="train loss (nats/token)", title="training loss")
    if ev:
        b.plot(*zip(*ev), marker="o")
    b.set(xlabel="step", ylabel="bits per byte", title="held-out bits per byte")
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)
