"""The stage runner on tiny stages: keys, reuse, re-running what changed, resuming an interrupted stage."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field, replace

import pytest

from toksmith.study.run import RESULT_FILE, Stage, run_stages


@dataclass(frozen=True)
class A:
    x: int = 1


@dataclass(frozen=True)
class B:
    y: int = 2
    crash_at: int = -1  # the "b" stage raises after this many items (an interruption)


@dataclass(frozen=True)
class Cfg:
    name: str = "t"
    a: A = field(default_factory=A)
    b: B = field(default_factory=B)


class Interrupted(Exception):
    pass


def make_stages(calls: list[str]):
    def sa(ctx):
        calls.append("a")
        return {"v": ctx.cfg.a.x * 10}

    def sb(ctx):  # checkpoints one item per line; a rerun continues after the last one
        calls.append("b")
        ck = ctx.dir / "items.jsonl"
        done = [json.loads(line) for line in ck.read_text().splitlines()] if ck.exists() else []
        ctx.total(5)
        with open(ck, "a") as f:
            for i in range(len(done), 5):
                if i == ctx.cfg.b.crash_at:
                    raise Interrupted(i)
                f.write(json.dumps(i) + "\n")
                f.flush()
                done.append(i)
                calls.append(f"b{i}")
                ctx.advance()
        return {"sum": ctx.inputs["a"]["v"] + ctx.cfg.b.y + sum(done)}

    def sc(ctx):
        calls.append("c")
        return {"out": ctx.inputs["b"]["sum"] * 2, "a_secs": ctx.seconds["b"] >= 0}

    def sd(ctx):  # depends on a only
        calls.append("d")
        return {"d": ctx.inputs["a"]["v"] + 1}

    return [Stage("a", (), ("a",), sa), Stage("b", ("a",), ("b",), sb), Stage("c", ("b",), (), sc),
            Stage("d", ("a",), (), sd)]


def test_finished_study_reruns_with_no_work(tmp_path):
    calls = []
    r1 = run_stages(Cfg(), make_stages(calls), tmp_path, progress=False)
    assert r1.stages["c"].result["out"] == 2 * (10 + 2 + 10)
    assert calls == ["a", "b", "b0", "b1", "b2", "b3", "b4", "c", "d"]
    calls.clear()
    r2 = run_stages(Cfg(), make_stages(calls), tmp_path, progress=False)
    assert calls == [] and all(s.reused for s in r2.stages.values())
    assert {n: s.result for n, s in r2.stages.items()} == {n: s.result for n, s in r1.stages.items()}


def test_deleting_one_stage_reruns_it_and_its_dependents_only(tmp_path):
    calls = []
    r = run_stages(Cfg(), make_stages(calls), tmp_path, progress=False)
    shutil.rmtree(r.stages["b"].dir)
    calls.clear()
    run_stages(Cfg(), make_stages(calls), tmp_path, progress=False)
    assert calls == ["b", "b0", "b1", "b2", "b3", "b4", "c"]  # b and what depends on it; a and d are reused
    (r.stages["c"].dir / RESULT_FILE).unlink()
    calls.clear()
    run_stages(Cfg(), make_stages(calls), tmp_path, progress=False)
    assert calls == ["c"]


def test_changing_one_setting_reruns_only_the_stages_that_depend_on_it(tmp_path):
    calls = []
    r1 = run_stages(Cfg(), make_stages(calls), tmp_path, progress=False)
    calls.clear()
    r2 = run_stages(replace(Cfg(), b=B(y=3)), make_stages(calls), tmp_path, progress=False)
    assert calls == ["b", "b0", "b1", "b2", "b3", "b4", "c"]  # a and d are reused
    assert r2.stages["b"].key != r1.stages["b"].key and r2.stages["a"].key == r1.stages["a"].key
    assert (r1.stages["b"].dir / RESULT_FILE).is_file()  # the old output is kept, not overwritten
    calls.clear()
    run_stages(replace(Cfg(), a=A(x=2)), make_stages(calls), tmp_path, progress=False)
    assert calls[0] == "a" and "c" in calls and "d" in calls


def test_an_interrupted_stage_resumes_where_it_stopped(tmp_path):
    calls = []
    crashing = replace(Cfg(), b=B(crash_at=3))
    with pytest.raises(Interrupted):
        run_stages(crashing, make_stages(calls), tmp_path, progress=False)
    assert calls == ["a", "b", "b0", "b1", "b2"]
    (bdir,) = (tmp_path / "b").iterdir()  # the stage's key directory, without its result
    lines = (bdir / "items.jsonl").read_text().splitlines()
    assert lines == ["0", "1", "2"] and not (bdir / RESULT_FILE).exists()
    assert not (tmp_path / "c").exists()  # nothing after the interrupted stage ran


def test_resume_continues_at_the_item(tmp_path):
    calls = []
    stages = make_stages(calls)
    cfg = Cfg()
    # interrupt b from outside its config: a stage function that raises once
    orig = stages[1].func
    state = {"n": 0}

    def flaky(ctx):
        if state["n"] == 0:
            state["n"] = 1
            ck = ctx.dir / "items.jsonl"
            ck.write_text("0\n1\n")  # two items were done before the kill
            calls.append("killed")
            raise Interrupted
        return orig(ctx)

    stages[1] = Stage("b", ("a",), ("b",), flaky)
    with pytest.raises(Interrupted):
        run_stages(cfg, stages, tmp_path, progress=False)
    calls.clear()
    r = run_stages(cfg, stages, tmp_path, progress=False)
    assert calls == ["b", "b2", "b3", "b4", "c", "d"]  # a reused; b continued at item 2
    assert r.stages["b"].result["sum"] == 10 + 2 + 10
