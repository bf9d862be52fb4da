"""Experiment: the README's quickstart table, reproducible.

Run:  .venv/bin/python experiments/quickstart.py

Runs the quickstart (``toksmith.study.run_quickstart`` with its default config: a 32k GPT-4-regex tokenizer trained
on 30M characters of the embedded corpus, compared with cl100k and Llama 2 on 300 held-out documents per subset)
in a scratch directory and copies its summary into ``experiments/results/quickstart_summary.csv`` (the README's
table: bytes/token and NSL per domain) and ``experiments/results/quickstart.json`` (the whole comparison, with the
config and library versions). The timing line of the README comes from ``quickstart.json``'s ``seconds``.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    from toksmith.artifacts import atomic_write_json
    from toksmith.study import QuickstartConfig, run_quickstart

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    work = Path(tempfile.mkdtemp(prefix="toksmith-quickstart-"))
    try:
        cfg = QuickstartConfig(out_dir=work)
        start = time.perf_counter()
        run_quickstart(cfg)
        seconds = time.perf_counter() - start
        RESULTS.mkdir(exist_ok=True)
        shutil.copyfile(work / "compare" / "summary.csv", RESULTS / "quickstart_summary.csv")
        # paths relative to the repository, so the committed file does not name this machine's checkout
        root = str(Path(__file__).resolve().parents[1]) + "/"
        report = json.loads((work / "compare" / "compare.json").read_text(encoding="utf-8").replace(root, ""))
        report["run"] = {"seconds": round(seconds, 1), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         "machine": platform.platform(), "python": platform.python_version()}
        atomic_write_json(RESULTS / "quickstart.json", report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
