"""Tokenizer-switch surgery on a Hugging Face causal LM: new input embeddings and output head, saved as a model dir.

:func:`transfer` is the stage (``toksmith transfer``): load the model and both tokenizers, map tokens
(:func:`toksmith.transfer.fvt.token_map`), build the new rows (:func:`~toksmith.transfer.fvt.init_rows`) for the
input embedding and, for untied models, the output head (tied models stay tied: one matrix), set the config's
``vocab_size`` and ``bos/eos/pad_token_id``, and write atomically a directory that
``AutoModelForCausalLM.from_pretrained`` / ``AutoTokenizer.from_pretrained`` (and vLLM) load directly:
``model.safetensors``, ``config.json``, ``generation_config.json``, ``tokenizer.json`` + ``tokenizer_config.json``
(plus toksmith's ``tokenizer.tiktoken``/``toksmith.json`` when the tokenizer is a toksmith directory) and
``transfer.json``, the manifest (old model, sha256 of the weight and tokenizer files, method, overlap
statistics). The old model's chat template (tokenizer_config.json's ``chat_template`` or
``chat_template.jinja``) and generation config are kept unless the new tokenizer brings its own template.

Limits: models whose embedding is an ``nn.Embedding`` and whose head is an ``nn.Linear`` (every HF decoder-only
LM); the head bias, if any, gets the same mapping. Vocabulary padding rows get the mean of the old rows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

from ..artifacts import atomic_dir, atomic_write_json, sha256_file
from ..errors import ToksmithError, check_fields
from ..references import load_tokenizer
from ..tokenizer import HF_FILE, MANIFEST_FILE, TIKTOKEN_FILE, Tokenizer
from .fvt import check_roles, init_rows, roles_by_name, token_map
from .methods import METHODS

log = logging.getLogger(__name__)

MANIFEST = "transfer.json"
TOKENIZER_FILES = (HF_FILE, TIKTOKEN_FILE, MANIFEST_FILE)


@dataclasses.dataclass(frozen=True)
class TransferConfig:
    """One tokenizer switch. ``model``: ``smollm2`` or an HF model dir; ``tokenizer``: the new tokenizer dir."""

    model: str
    tokenizer: Path
    out_dir: Path
    method: str = "freq"  # a name of methods.METHODS; freq (frequency-weighted FVT) measured best in bench/transfer_init.md
    pad_to_multiple_of: int = 1  # 64 gives tensor-core friendly shapes; padding rows are never produced
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    noise: float = 0.01  # std of the noise of `mean`, relative to the std of the old embeddings
    overwrite: bool = False
    identity_prefix: int = 0  # ids below this keep their old rows (set by `extend`)
    untie: bool = False  # give a tied model a separate output head (needed by the `-logprob` methods)
    calib_bytes: int = 16384  # training-split code the statistics-based methods run the old model on

    def __post_init__(self):
        if self.method not in METHODS:
            from ..errors import unknown_name

            raise unknown_name("TransferConfig.method", self.method, METHODS)
        check_fields(self, pad_to_multiple_of=1, noise=0, threads=0)


def model_roles(model, old_tok: Tokenizer) -> dict[str, int]:
    """Role -> old id: bos/eos/pad from the model config, FIM (and missing ones) from the tokenizer's spellings."""
    roles = roles_by_name(old_tok.special_tokens)
    for role in ("bos", "eos", "pad"):
        v = getattr(model.config, f"{role}_token_id", None)
        if isinstance(v, (list, tuple)):
            v = v[0] if v else None
        if v is not None:
            roles[role] = int(v)
    return roles


def tokenizer_roles(tok: Tokenizer, directory: Path | None) -> dict[str, int]:
    """Role -> new id from spellings, overridden by ``bos_token``/``eos_token``/``pad_token`` in tokenizer_config."""
    roles = roles_by_name(tok.special_tokens)
    cfg_path = directory / "tokenizer_config.json" if directory is not None else None
    if cfg_path is not None and cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        for role in ("bos", "eos", "pad"):
            name = cfg.get(f"{role}_token")
            name = name.get("content") if isinstance(name, dict) else name
            if name and name in tok.special_tokens:
                roles[role] = tok.special_tokens[name]
    return roles


def _embeddings(model):
    import torch.nn as nn

    try:
        emb = model.get_input_embeddings()
    except (NotImplementedError, AttributeError):
        emb = None
    if not isinstance(emb, nn.Embedding):
        raise ToksmithError(
            f"model {type(model).__name__} has no input embedding matrix (get_input_embeddings() gave "
            f"{type(emb).__name__}); tokenizer transfer needs a decoder LM with an nn.Embedding"
        )
    head = model.get_output_embeddings()
    if not isinstance(head, nn.Linear):
        raise ToksmithError(
            f"model {type(model).__name__} has no output head (get_output_embeddings() gave {type(head).__name__}); "
            "load it with AutoModelForCausalLM"
        )
    return emb, head


def is_tied(model) -> bool:
    emb, head = _embeddings(model)
    return head.weight is emb.weight or head.weight.data_ptr() == emb.weight.data_ptr()


