"""The committed quickstart report (docs/study, written by docs/study/measure_quickstart.sh) renders in headless
Chromium with every image decoded, and holds every section with the numbers of its run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs" / "study"


def test_committed_report_holds_every_section_and_the_measured_times():
    md = (DOCS / "report.md").read_text()
    for section in ("## The question and the answer", "## Compression", "## Vocabulary economics", "## Switching",
                    "## Code generation", "## Generation speed", "## Stage times"):
        assert section in md
    assert md.count("*Reading:*") == 7  # one line in words per figure
    times = json.loads((DOCS / "quickstart_time.json").read_text())
    assert times["run_s"] <= 15 * 60
    for stage, s in times["stages_s"].items():
        if stage == "report":  # written before its own time is known
            continue
        assert f"| {stage} | {s:.0f} |" in md
    html = (DOCS / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 7 and "http://" not in html and "https://" not in html


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_report_renders_in_headless_chromium(tmp_path):
    shot = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_report.py"), str(DOCS / "report.html"),
                        "--png", str(shot)], capture_output=True, text=True, timeout=300)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 0 and out == {"images": "7/7", "ok": True, "png": str(shot), "png_written": True}
    a = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert (a < 200).mean() > 0.02  # not a blank page
    assert (a[:400] < 100).any()  # the title is drawn at the top


def test_a_broken_image_is_caught(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("needs chromium")
    page = tmp_path / "bad.html"
    html = (DOCS / "report.html").read_text()
    i = html.index("data:image/png;base64,") + len("data:image/png;base64,")
    page.write_text(html[:i] + "AAAA" + html[i + 400:])  # corrupt the first image
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_report.py"), str(page), "--png",
                        str(tmp_path / "b.png")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and json.loads(r.stdout.strip().splitlines()[-1])["images"] == "6/7"
