"""Every ``toksmith ...`` command in the README's code blocks runs as written (issue 15 item 9).

The fast test parses each command with the real CLI (the subcommand exists, every flag and argument is accepted);
the slow test runs them in order in a temporary directory holding the input files the README assumes, reduced in
size only where the full command takes minutes (:data:`REDUCE`, each key checked to still be in the README).
"""

from __future__ import annotations

import gzip
import json
import re
import shlex
from pathlib import Path

import pytest

from toksmith.cli import _load_commands, app, main

README = Path(__file__).resolve().parents[1] / "README.md"

# Subcommands the README may name before they exist (none: every README command must exist).
ALLOWED_MISSING_SUBCOMMANDS: set[str] = set()

# Substitutions that keep a command's meaning but shrink it (full size takes minutes on 2 cores).
REDUCE = {
    "--vocab-size 64k --preset gpt4 --chars 100M": "--vocab-size 2k --preset gpt4 --chars 1M --backend toksmith",
    "count --out runs/default.counts --chars 100000000": "count --out runs/default.counts --chars 2M",
    "--counts runs/default.counts --vocab-size 64000": "--counts runs/default.counts --vocab-size 3000",
    "--counts runs/default.counts --vocab-size 32768": "--counts runs/default.counts --vocab-size 1500",
    "train src/ 'docs/*.md' --vocab-size 32k": "train src/ 'docs/*.md' --vocab-size 300 --backend toksmith",
    "--mix code=0.7,english=0.3 --vocab-size 32k": "--mix code=0.7,english=0.3 --vocab-size 300 --backend toksmith",
    "--nsl tokenizers:runs/tok32k,runs/tok64k": "--nsl tokenizers:runs/tok32k,runs/tok64k --v-min 1000",
    "--address auto": "--engine inline",  # no Ray cluster in the test: the same map-reduce, in-process
    "sweep vocab --values 16k,32k,64k,100k": "sweep vocab --values 2k,4k,8k --corpus-chars 1M",
    "sweep preset": "sweep preset --values gpt4,punct --vocab-size 2k --corpus-chars 1M",
    "sweep mix --values": "sweep mix --vocab-size 2k --corpus-chars 1M --values",
    "speed -m smollm2-135m": "speed -m smollm2-135m --vocab 16k,32k --tokenizers llama2 --repeats 1 --new-tokens 4 "
                             "--gen-bytes 64",
    "train --vocab-size 32768 --out tokenizers/gpt4-32k": "train --vocab-size 2000 --chars 1M --backend toksmith "
                                                          "--out tokenizers/gpt4-32k",
}
# Commands the slow README run skips because they take minutes and another slow test runs them end to end.
COVERED_ELSEWHERE = {
    "run": "tests/study/test_study_slow.py",
    "quickstart": "tests/study/test_quickstart.py",
    "transfer": "tests/transfer/test_cli_models.py",
    "finetune": "tests/transfer/test_cli_models.py, tests/transfer/test_finetune.py",
    "extend": "tests/transfer/test_cli_models.py",
    "evaluate": "tests/codegen/test_codegen_evaluate.py",
}


def readme_commands(text: str | None = None) -> list[list[str]]:
    """The argv of every ``toksmith`` command line in the README's fenced code blocks, in order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    out = []
    for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words.pop(0)  # VAR=value prefixes
            if words and Path(words[0]).name == "toksmith":
                out.append(words[1:])
    return out


def test_readme_has_the_commands_this_test_runs():
    cmds = readme_commands()
    assert len(cmds) >= 20
    subs = {c[0] for c in cmds}
    assert {"train", "compare", "cost", "sweep", "count", "encode"} <= subs
    # the user's own files, one command each (issue 15 "done when")
    assert any(c[0] == "train" and c[1] == "src/" for c in cmds)
    assert any(c[0] == "compare" and "--corpus" in c for c in cmds)
    text = README.read_text(encoding="utf-8")
    for key in REDUCE:
        assert key in text, f"REDUCE key no longer in the README: {key!r}"


def test_every_readme_command_parses_with_the_real_cli():
    import typer.main

    _load_commands()
    group = typer.main.get_command(app)
    for argv in readme_commands():
        name = argv[0]
        if name not in group.commands:
            assert name in ALLOWED_MISSING_SUBCOMMANDS, f"README command `toksmith {' '.join(argv)}`: no such command"
            continue
        cmd = group.commands[name]
        cmd.make_context(name, list(argv[1:]))  # raises on an unknown flag or a missing argument


def _inputs(root: Path) -> None:
    """The files the README's commands take as given: the user's own data, a TOML, sharded JSONL."""
    words = "class public static void return import the option file directory print manual page".split()
    (root / "src").mkdir()
    (root / "docs" / "man").mkdir(parents=True)
    for i in range(12):
        body = "\n".join(" ".join(words[(i * j + k) % len(words)] for k in range(9)) for j in range(40))
        (root / "src" / f"M{i}.java").write_text(body)
        (root / "docs" / f"p{i}.md").write_text(body.upper())
        (root / "docs" / "man" / f"m{i}.1").write_text(body[::-1])
        (root / f"t{i}.ts").write_text(f"export const x{i}: number = {i};\n" * 20)
    for dom, sub in (("code", "java"), ("english", "man")):
        d = root / "mydata" / dom / sub
        d.mkdir(parents=True)
        (d / "x.jsonl").write_text("".join(json.dumps({"body": " ".join(words[k:] + words[:k]) * 5}) + "\n"
                                           for k in range(len(words))) * 8)
    (root / "java.jsonl").write_text("".join(json.dumps({"text": f"int f{i}() {{ return {i}; }}"}) + "\n"
                                             for i in range(50)))
    (root / "my.toml").write_text('vocab_size = 300\n[corpus]\ntotal_chars = 500000\n'
                                  '[[corpus.sources]]\npath = "src"\ndomain = "code"\nsubset = "java"\n')
    (root / "data").mkdir()
    (root / "data" / "part-0.jsonl.gz").write_bytes(gzip.compress(b'{"text": "def f(x):\\n    return x\\n"}\n' * 50))


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path, monkeypatch):
    _inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    text = README.read_text(encoding="utf-8")
    for key, value in REDUCE.items():
        text = text.replace(key, value)
    ran = []
    for argv in readme_commands(text):
        if argv[0] in COVERED_ELSEWHERE or argv[0] in ALLOWED_MISSING_SUBCOMMANDS:
            continue
        with pytest.raises(SystemExit) as e:
            main(argv)
            raise SystemExit(0)
        assert e.value.code == 0, f"README command failed: toksmith {shlex.join(argv)}"
        ran.append(argv[0])
    assert {"train", "count", "compare", "paper-check", "sweep", "cost", "speed", "encode", "info"} <= set(ran)