def swap_vocabulary(model, mapping: dict[int, list[int]], method: str, num_rows: int, seed: int = 0,
                    noise: float = 0.01, untie: bool = False, old_tok: Tokenizer | None = None,
                    new_tok: Tokenizer | None = None, calib_texts=None) -> None:
    """Replace the model's input embedding and output head in place with ``num_rows`` rows built by ``method``.

    ``method``: a name of :data:`toksmith.transfer.methods.METHODS`. Statistics-based methods run the old model
    (before the swap) over ``calib_texts`` tokenized with ``old_tok``; ``focus`` reads them with ``new_tok``.
    A tied model stays tied unless ``untie``.
    """
    import torch
    import torch.nn as nn

    from .methods import InitContext, calibration_ids, get_method, model_stats, token_counts

    init = get_method(method)
    emb, head = _embeddings(model)
    top = max((i for ids in mapping.values() for i in ids), default=-1)
    if top >= emb.weight.shape[0]:
        raise ToksmithError(
            f"the old tokenizer has id {top} but the model's embedding has only {emb.weight.shape[0]} rows; "
            "the model directory's tokenizer does not belong to this model"
        )
    tied = is_tied(model)
    std = float(getattr(model.config, "initializer_range", 0.02))
    texts = list(calib_texts or [])
    ctx = InitContext(
        E_in=emb.weight, E_out=None if tied and not untie else head.weight, mapping=mapping, num_rows=num_rows,
        std=std, noise=noise, seed=seed,
        stats_fn=(lambda: model_stats(model, old_tok, texts)) if old_tok is not None and texts else None,
        counts_fn=(lambda: token_counts(model, calibration_ids(model, old_tok, texts))) if old_tok is not None and texts else None,
        new_texts_fn=(lambda: new_tok.encode_batch(texts)) if new_tok is not None and texts else None)
    with torch.no_grad():
        rows = init(ctx)
        new_emb = nn.Embedding(num_rows, emb.weight.shape[1], dtype=emb.weight.dtype, device=emb.weight.device)
        new_emb.weight.copy_(rows.emb)
        model.set_input_embeddings(new_emb)
        new_head = nn.Linear(head.in_features, num_rows, bias=head.bias is not None, dtype=head.weight.dtype,
                             device=head.weight.device)
        if rows.head is None:
            new_head.weight = new_emb.weight
        else:
            new_head.weight.copy_(rows.head)
        if head.bias is not None:
            b = init_rows(head.bias.unsqueeze(1), mapping, "mean" if method in ("mean", "random") else "fvt", num_rows,
                          noise=0.0)
            new_head.bias.copy_(b.squeeze(1))
        model.set_output_embeddings(new_head)
    model.config.vocab_size = num_rows
    text_config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    text_config.vocab_size = num_rows
    if rows.head is not None and tied:
        model.config.tie_word_embeddings = False
        text_config.tie_word_embeddings = False


def write_hf_tokenizer(src: Path, out: Path, tok: Tokenizer, roles: dict[str, int], max_length: int) -> None:
    """Copy the tokenizer files and write ``tokenizer_config.json`` naming the special tokens by role."""
    src_dir = src if src.is_dir() else src.parent
    if src.is_file():
        if src.name != HF_FILE:
            raise ToksmithError(f"new tokenizer {src} must be a tokenizer.json or a directory holding one")
        shutil.copyfile(src, out / HF_FILE)
    else:
        if not (src / HF_FILE).is_file():
            raise ToksmithError(f"new tokenizer directory {src} has no {HF_FILE}; the model directory needs one")
        for name in TOKENIZER_FILES:
            if (src / name).is_file():
                shutil.copyfile(src / name, out / name)
    id_to_name = {i: s for s, i in tok.special_tokens.items()}
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "add_eos_token": False,
    }
    old_cfg = src_dir / "tokenizer_config.json"
    if old_cfg.is_file():
        cfg = {**json.loads(old_cfg.read_text(encoding="utf-8")), **cfg}
    for role in ("bos", "eos", "pad"):
        if role in roles:
            cfg[f"{role}_token"] = id_to_name.get(roles[role], tok.token_bytes(roles[role]).decode("utf-8", "replace"))
    atomic_write_json(out / "tokenizer_config.json", cfg)


CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def copy_chat_template(sources: tuple[Path, ...], out: Path) -> str | None:
    """Give ``out`` the chat template of the first source directory that has one (a ``chat_template`` key in
    its tokenizer_config.json, or a ``chat_template.jinja``/``.json`` file); returns that directory, or None.

    ``transfer`` passes the new tokenizer's directory, then the old model's: a model keeps its chat template
    unless the new tokenizer brings its own.
    """
    cfg_path = out / "tokenizer_config.json"
    for src in sources:
        src_cfg = src / "tokenizer_config.json"
        key = json.loads(src_cfg.read_text(encoding="utf-8")).get("chat_template") if src_cfg.is_file() else None
        files = [n for n in CHAT_TEMPLATE_FILES if (src / n).is_file()]
        if not key and not files:
            continue
        for name in files:
            shutil.copyfile(src / name, out / name)
        if key:
            cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
            atomic_write_json(cfg_path, {**cfg, "chat_template": key})
        return str(src)
    return None


