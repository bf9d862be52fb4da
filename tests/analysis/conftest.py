"""Analysis tests: the slow end-to-end runs (default corpus) run only when the slow suite is asked for.

The slow suite is on with ``TOKSMITH_SLOW=1`` or ``TOKSMITH_SLOW_SCALE`` set (CI sets ``ci``: reduced size),
or when ``-m slow`` selects them.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("TOKSMITH_SLOW") or os.environ.get("TOKSMITH_SLOW_SCALE") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: set TOKSMITH_SLOW=1 (or TOKSMITH_SLOW_SCALE=ci) or use -m slow")
    for item in items:
        if "slow" in item.keywords and "analysis" in str(item.fspath):
            item.add_marker(skip)
