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