def calibration_texts(max_bytes: int) -> list[str]:
    """The first ``max_bytes`` of the training split's code (never the held-out documents) for method statistics."""
    from .data import training_texts

    out, total = [], 0
    for t in training_texts("default"):
        t = t.encode("utf-8")[: max_bytes - total].decode("utf-8", "ignore")
        out.append(t)
        total += len(t.encode("utf-8"))
        if total >= max_bytes - 16:
            break
    return out


def transfer(cfg: TransferConfig) -> Path:
    """Run the switch described by ``cfg``; returns the output model directory."""
    from ..models import load_causal_lm, save_model

    out = Path(cfg.out_dir)
    if out.exists() and not cfg.overwrite:
        raise ToksmithError(f"output directory {out} exists; pass overwrite=True (--overwrite) or choose another one")
    new_src = Path(cfg.tokenizer)
    if not new_src.exists():
        raise ToksmithError(f"new tokenizer {new_src} does not exist; pass a tokenizer directory (toksmith train)")
    new_tok = load_tokenizer(new_src)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    model, model_dir = load_causal_lm(cfg.model)
    old_tok = load_tokenizer(model_dir)
    _embeddings(model)  # fail early on a model without embeddings
    old_roles = model_roles(model, old_tok)
    new_roles = tokenizer_roles(new_tok, new_src if new_src.is_dir() else new_src.parent)
    for role, old_id in old_roles.items():  # a new special token spelled like an old role token takes its role
        text = old_tok.token_bytes(old_id).decode("utf-8", "replace") if old_id < old_tok.vocab_size else None
        if text in new_tok.special_tokens:
            new_roles[role] = new_tok.special_tokens[text]
    needed = ["eos"] + (["bos"] if old_roles.get("bos") is not None else [])
    check_roles(needed, new_roles, str(new_src))
    if "pad" not in new_roles:
        new_roles["pad"] = new_roles["eos"]

    from .extend import extension_prefix

    prefix = cfg.identity_prefix or (extension_prefix(new_src, model_dir) if new_src.is_dir() else 0)
    mapping, stats = token_map(old_tok, new_tok, old_roles, new_roles, identity_prefix=prefix)
    m = cfg.pad_to_multiple_of
    num_rows = -(-new_tok.vocab_size // m) * m
    tied_before = is_tied(model)
    from .methods import NEEDS_NEW_TEXT, NEEDS_STATS, SEPARATE_HEAD

    if cfg.method in SEPARATE_HEAD and tied_before and not cfg.untie:
        raise ToksmithError(f"method {cfg.method!r} builds a separate output head but {model_dir.name} is tied; "
                            "pass --untie or choose a method without '-logprob'")
    calib = calibration_texts(cfg.calib_bytes) if cfg.method in NEEDS_STATS | NEEDS_NEW_TEXT else None
    swap_vocabulary(model, mapping, cfg.method, num_rows, seed=cfg.seed, noise=cfg.noise, untie=cfg.untie,
                    old_tok=old_tok, new_tok=new_tok, calib_texts=calib)
    for role in ("bos", "eos", "pad"):
        setattr(model.config, f"{role}_token_id", new_roles.get(role))
        if getattr(model, "generation_config", None) is not None:
            setattr(model.generation_config, f"{role}_token_id", new_roles.get(role))
    log.info("transfer %s -> %s (%s): %d of %d new tokens exist in the old vocabulary (%.1f%%), %d composed",
             model_dir.name, new_src.name, cfg.method, stats.exact, stats.new_vocab, 100 * stats.overlap, stats.composed)

    from ..config import to_dict

    with atomic_dir(out) as d:
        weights = save_model(model, d)  # generation_config.json included (ids remapped above)
        max_len = int(getattr(model.config, "max_position_embeddings", 2048))
        write_hf_tokenizer(new_src, d, new_tok, new_roles, max_len)
        template_from = copy_chat_template((new_src if new_src.is_dir() else new_src.parent, model_dir), d)
        atomic_write_json(d / MANIFEST, {
            "kind": "toksmith-transfer",
            "config": to_dict(cfg),
            "old_model": str(model_dir),
            "weights_sha256": weights,
            "chat_template_from": template_from,
            "old_model_config_sha256": sha256_file(model_dir / "config.json"),
            "old_tokenizer": {"name": old_tok.name, "vocab_size": old_tok.vocab_size},
            "new_tokenizer": {"name": new_tok.name, "vocab_size": new_tok.vocab_size,
                              "files": {n: sha256_file(d / n) for n in TOKENIZER_FILES if (d / n).is_file()}},
            "rows": num_rows,
            "identity_prefix": prefix,
            "tied": tied_before,
            "roles": {"old": old_roles, "new": new_roles},
            "stats": stats.as_dict(),
        })
    return out
