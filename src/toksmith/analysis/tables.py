"""Rich terminal tables for analysis results (the CLI prints them; the library never prints).

* :func:`summary_table`: the paper's Table 1 layout (Avg / Code / English / Multilingual NSL) plus bytes per
  token and Rényi efficiency;
* :func:`vocab_table`: vocabulary use, mean token lengths and the longest tokens seen;
* :func:`subset_table`: NSL per subset (rows) and tokenizer (columns), with each subset's size.
"""

from __future__ import annotations


def _title(domain: str) -> str:
    return {"avg": "Avg", "code": "Code", "english": "English", "multilingual": "Multilingual"}.get(domain, domain)


def summary_table(result):
    from rich.table import Table

    t = Table(title=f"NSL vs {result.baseline} on {result.corpus} (lower is better; Avg = mean of domain means)")
    t.add_column("tokenizer", no_wrap=True)
    t.add_column("vocab", justify="right")
    for g in ("avg", *result.domains):
        t.add_column(_title(g), justify="right")
    t.add_column("bytes/tok", justify="right")
    t.add_column(f"Rényi{result.renyi_alpha:g}", justify="right")
    for s in result.summaries:
        t.add_row(
            s.tokenizer, f"{s.vocab_size:,}", *(f"{s.nsl[g]:.3f}" for g in ("avg", *result.domains)),
            f"{s.bytes_per_token['avg']:.2f}", f"{s.renyi['avg']:.3f}",
        )
    return t


def vocab_table(result, n_longest: int = 3):
    from rich.table import Table

    t = Table(title="vocabulary use on the evaluation split")
    t.add_column("tokenizer", no_wrap=True)
    t.add_column("used", justify="right")
    t.add_column("share", justify="right")
    t.add_column("mean B (vocab)", justify="right")
    t.add_column("mean B (used, weighted)", justify="right")
    t.add_column("longest tokens seen")
    for s in result.summaries:
        t.add_row(s.tokenizer, f"{s.vocab_used:,}", f"{s.vocab_share:.1%}", f"{s.mean_token_bytes_vocab:.2f}",
                  f"{s.mean_token_bytes_used:.2f}", "\n".join(f"{len(x.encode())}B {x!r}"[:40] for x in s.longest_tokens[:n_longest]))
    return t


def subset_table(result):
    from rich.table import Table

    t = Table(title=f"NSL vs {result.baseline} per subset")
    t.add_column("domain/subset", no_wrap=True)
    t.add_column("docs", justify="right")
    t.add_column("MB", justify="right")
    names = [s.tokenizer for s in result.summaries]
    for n in names:
        t.add_column(n, justify="right")
    cells = {(r.tokenizer, r.domain, r.subset): r for r in result.rows}
    keys = list(dict.fromkeys((r.domain, r.subset) for r in result.rows))
    for domain, subset in keys:
        first = cells[(names[0], domain, subset)]
        t.add_row(f"{domain}/{subset}", str(first.n_docs), f"{first.n_bytes / 1e6:.2f}",
                  *(f"{cells[(n, domain, subset)].nsl:.3f}" for n in names))
    return t
