"""Study configs: the shipped ones load, round-trip TOML/JSON, and bad values name the file and key path."""

from __future__ import annotations

import dataclasses
import doctest
import subprocess
import sys
from pathlib import Path

import pytest

from toksmith.config import save_config, to_dict
from toksmith.errors import ToksmithError
from toksmith.study import check_runnable, load_study
from toksmith.study import config as study_config
from toksmith.study.config import StudyConfig, transfer_methods

ROOT = Path(__file__).parents[2]
EXE = Path(sys.executable).with_name("toksmith")


@pytest.mark.parametrize("name", ["quickstart", "paper"])
def test_shipped_configs_round_trip(name, tmp_path):
    cfg = load_study(ROOT / "configs" / f"{name}.toml")
    assert cfg.name == name
    for suffix in (".toml", ".json"):
        p = save_config(cfg, tmp_path / f"again{suffix}")
        assert load_study(p) == cfg
    assert to_dict(load_study(tmp_path / "again.toml")) == to_dict(cfg)


def test_quickstart_uses_every_transfer_method_it_names_from_the_registry():
    cfg = load_study(ROOT / "configs" / "quickstart.toml")
    assert set(cfg.transfer.methods) <= set(transfer_methods()) and "fvt" in cfg.transfer.methods


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "x.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, expected", [
    ('[transfer]\nmethods = ["fvt", "fvtt"]', "transfer.methods[1]: unknown method 'fvtt'; known: "),
    ('[tokenizers]\nvocab_sizes = [100, 8000, 16000]', "tokenizers.vocab_sizes[0]: vocabulary 100 is smaller than the byte alphabet"),
    ('[corpus]\nmix = { code = 0.7, english = 0.4 }', "corpus.mix: shares add up to 1.1, not 1"),
    ('[codegen]\nn_samples = 1\nks = [1, 10]', "codegen.ks[1]: pass@10 needs 1 <= k <= n_samples (1)"),
    ('[transfer]\nstepz = 3', "transfer: unknown key(s) stepz"),
    ('[transfer]\nsteps = "many"', "transfer.steps: expected int, got str"),
    ('[tokenizers]\npresets = ["gpt5"]', "tokenizers.presets[0]: unknown preset 'gpt5'"),
    ('[tokenizers]\nreferences = ["llama9"]', "tokenizers.references[0]: unknown reference 'llama9'"),
    ('[costs]\nshapes = ["llama2-8b"]', "costs.shapes[0]: unknown model shape 'llama2-8b'"),
    ('nme = "x"', "(top level): unknown key(s) nme"),
])
def test_bad_values_name_the_file_and_key_path(tmp_path, text, expected):
    p = _write(tmp_path, text)
    with pytest.raises(ToksmithError) as e:
        load_study(p)
    assert str(e.value).startswith(f"{p}: ")
    assert expected in str(e.value)


def test_a_model_that_does_not_exist_is_rejected_before_work(tmp_path):
    cfg = load_study(_write(tmp_path, f'runs_dir = "{tmp_path}"\n[transfer]\nmodel = "{tmp_path}/nope"'))
    with pytest.raises(ToksmithError, match="transfer.model: .*nope.* neither smollm2 nor a Hugging Face model"):
        check_runnable(cfg)
    r = subprocess.run([str(EXE), "run", str(tmp_path / "x.toml")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "transfer.model" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "quickstart").exists()  # nothing was written


def test_cli_bad_config_is_one_line(tmp_path):
    p = _write(tmp_path, '[transfer]\nmethods = ["fvt", "fvtt"]')
    r = subprocess.run([str(EXE), "run", str(p), "--dry-run"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert f"{p}: transfer.methods[1]: unknown method 'fvtt'" in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr


def test_paper_dry_run_prints_the_plan():
    r = subprocess.run([str(EXE), "run", str(ROOT / "configs" / "paper.toml"), "--dry-run"], capture_output=True,
                       text=True, timeout=300, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    for stage in ("tokenizers", "compare", "costs", "transfer", "finetune", "codegen", "speed", "report"):
        assert f"│ {stage}" in out
    for engine in ("Ray", "FSDP", "vLLM"):
        assert engine in out
    assert "GPU-hours" in out and "valid" in out


def test_paper_plan_numbers_follow_the_cost_model():
    from toksmith.costs import model as M
    from toksmith.costs.shapes import load_shape
    from toksmith.study.plan import plan

    cfg = load_study(ROOT / "configs" / "paper.toml")
    rows = {r.stage: r for r in plan(cfg)}
    t = cfg.transfer
    tokens = t.steps * t.batch_size * t.seq_len
    assert tokens == pytest.approx(500e9, rel=0.01)  # the paper's 500B tokens per model
    n = M.total_params(load_shape(t.shape), cfg.tokenizers.size)
    ft = rows["finetune"]
    assert ft.flops >= 6 * n * tokens * (1 + len(t.methods))
    assert ft.gpu_hours == pytest.approx(ft.flops / (cfg.engines.gpu_flops * cfg.engines.mfu) / 3600)


def test_ci_scale_keeps_the_config_valid():
    cfg = study_config.ci_scaled(StudyConfig())
    assert dataclasses.replace(cfg) == cfg and cfg.codegen.problems == 2


def test_doctests():
    from toksmith.study import plan, report, run

    for mod in (plan, report, run, study_config):
        assert doctest.testmod(mod).failed == 0
