"""What the model commands leave behind, end to end through the CLI on files written by the test: weights hashed
in the manifest with the artifact's file mode, chat template and generation config kept through transfer,
extension ("Merged") and fine-tuning, resume with changed options refused, warm-up clamped."""

from __future__ import annotations

import json
import stat

import pytest
from transfer_helpers import save_model, stdlib_texts

from toksmith.artifacts import sha256_file
from toksmith.cli import main

TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"


@pytest.fixture(scope="module")
def chat_model_dir(tmp_path_factory, old_tok_dir):
    """A tiny Llama with a chat template (tokenizer_config.json key and chat_template.jinja) and a sampling
    generation config, as an instruct model directory has."""
    from tokenizers import Tokenizer
    from transformers import GenerationConfig

    from toksmith.models import tiny_llama

    v = Tokenizer.from_file(str(old_tok_dir / "tokenizer.json")).get_vocab_size()
    model = tiny_llama(v, seed=3, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=0, do_sample=True,
                                               temperature=0.2, top_p=0.9, max_new_tokens=77)
    d = save_model(model, old_tok_dir, tmp_path_factory.mktemp("chat") / "model")
    (d / "tokenizer_config.json").write_text(json.dumps({"chat_template": TEMPLATE, "eos_token": "<|im_end|>"}))
    (d / "chat_template.jinja").write_text(TEMPLATE)
    return d


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    for i, t in enumerate(stdlib_texts()):
        (d / f"{i}.py").write_text(t)
    return d


def _modes(directory):
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir() if p.is_file()}


def _assert_chat_and_generation_kept(d):
    from transformers import AutoTokenizer, GenerationConfig

    assert json.loads((d / "tokenizer_config.json").read_text())["chat_template"] == TEMPLATE
    assert (d / "chat_template.jinja").read_text() == TEMPLATE
    tok = AutoTokenizer.from_pretrained(d)
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert text == "<|im_start|>user\nhi<|im_end|>\n"
    gen = GenerationConfig.from_pretrained(d)
    assert (gen.do_sample, gen.temperature, gen.top_p, gen.max_new_tokens) == (True, 0.2, 0.9, 77)
    cfg = json.loads((d / "config.json").read_text())
    assert (gen.bos_token_id, gen.eos_token_id) == (cfg["bos_token_id"], cfg["eos_token_id"])  # remapped ids


def test_transfer_manifest_hashes_weights_with_the_artifacts_mode(tmp_path, chat_model_dir, new_tok_dir):
    out = tmp_path / "m"
    main(["transfer", str(chat_model_dir), str(new_tok_dir), "--out", str(out), "--threads", "1"])
    manifest = json.loads((out / "transfer.json").read_text())
    assert manifest["weights_sha256"] == {"model.safetensors": sha256_file(out / "model.safetensors")}
    modes = _modes(out)
    assert len(set(modes.values())) == 1, modes  # safetensors writes 0600; every file gets the same mode
    assert modes["model.safetensors"] == modes["transfer.json"]
    assert manifest["config"]["threads"] == 1
    _assert_chat_and_generation_kept(out)


def test_extended_transfer_and_finetune_keep_chat_template_and_generation_config(tmp_path, chat_model_dir, data_dir):
    ext, model, run = tmp_path / "ext", tmp_path / "merged", tmp_path / "run"
    main(["extend", str(chat_model_dir), "--out", str(ext), "--n-new", "20", "--data", str(data_dir)])
    main(["transfer", str(chat_model_dir), str(ext), "--out", str(model)])
    _assert_chat_and_generation_kept(model)
    main(["finetune", str(model), "--out", str(run), "--train-data", str(data_dir), "--eval-data",
          str(data_dir / "0.py"), "--steps", "1", "--seq-len", "16", "--batch-size", "1", "--warmup-steps", "1",
          "--eval-max-bytes", "300", "--threads", "1"])
    final = run / "final"
    _assert_chat_and_generation_kept(final)
    meta = json.loads((final / "finetune.json").read_text())
    assert meta["weights_sha256"] == {"model.safetensors": sha256_file(final / "model.safetensors")}
    assert len(set(_modes(final).values())) == 1


def _finetune(model, run, data_dir, *extra):
    """``toksmith finetune`` with small options; ``extra`` flag/value pairs replace the defaults (a flag is given once)."""
    opts = {"--train-data": str(data_dir), "--eval-data": str(data_dir / "0.py"), "--steps": "4", "--seq-len": "16",
            "--batch-size": "1", "--warmup-steps": "1", "--eval-max-bytes": "300", "--eval-every": "0", "--threads": "1"}
    opts.update(zip(extra[::2], extra[1::2]))
    main(["finetune", str(model), "--out", str(run), *(x for kv in opts.items() for x in kv)])


@pytest.fixture(scope="module")
def transferred(tmp_path_factory, old_model_dir, new_tok_dir):
    out = tmp_path_factory.mktemp("t") / "m"
    main(["transfer", str(old_model_dir), str(new_tok_dir), "--out", str(out)])
    return out


def test_finetune_resume_with_changed_options_is_refused(tmp_path, transferred, data_dir, capsys):
    run = tmp_path / "run"
    _finetune(transferred, run, data_dir, "--max-steps", "2")
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    ckpt_modes = {stat.S_IMODE(p.stat().st_mode) for p in (run / "checkpoints").rglob("*") if p.is_file()}
    assert ckpt_modes == {stat.S_IMODE((run / "metrics.jsonl").stat().st_mode)}  # weights too, not 0600
    metrics = (run / "metrics.jsonl").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        _finetune(transferred, run, data_dir, "--lr", "0.01")
    assert e.value.code == 2
    err = " ".join(capsys.readouterr().err.split())  # one message (the console may wrap it at its width)
    assert "Traceback" not in err and err.count("error:") == 1, err
    assert "--lr 0.0003 -> 0.01" in err and "other options" in err
    # nothing changed by the refused run; the same options (and another --max-steps) resume and finish
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ckpts
    assert (run / "metrics.jsonl").read_text() == metrics
    _finetune(transferred, run, data_dir, "--max-steps", "4", "--threads", "2")
    assert json.loads((run / "summary.json").read_text())["step"] == 4


def test_warmup_longer_than_the_run_is_clamped_with_a_warning(tmp_path, transferred, data_dir, capsys):
    run = tmp_path / "run"
    main(["finetune", str(transferred), "--out", str(run), "--train-data", str(data_dir), "--eval-data",
          str(data_dir / "0.py"), "--steps", "2", "--seq-len", "16", "--batch-size", "1", "--warmup-steps", "20",
          "--eval-max-bytes", "300", "--lr", "0.001", "--threads", "1"])  # the CLI's log handler prints the warning
    printed = capsys.readouterr()
    printed = " ".join((printed.out + printed.err).split())
    assert "WARNING" in printed and "warm-up of 20 steps is longer than the run (2 steps): clamped to 2" in printed
    assert json.loads((run / "finetune_config.json").read_text())["warmup_steps"] == 2
    lrs = [r["lr"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "lr" in r]
    assert lrs == pytest.approx([0.0005, 0.001])  # the peak is reached at the end of the (clamped) warm-up


def test_multi_process_launch_is_refused_unless_asked():
    from toksmith.errors import ToksmithError
    from toksmith.transfer.finetune import check_distributed

    check_distributed(1, allowed=False)
    check_distributed(2, allowed=True)
    with pytest.raises(ToksmithError, match="experimental.*--experimental-distributed"):
        check_distributed(2, allowed=False)
