"""Helpers shared by the transfer tests: real HF byte-level BPE tokenizers trained on stdlib text."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

OLD_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
NEW_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<pad>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]


def stdlib_texts(names=("textwrap.py", "shlex.py", "bisect.py", "heapq.py", "fnmatch.py", "colorsys.py")) -> list[str]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    return [(lib / n).read_text(encoding="utf-8") for n in names]


def train_bytelevel(texts, vocab_size: int, specials, out: Path, manifest: bool = False) -> Path:
    """A real HF byte-level BPE tokenizer.json (specials first, then the 256 bytes, then merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    if manifest:  # a toksmith-style directory without a tiktoken file: loads through HF
        (out / "toksmith.json").write_text(json.dumps({
            "name": out.name, "pattern": None, "special_tokens": {s: i for i, s in enumerate(specials)}}))
    return out


def save_model(model, tok_dir: Path, out: Path) -> Path:
    import shutil

    model.save_pretrained(out)
    shutil.copyfile(tok_dir / "tokenizer.json", out / "tokenizer.json")
    return out
