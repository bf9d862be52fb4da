"""The study: the paper's whole workflow as one command (``toksmith run CONFIG``) and its report.

``config`` (typed sections, validation with key paths), ``run`` (cached, resumable stages), ``stages`` (what each
stage does), ``plan`` (the --dry-run plan), ``report`` (HTML + markdown). ``quickstart`` keeps the older one-table
``toksmith quickstart`` command.
"""

from __future__ import annotations

from .config import StudyConfig, ci_scaled, check_runnable, load_study, study_from_dict
from .quickstart import QuickstartConfig, run_quickstart, trained_dir


def run_study(cfg: StudyConfig, progress: bool = True, until: str | None = None):
    """Run (or reuse) every stage of ``cfg`` under ``cfg.run_dir``; returns the :class:`~toksmith.study.run.StudyRun`."""
    from .run import run_stages
    from .stages import STAGES

    check_runnable(cfg)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    return run_stages(cfg, list(STAGES), cfg.run_dir, progress=progress, until=until)


__all__ = ["StudyConfig", "QuickstartConfig", "ci_scaled", "check_runnable", "load_study", "run_quickstart", "run_study",
           "study_from_dict", "trained_dir"]
