"""Bar charts and curves for the analysis results (matplotlib, Agg backend, PNG files written atomically).

* :func:`plot_compare`: one grouped bar chart of NSL per subset for each domain, plus the Table 1 summary;
* :func:`plot_vocab_sweep`: NSL against vocabulary size per domain, with the fitted saturating curve;
* :func:`plot_categorical_sweep`: NSL per domain for each preset or data mix.

Limits: figures are sized for up to ~12 tokenizers and ~30 subsets per domain; more stay correct but crowded.
"""

from __future__ import annotations

from pathlib import Path

from ..artifacts import pyplot, save_figure


def _save(fig, path: Path) -> Path:
    return save_figure(fig, path, dpi=120, bbox_inches="tight")


def _grouped_bars(ax, groups: list[str], series: dict[str, list[float]], baseline_line: bool = True) -> None:
    import numpy as np

    n = max(1, len(series))
    width = 0.8 / n
    x = np.arange(len(groups))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + (i - (n - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=45 if len(groups) > 6 else 0, ha="right" if len(groups) > 6 else "center")
    if baseline_line:
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def plot_compare(result, out_dir: str | Path) -> list[Path]:
    """``nsl_<domain>.png`` per domain (bars per subset and tokenizer) and ``nsl_summary.png`` (Table 1)."""
    plt = pyplot()
    out = Path(out_dir)
    paths = []
    names = [s.tokenizer for s in result.summaries]
    for domain in result.domains:
        subsets = sorted({r.subset for r in result.rows if r.domain == domain})
        nsl = {(r.tokenizer, r.subset): r.nsl for r in result.rows if r.domain == domain}
        fig, ax = plt.subplots(figsize=(max(6.0, 0.25 * len(subsets) * len(names) + 2), 4))
        _grouped_bars(ax, subsets, {n: [nsl[(n, s)] for s in subsets] for n in names})
        ax.set_ylabel(f"NSL vs {result.baseline} (lower is better)")
        ax.set_title(f"{domain}: normalized sequence length per subset")
        paths.append(_save(fig, out / f"nsl_{domain}.png"))
    groups = ["avg", *result.domains]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.3 * len(groups) * len(names) + 2), 4))
    _grouped_bars(ax, groups, {s.tokenizer: [s.nsl[g] for g in groups] for s in result.summaries})
    ax.set_ylabel(f"NSL vs {result.baseline} (lower is better)")
    ax.set_title("Table 1: average of domain averages, and per domain")
    paths.append(_save(fig, out / "nsl_summary.png"))
    return paths


def plot_vocab_sweep(sizes, nsl_by_domain: dict[str, list[float]], fits: dict, path: str | Path, baseline: str) -> Path:
    """NSL against vocabulary size per domain (points) with its fitted curves (solid: exponential, dotted: power)."""
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    grid = np.linspace(min(sizes), max(sizes), 200)
    for i, (domain, values) in enumerate(nsl_by_domain.items()):
        color = f"C{i}"
        ax.plot(sizes, values, "o", color=color, label=domain)
        for fit in fits.get(domain, ()):
            style = "-" if fit.form == "exp" else ":"
            formula = (f"{fit.a:.3f} + {fit.b:.3f}·exp(-V/{fit.c / 1000:.0f}k)" if fit.form == "exp"
                       else f"{fit.a:.3f} + {fit.b:.3f}·(V/1k)^-{fit.c:.2f}")
            ax.plot(grid, fit.predict(grid), style, color=color, alpha=0.7, label=f"{formula}, RMSE {fit.rmse:.4f}")
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    if max(sizes) / min(sizes) > 8:
        ax.set_xscale("log")
    ax.set_xlabel("vocabulary size V")
    ax.set_ylabel(f"NSL vs {baseline}")
    ax.set_title("NSL against vocabulary size")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return _save(fig, Path(path))


def plot_categorical_sweep(labels: list[str], nsl_by_domain: dict[str, list[float]], path: str | Path,
                           baseline: str, lever: str) -> Path:
    """Grouped bars: NSL per domain (groups) for each preset or mix (bars)."""
    plt = pyplot()
    groups = list(nsl_by_domain)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.4 * len(groups) * len(labels) + 2), 4))
    _grouped_bars(ax, groups, {lab: [nsl_by_domain[g][i] for g in groups] for i, lab in enumerate(labels)})
    ax.set_ylabel(f"NSL vs {baseline}")
    ax.set_title(f"NSL per {lever}")
    return _save(fig, Path(path))
