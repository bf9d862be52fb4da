"""Render a study report in headless Chromium: a PNG screenshot and a check that every image decoded.

Usage: .venv/bin/python scripts/render_report.py runs/quickstart/report.html [--png shot.png]
Prints one JSON line: {"images": "7/7", "ok": true, "png": ...}; exit code 1 if an image did not decode.
Needs Debian's ``chromium`` (``apt-get install chromium``; .ci/run installs it).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def chromium() -> str:
    for name in ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    raise SystemExit("no headless chromium found; install Debian's chromium (apt-get install chromium)")


def render(html: Path, png: Path, width: int = 1100, height: int = 5200, timeout: int = 120) -> dict:
    """Screenshot ``html`` into ``png`` and read how many of its images decoded (the report's data-images)."""
    url = html.resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  f"--user-data-dir={profile}", "--hide-scrollbars", "--virtual-time-budget=10000"]
        dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=timeout).stdout
        subprocess.run([*common, f"--screenshot={png.resolve()}", f"--window-size={width},{height}", url],
                       capture_output=True, text=True, timeout=timeout)
    m = re.search(r'data-images="(\d+)/(\d+)"', dom)
    ok, total = (int(m.group(1)), int(m.group(2))) if m else (0, -1)
    return {"images": f"{ok}/{total}", "ok": bool(m) and ok == total and total > 0, "png": str(png),
            "png_written": png.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--png", type=Path, default=None)
    a = ap.parse_args()
    png = a.png or a.html.with_suffix(".png")
    r = render(a.html, png)
    print(json.dumps(r))
    sys.exit(0 if r["ok"] and r["png_written"] else 1)


if __name__ == "__main__":
    main()
