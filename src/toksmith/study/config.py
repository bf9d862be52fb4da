"""The study config: one typed, validated TOML file describing the paper's whole workflow.

Sections (one frozen dataclass each): ``corpus`` (data and mix), ``tokenizers`` (the three levers and the
references), ``costs`` (model shapes to price), ``transfer`` (base model, init methods, continued-training budget),
``codegen`` (benchmarks, sampling), ``speed`` (generation-speed measurement) and ``engines`` (what the full-scale
plan runs on). :func:`load_study` rejects a bad file before any work with one line naming the file and key path::

    configs/x.toml: transfer.methods[1]: unknown method 'fvtt'; known: fvt, mean, random
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..config import from_dict, read_config_file, to_dict
from ..errors import ToksmithError

DOMAINS = ("code", "english", "multilingual")
CODEGEN_BENCHMARKS = ("humaneval", "mbpp")


def transfer_methods() -> tuple[str, ...]:
    """The transfer init methods: the ONE place the study reads the transfer registry."""
    from ..transfer.methods import METHODS

    return tuple(METHODS)


class StudyConfigError(ToksmithError):
    """A bad value at a key path (``transfer.methods[1]``); :func:`load_study` prefixes the file name."""


def _bad(path: str, msg: str) -> StudyConfigError:
    return StudyConfigError(f"{path}: {msg}")


def _check_mix(path: str, mix: dict[str, float]) -> None:
    for d, s in mix.items():
        if d not in DOMAINS:
            raise _bad(f"{path}.{d}", f"unknown domain {d!r}; known: {', '.join(DOMAINS)}")
        if not 0 <= s <= 1:
            raise _bad(f"{path}.{d}", f"a share must be in [0, 1], got {s}")
    if abs(sum(mix.values()) - 1) > 1e-6:
        raise _bad(path, f"shares add up to {sum(mix.values()):g}, not 1; fix them so they sum to 1")


def _positive(section: str, obj, names) -> None:
    for n in names:
        if getattr(obj, n) < 1:
            raise _bad(f"{section}.{n}", f"must be >= 1, got {getattr(obj, n)}")


@dataclass(frozen=True)
class CorpusSection:
    """Training and held-out data: the embedded default corpus, or the user's files per domain."""

    SECTION: ClassVar[str] = "corpus"
    chars: int = 6_000_000  # tokenizer training budget in characters (the paper: 10B)
    mix: dict[str, float] = field(default_factory=lambda: {"code": 0.7, "english": 0.3})
    files: dict[str, tuple[str, ...]] = field(default_factory=dict)  # domain -> paths; empty = embedded corpus
    heldout_docs: int = 120  # held-out documents per subset measured (the paper: 1,000)

    def __post_init__(self):
        _positive("corpus", self, ("chars", "heldout_docs"))
        _check_mix("corpus.mix", self.mix)
        for d, paths in self.files.items():
            if d not in DOMAINS:
                raise _bad(f"corpus.files.{d}", f"unknown domain {d!r}; known: {', '.join(DOMAINS)}")
            for i, p in enumerate(paths):
                if not Path(p).exists():
                    raise _bad(f"corpus.files.{d}[{i}]", f"{p} does not exist; give an existing file or directory")

    def corpus_config(self, mix: dict[str, float] | None = None):
        """The :class:`~toksmith.corpus.CorpusConfig` this section describes (optionally with another mix)."""
        from ..corpus import default_corpus_config
        from ..corpus.mix import CorpusConfig
        from ..corpus.sources import SourceConfig

        mix = dict(self.mix if mix is None else mix)
        if not self.files:
            return default_corpus_config(total_chars=self.chars, mix=mix)
        sources = tuple(SourceConfig(path=Path(p), domain=d, subset=Path(p).stem) for d, ps in self.files.items() for p in ps)
        return CorpusConfig(sources=sources, mix=mix, total_chars=self.chars, heldout_fraction=0.1)


