"""Compression curves NSL(V): how many tokens a vocabulary of size V needs for a text, relative to the baseline.

NSL (normalized sequence length, docs/paper.md §4.1; paper §2.1) is ``tokens under T / tokens under Llama 2`` on the same text; the
cost model needs it as a function of V. An :class:`NSLCurve` is one of

* ``fit``: ``NSL(V) = a + b * exp(-V / c)``. The default is the paper's released code sweep (GPT-4 regex, 70% code /
  30% English, 10B characters; ``compression_results.csv`` of github.com/gautierdag/tokenizer-bench, least-squares
  fit in docs/paper.md §5.3: a = 0.722, b = 0.213, c = 39,000, RMSE 0.006 over V = 10k..256k). Note NSL(32k) = 0.816 on
  that curve, not 1: the curve describes tokenizers trained like the paper's, the baseline is Llama 2's 32k.
* ``points``: measured (V, NSL) pairs, linearly interpolated in log V (no extrapolation: the optimizers search
  only inside ``domain``).
* measured from real tokenizers on a text: :func:`curve_from_tokenizers`.

Bytes per token of the baseline tokenizer turns NSL into tokens per byte: ``tokens/byte(V) = NSL(V) / bpt_ref``.
:data:`DEFAULT_BASELINE_BYTES_PER_TOKEN` is Llama 2 measured on Python code (see its comment).

Limits: a fitted curve is trusted inside the sweep's range (10k..256k); outside it is extrapolation.
"""

from __future__ import annotations

import json
import math
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ToksmithError

# Llama 2 (SentencePiece 32k) bytes/token on Python code: measured with toksmith.load_reference("llama2") on
# the stdlib modules of DEFAULT_CODE_FILES (313k bytes, CPython 3.11: 3.58 bytes/token; cl100k 4.52, llama3 4.52;
# tests/costs checks the measure stays within 10%).
DEFAULT_BASELINE_BYTES_PER_TOKEN = 3.58

# Fit of the paper's code NSL sweep (docs/paper.md §5.3), relative to Llama 2's 32k tokenizer. Refitting all 11 points
# with fit_exp gives a=0.728 b=0.251 c=29k (RMSE 0.009; this fit: 0.012); without the 10k point a=0.721 b=0.199
# c=41k, so the documented fit behaves like one that gives little weight to 10k. Kept as the documented default (docs/paper.md §5.3).
PAPER_CODE_FIT = (0.722, 0.213, 39_000.0)
# The sweep points themselves (code NSL, docs/paper.md §5.3), for plots and for a points curve.
PAPER_CODE_POINTS = ((10_000, 0.919), (16_000, 0.865), (24_000, 0.827), (32_000, 0.805), (48_000, 0.779),
                     (64_000, 0.764), (80_000, 0.754), (100_000, 0.745), (128_000, 0.736), (200_000, 0.721),
                     (256_000, 0.714))

# A fixed, readable sample of Python code that every CPython ships: the default text for bytes/token measures.
DEFAULT_CODE_FILES = ("textwrap.py", "argparse.py", "json/encoder.py", "json/decoder.py", "heapq.py", "bisect.py",
                      "fractions.py", "dataclasses.py", "functools.py", "shlex.py")


@dataclass(frozen=True)
class NSLCurve:
    """NSL as a function of vocabulary size (see the module docstring for the kinds)."""

    kind: str  # "fit" | "points"
    a: float = 0.0
    b: float = 0.0
    c: float = 0.0
    points: tuple[tuple[float, float], ...] = ()
    source: str = ""  # where the numbers come from, shown in reports
    fit_range: tuple[float, float] = (10_000.0, 256_000.0)  # V range the fit was made on

    def __post_init__(self) -> None:
        if self.kind == "fit":
            if not (self.a > 0 and self.b >= 0 and self.c > 0):
                raise ToksmithError(f"NSL fit needs a > 0, b >= 0, c > 0; got a={self.a}, b={self.b}, c={self.c}")
        elif self.kind == "points":
            if len(self.points) < 2:
                raise ToksmithError("an NSL points curve needs at least two (V, NSL) points")
            vs = [v for v, _ in self.points]
            if any(v <= 0 for v in vs) or any(n <= 0 for _, n in self.points):
                raise ToksmithError(f"NSL points must have V > 0 and NSL > 0; got {self.points}")
            if len(set(vs)) != len(vs):
                raise ToksmithError(f"NSL points repeat a vocabulary size: {vs}")
        else:
            raise ToksmithError(f"NSLCurve kind must be 'fit' or 'points', got {self.kind!r}")

    @property
    def domain(self) -> tuple[float, float]:
        """The V range the curve is defined on (points: their range; fit: (1, inf))."""
        if self.kind == "points":
            vs = [v for v, _ in self.points]
            return float(min(vs)), float(max(vs))
        return 1.0, math.inf

    def __call__(self, vocab_size):
        """NSL at V (a number or a numpy array).

        >>> round(float(paper_code_curve()(32_000)), 3)   # 0.722 + 0.213 * exp(-32/39)
        0.816
        """
        v = np.asarray(vocab_size, dtype=float)
        if self.kind == "fit":
            out = self.a + self.b * np.exp(-v / self.c)
        else:
            lo, hi = self.domain
            if np.any(v < lo * (1 - 1e-9)) or np.any(v > hi * (1 + 1e-9)):
                raise ToksmithError(f"V={vocab_size} is outside the NSL points' range {lo:.0f}..{hi:.0f}; "
                                    "add points there or use a fitted curve (a, b, c)")
            pts = sorted(self.points)
            out = np.interp(np.log(v), np.log([p[0] for p in pts]), [p[1] for p in pts])
        return float(out) if out.ndim == 0 else out


