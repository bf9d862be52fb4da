"""User-facing errors.

Every error a user can cause (a missing corpus, an invalid regex, an unknown reference name, a model without
embeddings...) is raised as a :class:`ToksmithError` whose message names the input and says what to do. The CLI
prints these without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ToksmithError(ValueError):
    """A problem with the user's input or environment, with a message that says how to fix it."""


def unknown_name(kind: str, name: str, known: Iterable[str], hint: str = "") -> ToksmithError:
    """Build the error for an unknown registry name, listing the known ones and the nearest matches.

    >>> str(unknown_name("preset", "gtp4", ["gpt4", "llama2"]))
    "unknown preset 'gtp4'. Did you mean: gpt4? Known: gpt4, llama2"
    >>> str(unknown_name("preset", "gtp4", ["gpt2", "gpt4"]))
    "unknown preset 'gtp4'. Did you mean: gpt4, gpt2? Known: gpt2, gpt4"
    """
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    msg = f"unknown {kind} {name!r}."
    if close:
        msg += f" Did you mean: {', '.join(close)}?"
    msg += f" Known: {', '.join(known)}"
    if hint:
        msg += f". {hint}"
    return ToksmithError(msg)


def check_fields(config: object, positive: Iterable[str] = (), **at_least: float) -> None:
    """Range checks of a config dataclass, one message format for all: each field named in ``positive`` must be
    > 0 and each keyword field >= its value; the first that is not raises ``Class.field must be ..., got v``
    (the CLI turns ``Class.field`` into the flag the user typed).

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Demo:
    ...     steps: int = 1
    ...     lr: float = 0.1
    >>> check_fields(Demo(), positive=["lr"], steps=1)
    >>> check_fields(Demo(steps=0), positive=["lr"], steps=1)
    Traceback (most recent call last):
    ...
    toksmith.errors.ToksmithError: Demo.steps must be >= 1, got 0
    >>> check_fields(Demo(lr=0.0), positive=["lr"])
    Traceback (most recent call last):
    ...
    toksmith.errors.ToksmithError: Demo.lr must be positive, got 0.0
    """
    name = type(config).__name__
    for field in positive:
        if not getattr(config, field) > 0:
            raise ToksmithError(f"{name}.{field} must be positive, got {getattr(config, field)!r}")
    for field, low in at_least.items():
        if not getattr(config, field) >= low:
            raise ToksmithError(f"{name}.{field} must be >= {low}, got {getattr(config, field)!r}")
