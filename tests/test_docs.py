"""Every example in the documentation runs: the ``>>>`` examples of every module in ``src/toksmith`` (doctest) and
every ```` ```python ```` block of ``docs/**/*.md`` and ``README.md`` (executed in a fresh namespace, in a temporary
working directory, so a block that writes files cannot touch the repository)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import toksmith

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "toksmith"


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(toksmith.__path__, prefix="toksmith."):
        path = SRC.joinpath(*info.name.split(".")[1:])
        source = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
        # a ">>> # ..." line is a comment, not an example (doctest collects nothing from it)
        if source.is_file() and re.search(r"^\s*>>> (?!#)", source.read_text(encoding="utf-8"), flags=re.M):
            names.append(info.name)
    return sorted(names)


MODULES = _modules()


def _python_blocks() -> list[tuple[str, int, str]]:
    blocks = []
    docs = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
    for md in docs:
        text = md.read_text(encoding="utf-8")
        for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((str(md.relative_to(ROOT)), line, match.group(1)))
    return blocks


BLOCKS = _python_blocks()


def test_the_collectors_find_the_examples() -> None:
    # 14 modules carried runnable examples when this test was written; the collector must not silently find none.
    assert len(MODULES) >= 14, MODULES
    assert any(path == "docs/costs.md" for path, _, _ in BLOCKS)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    assert tests, f"{name} has '>>>' in its source but no example was collected"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"


@pytest.mark.parametrize("path,line,code", BLOCKS, ids=[f"{p}:{n}" for p, n, _ in BLOCKS])
def test_markdown_python_blocks(path: str, line: int, code: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{path}:{line}", "exec"), {"__name__": "__docs__"})
