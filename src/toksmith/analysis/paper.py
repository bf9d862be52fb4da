"""Paper check: the paper's Table 1 rows (GPT-2, GPT-4/cl100k, Llama 2) recomputed on our corpus, side by side.

The paper (Dagan et al. 2024, Table 1; docs/paper.md §5.1; paper Table 1) reports NSL against Llama 2 averaged over its own
held-out sets: code = 23 subsets (21 the-stack languages + markdown, deduplicated code, StackExchange), English =
4 (b3g, CCNet, Wikipedia-en, MMLU), multilingual = 29 Wikipedia languages, about 1,000 documents each (docs/paper.md §4.3). toksmith's default corpus is different (a few code languages from the running Python's standard library
and vendored samples, small English and multilingual samples), so the numbers differ; :func:`run_paper_check`
shows by how much and writes an explanation built from the data actually used (which subsets, how large, which of
the paper's subsets are missing, which subsets drive each tokenizer's average).

Limits: only the Table 1 values recorded in docs/paper.md §5.1 are compared (the other rows are not available).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import atomic_write_json, atomic_write_text
from ..config import to_dict
from ..errors import ToksmithError
from .compare import CompareResult, compare, csv_text, write_result

log = logging.getLogger(__name__)

# docs/paper.md §5.1; paper Table 1 (Table 1, read from the v2 PDF): NSL vs Llama 2, columns Avg / Code / English / Multilingual.
PAPER_TABLE1: dict[str, dict[str, float]] = {
    "gpt2": {"avg": 1.13, "code": 1.19, "english": 0.86, "multilingual": 1.33},
    "cl100k": {"avg": 0.85, "code": 0.75, "english": 0.84, "multilingual": 0.95},
    "llama2": {"avg": 1.00, "code": 1.00, "english": 1.00, "multilingual": 1.00},
}
PAPER_ROW_NAMES = {"gpt2": "GPT-2 (50k)", "cl100k": "GPT-4 cl100k (100k)", "llama2": "Llama 2 (32k, baseline)"}
COLUMNS = ("avg", "code", "english", "multilingual")

# docs/paper.md §4.3: the subsets behind the paper's averages.
PAPER_SUBSETS = {
    "code": ("c", "c#", "c++", "dart", "elixir", "go", "haskell", "java", "javascript", "kotlin", "lua", "markdown",
             "perl", "php", "python", "ruby", "rust", "scala", "shell", "swift", "typescript", "deduped_code_test",
             "stack_exchange_test"),
    "english": ("b3g_test", "ccnet_test", "en", "mmlu"),
    "multilingual": ("29 Wikipedia languages",),
}
PAPER_DOCS_PER_SUBSET = 1001  # eval.py reads up to 1,001 documents per subset


@dataclass(frozen=True)
class PaperCheckConfig:
    extra_tokenizers: tuple[str, ...] = ()  # e.g. our default trained tokenizer's directory
    corpus: str | None = None  # None = the embedded default held-out split
    out_dir: Path = Path("runs/paper-check")
    num_threads: int | None = None


@dataclass(frozen=True)
class PaperRow:
    tokenizer: str
    ours: dict[str, float | None]  # None where our corpus has no such domain
    paper: dict[str, float] | None  # None for tokenizers not in the paper's Table 1 excerpt

    def diff(self, col: str) -> float | None:
        if self.paper is None or self.ours.get(col) is None:
            return None
        return self.ours[col] - self.paper[col]


@dataclass(frozen=True)
class PaperCheck:
    rows: tuple[PaperRow, ...]
    explanation: str
    compare: CompareResult


def paper_rows(result: CompareResult) -> list[PaperRow]:
    """Our Avg/Code/English/Multilingual next to the paper's, for every tokenizer of ``result``."""
    rows = []
    for s in result.summaries:
        ours = {c: s.nsl.get(c) for c in COLUMNS}
        rows.append(PaperRow(s.tokenizer, ours, PAPER_TABLE1.get(s.tokenizer)))
    return rows


_INDENT = re.compile(r"(?m)^[ \t]+")


def data_profile(texts) -> dict[str, float]:
    """Character classes that move NSL between tokenizers: whitespace, leading indentation, non-ASCII bytes."""
    chars = sum(len(t) for t in texts) or 1
    n_bytes = sum(len(t.encode("utf-8")) for t in texts) or 1
    return {
        "whitespace": sum(len(t) - len("".join(t.split())) for t in texts) / chars,
        "indentation": sum(len(m) for t in texts for m in _INDENT.findall(t)) / chars,
        "non_ascii_bytes": sum(len(t.encode("utf-8")) - len(t.encode("ascii", "ignore")) for t in texts) / n_bytes,
    }


def _domain_lines(result: CompareResult, data=None) -> list[str]:
    lines = []
    first = result.summaries[0].tokenizer
    for domain in result.domains:
        subs = [r for r in result.rows if r.tokenizer == first and r.domain == domain]
        mb = sum(r.n_bytes for r in subs) / 1e6
        docs = sum(r.n_docs for r in subs)
        listing = ", ".join(f"{r.subset} ({r.n_docs} docs, {r.n_bytes / 1e6:.2f} MB)" for r in subs)
        ours = {r.subset.lower() for r in subs}
        paper = PAPER_SUBSETS.get(domain, ())
        common = sorted(ours & {p.lower() for p in paper})
        line = f"* {domain}: {len(subs)} subsets, {docs} documents, {mb:.2f} MB: {listing}."
        if data is not None:
            prof = data_profile([t for (d, _), ts in data.items() if d == domain for t in ts])
            line += (f" Characters: {prof['whitespace']:.0%} whitespace, {prof['indentation']:.0%} leading "
                     f"indentation; {prof['non_ascii_bytes']:.0%} of bytes non-ASCII.")
        if domain in PAPER_SUBSETS:
            line += (f" The paper averages {len(paper)} subset(s) ({', '.join(paper)}) of up to "
                     f"{PAPER_DOCS_PER_SUBSET} documents each; in common by name: {', '.join(common) or 'none'}.")
        lines.append(line)
    missing = [d for d in COLUMNS[1:] if d not in result.domains]
    if missing:
        lines.append(f"* Our corpus has no {', '.join(missing)} subsets, so our Avg is the mean over "
                     f"{', '.join(result.domains)} only; the paper's Avg also includes {', '.join(missing)}.")
    return lines


