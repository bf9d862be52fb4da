"""The one progress bar of toksmith: a ``rich`` bar on stderr for long work, or nothing.

``progress_bar`` yields an ``advance(n, description=None)`` callable; with the bar off (``enabled=False``, or
``None`` when stderr is not a terminal) it does nothing, so callers never branch on whether a bar is shown.

>>> with progress_bar(False, "counting", total=10) as advance:
...     advance(4)
...     advance(6, "counting: done")
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

Advance = Callable[..., None]
MILLIONS = ("chars", "bytes", "tokens")  # units counted in millions; any other unit (steps, samples) one by one


@contextlib.contextmanager
def progress_bar(enabled: bool | None, description: str, total: float | None = None, unit: str = "chars",
                 transient: bool = True) -> Iterator[Advance]:
    """A bar (or a spinner when ``total`` is None) showing the amount done, ``unit``/s and the elapsed time.

    Units in :data:`MILLIONS` are shown in millions; others (``steps``, ``samples``) as ``done/total``.

    ``advance(n)`` adds ``n`` units; ``advance(n, "text")`` also replaces the description. Redraws are
    throttled by rich, so calling it once per document is fine.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda n=0, description=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    start = time.perf_counter()

    scale, prefix = (1e6, "M ") if unit in MILLIONS else (1.0, "")

    def rate(done: float) -> str:
        elapsed = max(time.perf_counter() - start, 1e-9)
        if total is not None and not prefix:
            return f"{done:,.0f}/{total:,.0f} {unit}  {done / elapsed:,.2f} {unit}/s"
        return f"{done / scale:,.1f} {prefix}{unit}  {done / elapsed / scale:,.1f} {prefix}{unit}/s"

    columns = [SpinnerColumn() if total is None else BarColumn(), TextColumn("{task.description}"),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn()]
    if total is not None:
        columns.append(TimeRemainingColumn())
    with Progress(*columns, transient=transient, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total, rate="")
        done, shown, pending = 0.0, 0.0, 0.0

        def advance(n: float = 0, description: str | None = None) -> None:
            nonlocal done, shown, pending
            done += n
            pending += n
            now = time.perf_counter()
            if description is None and now - shown < 0.1:  # redraw at most 10 times a second
                return
            shown = now
            fields = {"description": description} if description is not None else {}
            bar.update(task, advance=pending, rate=rate(done), **fields)
            pending = 0.0

        try:
            yield advance
        finally:
            bar.update(task, advance=pending, rate=rate(done))
