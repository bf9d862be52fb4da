"""Repository-wide test switches.

Slow end-to-end tests (``@pytest.mark.slow``: real model, whole default corpus) run only when asked for:
``-m slow``, ``TOKSMITH_SLOW=1`` (full size) or ``TOKSMITH_SLOW_SCALE=ci`` (reduced size, what CI runs once).
``scripts/test.sh`` runs the fast suite, and with ``CI=true`` the slow suite in reduced size.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("TOKSMITH_SLOW") or os.environ.get("TOKSMITH_SLOW_SCALE") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: set TOKSMITH_SLOW=1 (or TOKSMITH_SLOW_SCALE=ci) or use -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
