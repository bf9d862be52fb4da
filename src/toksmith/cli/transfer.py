"""``toksmith extend``, ``toksmith transfer`` and ``toksmith finetune``: switch a model's tokenizer and train it.

Each command builds the stage's config dataclass (defaults come from the dataclass) and calls one library function:
:func:`toksmith.transfer.extend.extend_tokenizer`, :func:`toksmith.transfer.surgery.transfer`,
:func:`toksmith.transfer.finetune.finetune`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from .options import config_default, tokenizer_name


def _default(cls_name: str, field: str):
    """A config field's default, so CLI defaults are never re-declared (the transfer modules are light to import)."""
    from ..transfer import extend, finetune, surgery

    cls = {"ExtendConfig": extend.ExtendConfig, "TransferConfig": surgery.TransferConfig,
           "FinetuneConfig": finetune.FinetuneConfig}[cls_name]
    return config_default(cls, field)


@app.command("extend")
def extend_cmd(
    model: str = typer.Argument(..., help="model whose tokenizer to extend: 'smollm2' or a model/tokenizer directory"),
    out: Path = typer.Option(..., "--out", "-o", help="output tokenizer directory"),
    n_new: int = typer.Option(_default("ExtendConfig", "n_new"), help="number of new tokens to learn"),
    data: str = typer.Option(_default("ExtendConfig", "data"), help="'default' (code of the default corpus) or a file/dir"),
    data_chars: int = typer.Option(_default("ExtendConfig", "data_chars"), help="characters of domain text to learn from"),
    min_frequency: int = typer.Option(_default("ExtendConfig", "min_frequency")),
    overwrite: bool = typer.Option(False, help="replace an existing output directory"),
) -> None:
    """Extend a BPE tokenizer with merges learned on domain data, keeping every old id (the paper's "Merged")."""
    from ..models import MODEL_ALIASES, resolve_model_dir
    from ..transfer.extend import ExtendConfig, extend_tokenizer

    src = resolve_model_dir(model) if model in MODEL_ALIASES else Path(model)
    path = extend_tokenizer(ExtendConfig(tokenizer=src, out_dir=out, n_new=n_new, data=data, data_chars=data_chars,
                                         min_frequency=min_frequency, overwrite=overwrite))
    typer.echo(str(path))


@app.command("transfer")
def transfer_cmd(
    model: str = typer.Argument(..., help="'smollm2' or a Hugging Face causal-LM directory"),
    tokenizer: Path = typer.Argument(..., help="new tokenizer directory (toksmith train / toksmith extend output)"),
    out: Path = typer.Option(..., "--out", "-o", help="output model directory"),
    method: str = typer.Option(_default("TransferConfig", "method"),
                               help="initialisation: a name of toksmith.transfer.methods.METHODS (bench/transfer_init.md)"),
    untie: bool = typer.Option(_default("TransferConfig", "untie"), help="separate output head (needed by *-logprob)"),
    align_minutes: float = typer.Option(0.0, help="then align the new rows (body frozen) for this many CPU minutes"),
    pad_to: int = typer.Option(_default("TransferConfig", "pad_to_multiple_of"), help="pad the vocabulary to a multiple of this"),
    seed: int = typer.Option(_default("TransferConfig", "seed")),
    threads: int = typer.Option(_default("TransferConfig", "threads"), help="torch CPU threads (0 = torch's default)"),
    overwrite: bool = typer.Option(False, help="replace an existing output directory"),
) -> None:
    """Switch a model to a new tokenizer: new embedding rows (frequency-weighted FVT, `freq`, by default), saved as a loadable model directory."""
    from ..transfer.surgery import TransferConfig, transfer

    path = transfer(TransferConfig(model=model, tokenizer=Path(tokenizer_name(str(tokenizer))), out_dir=out, method=method,
                                   pad_to_multiple_of=pad_to, seed=seed, threads=threads, overwrite=overwrite,
                                   untie=untie))
    if align_minutes > 0:
        from ..transfer.align import AlignConfig, align
        from ..transfer.data import heldout_texts

        align(AlignConfig(model_dir=path, minutes=align_minutes), eval_texts=heldout_texts("default", 16_000))
    typer.echo(str(path))


@app.command("finetune")
def finetune_cmd(
    model: str = typer.Argument(..., help="model directory (toksmith transfer output) or 'smollm2'"),
    out: Path = typer.Option(..., "--out", "-o", help="run directory (checkpoints, metrics, curve.png, final/)"),
    train_data: str = typer.Option(_default("FinetuneConfig", "train_data"), help="'default' or a file/dir of texts"),
    eval_data: str = typer.Option(_default("FinetuneConfig", "eval_data"), help="'default' or a file/dir of texts"),
    steps: int = typer.Option(_default("FinetuneConfig", "steps"), help="optimizer steps of the schedule"),
    max_steps: Optional[int] = typer.Option(None, help="stop this run at this step (resume later)"),
    seq_len: int = typer.Option(_default("FinetuneConfig", "seq_len")),
    batch_size: int = typer.Option(_default("FinetuneConfig", "batch_size"), help="sequences per device per micro-batch"),
    grad_accum: int = typer.Option(_default("FinetuneConfig", "grad_accum")),
    lr: float = typer.Option(_default("FinetuneConfig", "lr")),
    warmup_steps: int = typer.Option(_default("FinetuneConfig", "warmup_steps")),
    freeze_body_steps: int = typer.Option(_default("FinetuneConfig", "freeze_body_steps"),
                                          help="train only embeddings + head for this many first steps"),
    eval_every: int = typer.Option(_default("FinetuneConfig", "eval_every")),
    eval_max_bytes: int = typer.Option(_default("FinetuneConfig", "eval_max_bytes")),
    ckpt_every: int = typer.Option(_default("FinetuneConfig", "ckpt_every")),
    seed: int = typer.Option(_default("FinetuneConfig", "seed")),
    bf16: str = typer.Option(_default("FinetuneConfig", "bf16"), help="auto | yes | no"),
    resume: bool = typer.Option(True, help="continue from the latest checkpoint in --out"),
    threads: int = typer.Option(_default("FinetuneConfig", "threads"), help="torch CPU threads (0 = torch's default)"),
    experimental_distributed: bool = typer.Option(
        _default("FinetuneConfig", "experimental_distributed"),
        help="allow a multi-process launch (DDP/FSDP via accelerate launch): experimental, untested"),
) -> None:
    """Continue causal-LM training (packing, warm-up + cosine, checkpoints/resume, bits-per-byte eval)."""
    from ..transfer.finetune import FinetuneConfig, finetune

    summary = finetune(FinetuneConfig(
        model=model, out_dir=out, train_data=train_data, eval_data=eval_data, steps=steps, max_steps=max_steps,
        seq_len=seq_len, batch_size=batch_size, grad_accum=grad_accum, lr=lr, warmup_steps=warmup_steps,
        freeze_body_steps=freeze_body_steps, eval_every=eval_every, eval_max_bytes=eval_max_bytes,
        ckpt_every=ckpt_every, seed=seed, bf16=bf16, resume=resume, threads=threads,
        experimental_distributed=experimental_distributed))
    typer.echo(summary.get("final_model") or f"stopped at step {summary['step']}; rerun to resume")