def _driver_lines(result: CompareResult) -> list[str]:
    """Which subsets pull each tokenizer's domain average up or down (the data behind the differences)."""
    lines = []
    for s in result.summaries:
        if s.tokenizer == result.baseline:
            continue
        parts = []
        for domain in result.domains:
            subs = sorted((r for r in result.rows if r.tokenizer == s.tokenizer and r.domain == domain), key=lambda r: r.nsl)
            if len(subs) > 1:
                parts.append(f"{domain} ranges from {subs[0].nsl:.2f} ({subs[0].subset}) to {subs[-1].nsl:.2f} ({subs[-1].subset})")
        if parts:
            lines.append(f"* {s.tokenizer}: " + "; ".join(parts) + ".")
    return lines


def explain(result: CompareResult, data=None) -> str:
    """A plain-text account of the data behind our numbers and how it differs from the paper's."""
    rows = paper_rows(result)
    gaps = [f"{r.tokenizer} {c} {r.diff(c):+.2f}" for r in rows if r.paper for c in COLUMNS
            if r.diff(c) is not None and abs(r.diff(c)) >= 0.05 and r.tokenizer != result.baseline]
    text = [
        f"Data used here ({result.corpus}), per domain:",
        *_domain_lines(result, data),
        "The paper's data: code from the-stack (21 languages + markdown, deduplicated code, StackExchange), English "
        "from b3g, CCNet, Wikipedia-en and MMLU, multilingual from 29 Wikipedia languages (docs/paper.md §4.3).",
        "Spread across our subsets (the domain average is their unweighted mean, so a small subset weighs as much "
        "as a large one):",
        *_driver_lines(result),
        "Differences of 0.05 or more: " + (", ".join(gaps) if gaps else "none") + ".",
        "Why they arise: NSL is a ratio of token counts on the same text, so it depends only on which text is "
        "measured. A different set of code languages (and their indentation: GPT-2 has no multi-space tokens, "
        "which costs it most on deeply indented code), different English sources and a different set of natural "
        "languages move each domain average; the tokenizers themselves are the same files the paper used.",
    ]
    return "\n".join(text)


def _records(rows: list[PaperRow]) -> list[dict]:
    out = []
    for r in rows:
        rec = {"tokenizer": r.tokenizer}
        for c in COLUMNS:
            rec[f"ours_{c}"] = None if r.ours[c] is None else round(r.ours[c], 4)
            rec[f"paper_{c}"] = r.paper[c] if r.paper else None
            rec[f"diff_{c}"] = None if r.diff(c) is None else round(r.diff(c), 4)
        out.append(rec)
    return out


def run_paper_check(cfg: PaperCheckConfig) -> PaperCheck:
    """Compare gpt2, cl100k (and any extra tokenizers) against llama2 and put the paper's numbers beside ours."""
    from .heldout import load_heldout

    data = load_heldout(cfg.corpus)
    tokenizers = ["gpt2", "cl100k", *cfg.extra_tokenizers]
    result = compare(tokenizers, data, baseline="llama2", num_threads=cfg.num_threads,
                     corpus_name=cfg.corpus or "default held-out split", progress=True)
    if result.baseline != "llama2":
        raise ToksmithError("paper check: the baseline must be llama2 (the paper's)")
    rows = paper_rows(result)
    check = PaperCheck(rows=tuple(rows), explanation=explain(result, data), compare=result)
    out = Path(cfg.out_dir)
    write_result(result, out / "compare", to_dict(cfg))
    atomic_write_text(out / "paper_check.csv", csv_text(_records(rows)))
    atomic_write_json(out / "paper_check.json", {"config": to_dict(cfg), "rows": _records(rows),
                                                 "explanation": check.explanation})
    atomic_write_text(out / "explanation.txt", check.explanation + "\n")
    return check


def paper_table(check: PaperCheck):
    """Rich table: for each tokenizer a row of ours, the paper's and the difference, for Avg/Code/English/Multi."""
    from rich.table import Table

    t = Table(title="Table 1 check: NSL vs Llama 2 (diff = ours - paper)")
    t.add_column("tokenizer", no_wrap=True)
    t.add_column("", no_wrap=True)
    for c in COLUMNS:
        t.add_column({"avg": "Avg", "code": "Code", "english": "English", "multilingual": "Multilingual"}[c],
                     justify="right")

    def fmt(x, signed=False):
        return "-" if x is None else (f"{x:+.2f}" if signed else f"{x:.2f}")

    for r in check.rows:
        name = PAPER_ROW_NAMES.get(r.tokenizer, r.tokenizer)
        t.add_row(name, "ours", *(fmt(r.ours[c]) for c in COLUMNS))
        if r.paper:
            t.add_row("", "paper", *(fmt(r.paper[c]) for c in COLUMNS))
            t.add_row("", "diff", *(fmt(r.diff(c), signed=True) for c in COLUMNS), end_section=True)
        else:
            t.add_row("", "paper", *("n/a" for _ in COLUMNS), end_section=True)
    return t