def paper_code_curve() -> NSLCurve:
    """The default curve: the paper's code NSL sweep fitted as a + b*exp(-V/c) (docs/paper.md §5.3)."""
    a, b, c = PAPER_CODE_FIT
    return NSLCurve("fit", a, b, c, points=PAPER_CODE_POINTS,
                    source="paper code sweep fit a=0.722 b=0.213 c=39k (docs/paper.md §5.3, tokenizer-bench CSV)")


def fit_exp(points: Sequence[tuple[float, float]], source: str = "fitted points") -> NSLCurve:
    """Least-squares fit of ``NSL = a + b*exp(-V/c)`` to (V, NSL) points.

    For each c on a log grid (1k..1M) the model is linear in (a, b), solved exactly; the c with the smallest
    squared error wins. On the paper's sweep this gives a ~ 0.72, b ~ 0.21, c ~ 39k (docs/paper.md §5.3).
    """
    if len(points) < 3:
        raise ToksmithError(f"fitting a + b*exp(-V/c) needs at least 3 (V, NSL) points, got {len(points)}")
    v = np.array([p[0] for p in points], float)
    y = np.array([p[1] for p in points], float)
    best = None
    for c in np.geomspace(1e3, 1e6, 2000):
        A = np.stack([np.ones_like(v), np.exp(-v / c)], axis=1)
        (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
        err = float(np.sum((A @ [a, b] - y) ** 2))
        if a > 0 and b >= 0 and (best is None or err < best[0]):
            best = (err, a, b, c)
    if best is None:
        raise ToksmithError(f"NSL points {list(points)} do not decrease with V; cannot fit a + b*exp(-V/c)")
    _, a, b, c = best
    return NSLCurve("fit", float(a), float(b), float(c), points=tuple((float(p[0]), float(p[1])) for p in points),
                    source=source, fit_range=(float(v.min()), float(v.max())))


def load_curve(path: str | Path) -> NSLCurve:
    """A JSON file with keys a, b, c (a fit) and/or ``points``: [[V, NSL], ...]. A fit wins when both are given."""
    path = Path(path)
    if not path.is_file():
        raise ToksmithError(f"NSL curve file {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ToksmithError(f"NSL curve file {path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ToksmithError(f"NSL curve file {path} must hold a JSON object with keys a, b, c and/or points")
    try:
        points = tuple((float(v), float(n)) for v, n in data.get("points", ()))
    except (TypeError, ValueError):
        raise ToksmithError(f"NSL curve file {path}: 'points' must be a list of [V, NSL] pairs") from None
    if all(k in data for k in ("a", "b", "c")):
        return NSLCurve("fit", float(data["a"]), float(data["b"]), float(data["c"]), points=points,
                        source=f"fit from {path}")
    if points:
        return NSLCurve("points", points=points, source=f"points from {path}")
    missing = [k for k in ("a", "b", "c") if k not in data]
    raise ToksmithError(f"NSL curve file {path} has neither a fit (missing {', '.join(missing)}) nor 'points'")


def default_code_texts(files: Iterable[str] = DEFAULT_CODE_FILES) -> list[str]:
    """The source text of a fixed set of Python stdlib modules (code every CPython ships); absolute paths are
    read as they are."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for f in files:
        p = root / f
        if not p.is_file():
            raise ToksmithError(f"code file {p} not found; give existing files (stdlib-relative or absolute)")
        texts.append(p.read_text(encoding="utf-8"))
    return texts


def bytes_per_token(tokenizer, texts: Sequence[str]) -> float:
    """``sum(UTF-8 bytes) / sum(tokens)`` over ``texts`` (docs/paper.md §4.2); no BOS/EOS are counted."""
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    n_tokens = sum(len(ids) for ids in tokenizer.encode_batch(list(texts)))
    if n_tokens == 0:
        raise ToksmithError("bytes per token of an empty text is undefined; give some text")
    return n_bytes / n_tokens


@dataclass(frozen=True)
class MeasuredTokenizer:
    name: str
    vocab_size: int
    bytes_per_token: float
    nsl: float  # tokens / baseline tokens on the same texts


def measure_tokenizers(tokenizers: Sequence, texts: Sequence[str], baseline) -> list[MeasuredTokenizer]:
    """Bytes/token and NSL (vs ``baseline``) of each tokenizer on the same texts."""
    ref = bytes_per_token(baseline, texts)
    out = []
    for tok in tokenizers:
        bpt = bytes_per_token(tok, texts)
        out.append(MeasuredTokenizer(tok.name, int(tok.vocab_size), bpt, ref / bpt))
    return out


def curve_from_tokenizers(measured: Sequence[MeasuredTokenizer], fit: bool = False) -> NSLCurve:
    """An NSL curve through measured tokenizers' (V, NSL): points, or a fit (needs >= 3 tokenizers)."""
    points = tuple(sorted((float(m.vocab_size), m.nsl) for m in measured))
    names = ", ".join(m.name for m in measured)
    if fit:
        return fit_exp(points, source=f"fit to measured tokenizers {names}")
    return NSLCurve("points", points=points, source=f"measured tokenizers {names}")


@dataclass(frozen=True)
class Compression:
    """An NSL curve plus the baseline's bytes/token: everything needed to go between bytes and tokens."""

    curve: NSLCurve = field(default_factory=paper_code_curve)
    baseline_bytes_per_token: float = DEFAULT_BASELINE_BYTES_PER_TOKEN
    baseline_vocab: int = 32_000  # Llama 2: NSL = 1 by definition at this V (the baseline tokenizer itself)

    def tokens_per_byte(self, vocab_size):
        """``NSL(V) / bpt_ref``."""
        return self.curve(vocab_size) / self.baseline_bytes_per_token
