"""Config round trips, atomic artifacts, tokenizer adapters' error handling, and import hygiene."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toksmith import ToksmithError, load_reference, load_tokenizer
from toksmith.artifacts import atomic_dir, atomic_write_json, config_hash, file_hashes, verify_hashes
from toksmith.config import dumps_toml, from_dict, load_config, save_config, to_dict


@dataclasses.dataclass(frozen=True)
class Inner:
    share: float = 0.5
    names: tuple[str, ...] = ("a", "b")


@dataclasses.dataclass(frozen=True)
class Outer:
    size: int = 3
    label: str | None = None
    path: Path = Path("x/y")
    inner: Inner = Inner()
    table: dict[str, float] = dataclasses.field(default_factory=lambda: {"code": 0.7, "english": 0.3})


def test_config_round_trips_toml_and_json(tmp_path):
    cfg = Outer(size=7, label="L", inner=Inner(share=1, names=("z",)))
    for name in ("c.toml", "c.json"):
        save_config(cfg, tmp_path / name)
        assert load_config(Outer, tmp_path / name) == cfg
    assert "size = 7" in dumps_toml(cfg)
    assert from_dict(Outer, to_dict(cfg)) == cfg


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ToksmithError, match="unknown key.*sizee"):
        from_dict(Outer, {"sizee": 3})
    with pytest.raises(ToksmithError, match=r"Outer\.size: expected int"):
        from_dict(Outer, {"size": "three"})
    with pytest.raises(ToksmithError, match="does not exist"):
        load_config(Outer, tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("size = [")
    with pytest.raises(ToksmithError, match="does not parse"):
        load_config(Outer, tmp_path / "bad.toml")


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "tok"
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as d:
            (d / "tokenizer.json").write_text("{}")
            raise RuntimeError("interrupted")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    # success replaces an old directory only once the new one is complete
    out.mkdir()
    (out / "old").write_text("old")
    with atomic_dir(out) as d:
        (d / "new").write_text("new")
        assert (out / "old").exists()
    assert sorted(p.name for p in out.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["tok"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700


def test_hashes_detect_corruption(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    hashes = file_hashes(tmp_path)
    assert verify_hashes(tmp_path, hashes) == []
    (tmp_path / "a.json").write_text("{}")
    assert verify_hashes(tmp_path, hashes) == ["a.json"]
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})


@pytest.mark.parametrize("name", ["cl100k", "llama2", "starcoder"])
def test_lone_surrogate_is_a_clear_error(name):
    with pytest.raises(ToksmithError, match="lone surrogate"):
        load_reference(name).encode("ab\ud800cd")


def test_load_tokenizer_from_files_and_dirs(tmp_path):
    from toksmith.references import DATA_DIR

    text = "print('hello')\n"
    expected = load_reference("llama2").encode(text)
    assert load_tokenizer(DATA_DIR / "llama2" / "tokenizer.model").encode(text) == expected
    assert load_tokenizer(DATA_DIR / "llama2").encode(text) == expected
    assert load_tokenizer(DATA_DIR / "llama3" / "tokenizer.model").encode(text) == load_reference("llama3").encode(text)
    assert load_tokenizer(DATA_DIR / "gpt2" / "tokenizer.json.gz").encode(text) == load_reference("gpt2").encode(text)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ToksmithError, match="holds no tokenizer"):
        load_tokenizer(tmp_path / "empty")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ToksmithError, match="cannot load"):
        load_tokenizer(tmp_path / "junk.json")


def test_import_is_light():
    """`import toksmith` loads no model library and no network client (tiktoken's import-hygiene test)."""
    code = "import sys, toksmith; bad = [m for m in ('torch', 'transformers', 'ray', 'matplotlib', 'datasets', 'requests') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


def test_cli_error_is_one_line(tmp_path):
    exe = Path(sys.executable).with_name("toksmith")
    r = subprocess.run([str(exe), "ls", "nonsense"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "unknown listing 'nonsense'" in r.stderr and "Traceback" not in r.stderr


def test_ls_lists_every_registry():
    exe = Path(sys.executable).with_name("toksmith")
    out = subprocess.run([str(exe), "ls"], capture_output=True, text=True, check=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}).stdout
    for name in ("gpt4-num2", "identity", "deepseek-coder", "qwen2", "mbpp-sanitized", "llama2-70b", "smollm2-135m"):
        assert name in out, name
