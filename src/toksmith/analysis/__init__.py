"""Tokenizer analysis: compression metrics (NSL, bytes/token, Rényi efficiency), comparisons, lever sweeps.

Modules: ``metrics`` (pure formulas), ``counting`` (fast token counting), ``heldout`` (evaluation texts),
``compare`` (Table 1 and per-subset detail), ``sweep`` (vocabulary / preset / mix experiments),
``paper`` (Table 1 check against the paper's numbers), ``plots`` and ``tables`` (PNG and terminal output).
Nothing is imported here, so ``import toksmith`` stays light.
"""