@dataclass(frozen=True)
class TokenizersSection:
    """The three levers (size, pre-tokenization, data mix) and the reference tokenizers to compare with."""

    SECTION: ClassVar[str] = "tokenizers"
    vocab_sizes: tuple[int, ...] = (4_000, 8_000, 16_000, 24_000)  # one training at the largest; smaller = prefixes
    size: int = 16_000  # the size of the preset and mix comparisons (and of the tokenizer transferred to)
    presets: tuple[str, ...] = ("gpt4", "gpt2", "punct")
    mixes: tuple[dict[str, float], ...] = ({"code": 0.7, "english": 0.3}, {"code": 1.0}, {"code": 0.4, "english": 0.3, "multilingual": 0.3})
    backend: str = "toksmith"  # BPE trainer (toksmith.bpe.backends.BACKENDS)
    references: tuple[str, ...] = ("llama2", "cl100k", "gpt2")  # the first is the NSL baseline

    def __post_init__(self):
        from ..bpe.backends import BACKENDS
        from ..pretokenize import PRESETS
        from ..references import ALIASES, REFERENCES

        minimum = 256 + 6 + 1
        for i, v in enumerate((*self.vocab_sizes, self.size)):
            key = f"tokenizers.vocab_sizes[{i}]" if i < len(self.vocab_sizes) else "tokenizers.size"
            if v < minimum:
                raise _bad(key, f"vocabulary {v} is smaller than the byte alphabet + specials + 1 merge ({minimum})")
        if len(self.vocab_sizes) < 3:
            raise _bad("tokenizers.vocab_sizes", "give at least 3 sizes (the NSL(V) fit needs 3 points)")
        for i, p in enumerate(self.presets):
            if p not in PRESETS:
                raise _bad(f"tokenizers.presets[{i}]", f"unknown preset {p!r}; known: {', '.join(PRESETS)}")
        if not self.presets:
            raise _bad("tokenizers.presets", "give at least one preset")
        for i, m in enumerate(self.mixes):
            _check_mix(f"tokenizers.mixes[{i}]", m)
        if self.backend not in BACKENDS:
            raise _bad("tokenizers.backend", f"unknown backend {self.backend!r}; known: {', '.join(BACKENDS)}")
        for i, r in enumerate(self.references):
            if r not in REFERENCES and r not in ALIASES:
                raise _bad(f"tokenizers.references[{i}]", f"unknown reference {r!r}; known: {', '.join(REFERENCES)}")
        if not self.references:
            raise _bad("tokenizers.references", "give at least one reference (the first is the NSL baseline)")


@dataclass(frozen=True)
class CostsSection:
    """Model shapes priced with the measured NSL(V) curve (toksmith.costs)."""

    SECTION: ClassVar[str] = "costs"
    shapes: tuple[str, ...] = ("paper-1.5b", "llama2-7b")
    batch: int = 64  # sequences in memory (memory optimum)
    seq_tokens: int = 1000  # per sequence, baseline tokens
    n_ctx: int = 4096  # attention context for FLOPs, baseline tokens

    def __post_init__(self):
        from ..costs.shapes import SHAPES

        for i, s in enumerate(self.shapes):
            if s not in SHAPES and not Path(s).exists():
                raise _bad(f"costs.shapes[{i}]", f"unknown model shape {s!r}; known: {', '.join(SHAPES)} (or a config.json)")
        _positive("costs", self, ("batch", "seq_tokens", "n_ctx"))


@dataclass(frozen=True)
class TransferSection:
    """Switch ``model`` to the recommended tokenizer with each init method, then continue training all of them."""

    SECTION: ClassVar[str] = "transfer"
    model: str = "smollm2"  # "smollm2" or a Hugging Face model directory
    shape: str = "smollm2-135m"  # its shape for the cost model (costs.shapes names)
    methods: tuple[str, ...] = ("freq", "fvt", "random")  # freq: best zero-cost init in bench/transfer_init.md
    steps: int = 24  # continued-training optimizer steps per variant (the paper: 500B tokens)
    batch_size: int = 4
    seq_len: int = 256
    lr: float = 3e-4
    warmup_steps: int = 4
    eval_every: int = 6
    ckpt_every: int = 12  # checkpoint (model + optimizer) every N steps: an interrupted run resumes there
    eval_bytes: int = 12_000  # held-out code bytes for the bits/byte curve
    train_chars: int = 2_000_000

    def __post_init__(self):
        known = transfer_methods()
        for i, m in enumerate(self.methods):
            if m not in known:
                raise _bad(f"transfer.methods[{i}]", f"unknown method {m!r}; known: {', '.join(known)}")
        if not self.methods:
            raise _bad("transfer.methods", f"give at least one of {', '.join(known)}")
        _positive("transfer", self, ("steps", "batch_size", "seq_len", "eval_every", "ckpt_every", "eval_bytes", "train_chars"))
        if not self.lr > 0:
            raise _bad("transfer.lr", f"must be > 0, got {self.lr}")
        from ..costs.shapes import SHAPES

        if self.shape not in SHAPES:
            raise _bad("transfer.shape", f"unknown model shape {self.shape!r}; known: {', '.join(SHAPES)}")


@dataclass(frozen=True)
class CodegenSection:
    """Code-generation evaluation: pass@k of sampled completions and bits/byte of the reference solutions."""

    SECTION: ClassVar[str] = "codegen"
    benchmarks: tuple[str, ...] = ("humaneval", "mbpp")
    problems: int = 20  # first N problems per benchmark for solution bits/byte
    passk_problems: int = 2  # first N HumanEval problems sampled for pass@k (0 = skip)
    n_samples: int = 1
    temperature: float = 0.0
    top_p: float = 0.95
    ks: tuple[int, ...] = (1,)
    max_new_tokens: int = 96

    def __post_init__(self):
        for i, b in enumerate(self.benchmarks):
            if b not in CODEGEN_BENCHMARKS:
                raise _bad(f"codegen.benchmarks[{i}]", f"unknown benchmark {b!r}; known: {', '.join(CODEGEN_BENCHMARKS)}")
        _positive("codegen", self, ("problems", "n_samples", "max_new_tokens"))
        for i, k in enumerate(self.ks):
            if k < 1 or k > self.n_samples:
                raise _bad(f"codegen.ks[{i}]", f"pass@{k} needs 1 <= k <= n_samples ({self.n_samples}); raise n_samples or lower k")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise _bad("codegen.temperature", "temperature must be >= 0 and top_p in (0, 1]")


