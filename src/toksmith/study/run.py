"""Running a study: stages in order, each cached under ``<run_dir>/<stage>/<key>/``.

A stage's key is ``config_hash`` of its name, its version, the config sections it reads and the keys of the stages
it depends on. A stage is done when ``result.json`` exists in its key directory (written atomically, last), so:

* a re-run of a finished study loads every ``result.json`` and does no work;
* an interrupted stage finds its key directory without ``result.json`` and runs again in it; stages that
  checkpoint (fine-tuning, evaluation) resume there at the step or sample where they stopped;
* a stage whose input stage ran again (its output was deleted) runs again from scratch;
* changing one setting changes the keys of the stages that read it and of those after them only; their new key
  directories are filled, older ones are left as they were (never overwritten).

>>> s = Stage("a", (), ("corpus",), lambda ctx: {"x": 1})
>>> stage_key(s, {"corpus": {"chars": 1}}, {}) == stage_key(s, {"corpus": {"chars": 1}}, {})
True
>>> stage_key(s, {"corpus": {"chars": 1}}, {}) == stage_key(s, {"corpus": {"chars": 2}}, {})
False
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..artifacts import atomic_write_json, config_hash
from ..config import save_config, to_dict
from ..errors import ToksmithError

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
STUDY_FILE = "study.toml"


@dataclass(frozen=True)
class Stage:
    """One step of a study: ``func(ctx)`` returns a JSON-able result dict; ``deps`` name earlier stages."""

    name: str
    deps: tuple[str, ...]
    sections: tuple[str, ...]
    func: Callable[[StageContext], dict]
    version: int = 1
    describe: str = ""


@dataclass
class StageContext:
    """What a stage function gets: the config, its own directory, its dependencies' results and a progress hook."""

    cfg: Any
    dir: Path
    inputs: dict[str, dict]
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds of each dependency when it ran
    _progress: Any = None
    _task: Any = None

    def total(self, n: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=n, completed=0)

    def advance(self, k: float = 1) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=k)


@dataclass
class StageRun:
    name: str
    key: str
    dir: Path
    result: dict
    reused: bool
    seconds: float


@dataclass
class StudyRun:
    run_dir: Path
    stages: dict[str, StageRun] = field(default_factory=dict)


def stage_key(stage: Stage, cfg_data: dict, upstream: dict[str, str]) -> str:
    """Hash of what the stage's output depends on: its sections of the config and its inputs' keys."""
    return config_hash({"stage": stage.name, "version": stage.version,
                        "config": {s: cfg_data.get(s) for s in stage.sections},
                        "inputs": {d: upstream[d] for d in stage.deps}})


def plan_keys(stages: list[Stage], cfg_data: dict) -> dict[str, str]:
    keys: dict[str, str] = {}
    for s in stages:
        missing = [d for d in s.deps if d not in keys]
        if missing:
            raise ToksmithError(f"stage {s.name} depends on {missing}, which do not come before it")
        keys[s.name] = stage_key(s, cfg_data, keys)
    return keys


def _load_result(d: Path) -> dict | None:
    p = d / RESULT_FILE
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    return data.get("result")


def _check_study_file(run_dir: Path, cfg) -> None:
    """Say which config wrote this run directory before; a different one only adds new key directories."""
    p = run_dir / STUDY_FILE
    if p.is_file():
        from .config import load_study

        try:
            old = to_dict(load_study(p))
        except ToksmithError:
            old = None
        if old is not None and old != to_dict(cfg):
            changed = sorted(k for k in set(old) | set(to_dict(cfg)) if old.get(k) != to_dict(cfg).get(k))
            log.warning("%s was written by a different config (changed: %s); stages that read those keys run again "
                        "in new directories, the old outputs are kept", run_dir, ", ".join(changed))


def run_stages(cfg, stages: list[Stage], run_dir: Path, progress: bool = True, until: str | None = None) -> StudyRun:
    """Run (or reuse) every stage in order; returns their results. ``until``: stop after this stage."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    cfg_data = to_dict(cfg)
    keys = plan_keys(stages, cfg_data)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_study_file(run_dir, cfg)
    save_config(cfg, run_dir / STUDY_FILE)
    out = StudyRun(run_dir)
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), disable=not progress, transient=False)
    with bar:
        overall = bar.add_task(f"study {getattr(cfg, 'name', '')}", total=len(stages))
        for i, stage in enumerate(stages, 1):
            d = run_dir / stage.name / keys[stage.name]
            result = _load_result(d)
            stale = [n for n in stage.deps if not out.stages[n].reused]
            if result is not None and stale:  # an input was recomputed in this run: redo this stage from scratch
                log.info("stage %s: %s ran again, so it runs again too", stage.name, ", ".join(stale))
                shutil.rmtree(d)
                result = None
            if result is not None:
                log.info("stage %d/%d %s: done before (%s), reused", i, len(stages), stage.name, d)
                out.stages[stage.name] = StageRun(stage.name, keys[stage.name], d, result, True, 0.0)
                bar.update(overall, advance=1)
            else:
                resumed = d.is_dir()
                d.mkdir(parents=True, exist_ok=True)
                log.info("stage %d/%d %s: %s in %s", i, len(stages), stage.name, "resuming" if resumed else "running", d)
                task = bar.add_task(f"  {i}/{len(stages)} {stage.name}", total=None)
                secs = {n: _seconds(out.stages[n].dir) for n in stage.deps}
                ctx = StageContext(cfg, d, {n: out.stages[n].result for n in stage.deps}, secs, bar, task)
                t0 = time.perf_counter()
                result = stage.func(ctx)
                seconds = time.perf_counter() - t0
                atomic_write_json(d / RESULT_FILE, {"stage": stage.name, "key": keys[stage.name], "seconds": round(seconds, 2),
                                                    "inputs": {n: keys[n] for n in stage.deps},
                                                    "config": {s: cfg_data.get(s) for s in stage.sections}, "result": result})
                out.stages[stage.name] = StageRun(stage.name, keys[stage.name], d, result, False, seconds)
                bar.update(task, visible=False)
                bar.update(overall, advance=1)
            if until == stage.name:
                break
    return out


def _seconds(d: Path) -> float:
    return float(json.loads((d / RESULT_FILE).read_text(encoding="utf-8")).get("seconds", 0.0))


def stage_seconds(run: StudyRun) -> dict[str, float]:
    """Wall seconds each stage took when it ran (a reused stage reports the time of the run that made it)."""
    return {name: _seconds(s.dir) for name, s in run.stages.items()}


def summary_table(run: StudyRun, headlines: dict[str, str]):
    """The rich table printed at the end: stage, status, seconds, key directory, headline numbers."""
    from rich.table import Table

    t = Table(title=f"study {run.run_dir}")
    for c in ("stage", "status", "seconds", "key", "result"):
        t.add_column(c, justify="right" if c == "seconds" else "left")
    secs = stage_seconds(run)
    for name, s in run.stages.items():
        t.add_row(name, "reused" if s.reused else "ran", f"{secs[name]:.0f}", s.key, headlines.get(name, ""))
    return t