@dataclass(frozen=True)
class SpeedSection:
    """Measured generation speed, old vs new tokenizer: greedy decoding from held-out code prompts."""

    SECTION: ClassVar[str] = "speed"
    prompts: int = 3
    new_tokens: int = 48
    repeats: int = 1

    def __post_init__(self):
        _positive("speed", self, ("prompts", "new_tokens", "repeats"))


@dataclass(frozen=True)
class EnginesSection:
    """What each stage runs on at full scale (for the --dry-run plan) and the accelerator assumed for GPU-hours."""

    SECTION: ClassVar[str] = "engines"
    counting: str = "local"  # local | ray
    training: str = "local"  # local | accelerate-fsdp
    sampling: str = "transformers"  # transformers | vllm
    gpu: str = "A100-80GB"
    gpu_flops: float = 312e12  # peak bf16 FLOP/s
    mfu: float = 0.4  # model FLOPs utilisation assumed for GPU-hours
    gpus: int = 1

    def __post_init__(self):
        for key, value, known in (("counting", self.counting, ("local", "ray")),
                                  ("training", self.training, ("local", "accelerate-fsdp")),
                                  ("sampling", self.sampling, ("transformers", "vllm"))):
            if value not in known:
                raise _bad(f"engines.{key}", f"unknown engine {value!r}; known: {', '.join(known)}")
        if not 0 < self.mfu <= 1 or self.gpu_flops <= 0 or self.gpus < 1:
            raise _bad("engines.mfu", "mfu must be in (0, 1], gpu_flops > 0 and gpus >= 1")


@dataclass(frozen=True)
class StudyConfig:
    """A whole study. Outputs go to ``<runs_dir>/<name>/<stage>/``."""

    name: str = "quickstart"
    runs_dir: Path = Path("runs")
    threads: int = 1  # torch CPU threads (1 was fastest on 2 shared cores)
    corpus: CorpusSection = field(default_factory=CorpusSection)
    tokenizers: TokenizersSection = field(default_factory=TokenizersSection)
    costs: CostsSection = field(default_factory=CostsSection)
    transfer: TransferSection = field(default_factory=TransferSection)
    codegen: CodegenSection = field(default_factory=CodegenSection)
    speed: SpeedSection = field(default_factory=SpeedSection)
    engines: EnginesSection = field(default_factory=EnginesSection)

    def __post_init__(self):
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise _bad("name", f"{self.name!r} is not a usable directory name")
        if self.threads < 0:
            raise _bad("threads", f"must be >= 0, got {self.threads}")

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name


def _from_data(data: dict, where: str) -> StudyConfig:
    try:
        return from_dict(StudyConfig, data, where="\0")
    except ToksmithError as e:
        msg = str(e)
        msg = msg.replace("\0.", "").replace("\0", "(top level)")
        raise ToksmithError(f"{where}: {msg}") from None


def load_study(path: str | os.PathLike) -> StudyConfig:
    """Read and validate a study TOML/JSON file; errors name the file and the key path."""
    data = read_config_file(path, missing=f"{path}: no such study config; try configs/quickstart.toml")
    return _from_data(data, str(path))


def study_from_dict(data: dict, where: str = "<dict>") -> StudyConfig:
    return _from_data(data, where)


def check_runnable(cfg: StudyConfig) -> None:
    """What --dry-run does not need but a real run does: the base model must exist here."""
    from ..models import MODEL_ALIASES

    m = cfg.transfer.model
    if m not in MODEL_ALIASES and not (Path(m).expanduser() / "config.json").is_file():
        raise ToksmithError(f"transfer.model: {m!r} is neither {', '.join(MODEL_ALIASES)} nor a Hugging Face model "
                            "directory (config.json) on this machine; fix the path or use --dry-run to only plan")


def ci_scaled(cfg: StudyConfig) -> StudyConfig:
    """The reduced form run by CI (``TOKSMITH_SLOW_SCALE=ci``): small corpus slice, few steps, two problems."""
    r = dataclasses.replace
    return r(cfg,
             corpus=r(cfg.corpus, chars=min(cfg.corpus.chars, 600_000), heldout_docs=min(cfg.corpus.heldout_docs, 20)),
             tokenizers=r(cfg.tokenizers, vocab_sizes=(600, 800, 1000), size=1000, presets=cfg.tokenizers.presets[:2],
                          mixes=cfg.tokenizers.mixes[:2]),
             transfer=r(cfg.transfer, steps=2, batch_size=2, seq_len=64, warmup_steps=1, eval_every=1, ckpt_every=1, eval_bytes=1500,
                        train_chars=200_000),
             codegen=r(cfg.codegen, problems=2, passk_problems=2, max_new_tokens=16),
             speed=r(cfg.speed, prompts=1, new_tokens=8))


def study_dict(cfg: StudyConfig) -> dict:
    return to_dict(cfg)
