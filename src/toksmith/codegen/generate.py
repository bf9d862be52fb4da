"""Sample completions for benchmark problems from a Hugging Face causal LM, with token healing and stop sequences.

``generate_completions(problems, model_dir, cfg)`` yields one :class:`Generation` per problem (its ``n_samples``
completions, generated-token counts and wall time) as soon as all its samples are done, so the caller can
checkpoint after every problem. Rows (problem, sample) are batched ``batch_size`` at a time, left-padded, through
``transformers`` ``generate`` (greedy when ``temperature == 0``, else sampling with temperature and top-p, top-k
off). The tokenizer is the model directory's, seen through the ``toksmith.tokenizer.Tokenizer`` protocol, so a
model whose tokenizer was switched by toksmith (FVT) is handled the same way; token bytes decide everything
(healing constraints, stop detection, bytes/s).

A completion is the text after the prompt (after the healed-away text ``r`` when token healing is on), cut at
the first stop sequence. Tokens are counted up to the step a row finished (stop sequence or EOS), so
``tokens / wall_s`` is the decoding speed.

The vLLM backend is **experimental**: it runs only with ``backend="vllm"`` (``auto`` always means transformers,
on CPU and GPU alike; see :func:`choose_backend`) and passes the same prompts, n, temperature, top-p, max tokens
and stop sequences to ``vllm.LLM``. It is not exercised by the test suite (no GPU there). Token healing needs the
transformers backend.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ToksmithError, check_fields, unknown_name
from .benchmarks import Problem
from .healing import TokenHealer, heal_prompt, healing_logits_processor

log = logging.getLogger(__name__)

BACKENDS = ("auto", "transformers", "vllm")


@dataclass(frozen=True)
class GenerationConfig:
    """How completions are sampled. The paper: n = 200, temperature 0.6, top-p 0.95, token healing on."""

    n_samples: int = 1  # samples per problem (pass@k needs n >= k)
    temperature: float = 0.0  # 0 = greedy; the paper samples at 0.6
    top_p: float = 0.95  # nucleus sampling mass (ignored when greedy)
    max_new_tokens: int = 512  # HumanEval bodies fit; bigcode uses 512 as well
    batch_size: int = 8  # rows (problem, sample) per forward batch
    token_healing: bool = True  # back up the last prompt tokens (the paper's N-step variant)
    healing_tokens: int = 1  # N: prompt tokens to back up
    backend: str = "auto"  # auto (= transformers) | transformers | vllm (experimental, only when named)
    seed: int = 0  # torch seed per batch: seed + batch index
    add_bos: bool | None = None  # None: as the model's tokenizer_config.json says (add_bos_token)
    device: str = "auto"  # auto: cuda when available, else cpu
    threads: int = 0  # torch CPU threads; 0 = torch's default. On 2 shared cores 1 was 4-10x faster than 2

    def __post_init__(self) -> None:
        check_fields(self, n_samples=1, temperature=0, max_new_tokens=1, batch_size=1, threads=0, healing_tokens=0)
        if not 0 < self.top_p <= 1:
            raise ToksmithError(f"GenerationConfig.top_p must be in (0, 1], got {self.top_p}")
        if self.backend not in BACKENDS:
            raise unknown_name("GenerationConfig.backend", self.backend, BACKENDS)


@dataclass
class Generation:
    """The samples of one problem."""

    task_id: str
    completions: list[str]
    tokens: list[int]  # generated tokens per sample
    wall_s: float  # this problem's share of generation wall time
    healed: str = ""  # the prompt text backed up by token healing (r), decoded
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"task_id": self.task_id, "completions": self.completions, "tokens": self.tokens,
                "wall_s": self.wall_s, "healed": self.healed, **self.meta}


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop sequence. ``("x = 1\\ndef g", ["\\ndef"]) -> ("x = 1", True)``."""
    cut = min((i for s in stops if (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def load_model(model_dir: str | Path, device: str = "auto"):
    """(model, toksmith Tokenizer) from an HF model directory holding its tokenizer files."""
    import torch
    from transformers import AutoModelForCausalLM

    from ..references import load_tokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ToksmithError(f"{model_dir} is not a Hugging Face model directory (no config.json)")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    return model, load_tokenizer(model_dir)


def _wants_bos(model_dir: Path, cfg: GenerationConfig) -> bool:
    if cfg.add_bos is not None:
        return cfg.add_bos
    tc = model_dir / "tokenizer_config.json"
    return bool(tc.is_file() and json.loads(tc.read_text(encoding="utf-8")).get("add_bos_token", False))


def _stopping_criteria(healer: TokenHealer, removed: Sequence[bytes], prompt_len: int, stops: Sequence[Sequence[str]],
                       eos: set[int], finished_at: list[int | None]):
    import torch
    from transformers import StoppingCriteria

    class StopOnSequences(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
            step = input_ids.shape[1] - prompt_len
            done = []
            for row in range(input_ids.shape[0]):
                if finished_at[row] is None:
                    ids = input_ids[row, prompt_len:].tolist()
                    text = healer.produced(ids)[len(removed[row]):].decode("utf-8", errors="replace")
                    if (ids and ids[-1] in eos) or truncate_at_stop(text, stops[row])[1]:
                        finished_at[row] = step
                done.append(finished_at[row] is not None)
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopOnSequences()


def _generate_batch(model, healer, rows, cfg, bos, batch_index):
    """rows: list of (Problem, ids, removed bytes). Returns [(completion, n_tokens)] and wall seconds."""
    import torch
    from transformers import GenerationConfig as HFGenerationConfig
    from transformers import StoppingCriteriaList

    eos_cfg = model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None else model.config.eos_token_id
    eos = set(eos_cfg if isinstance(eos_cfg, list) else [eos_cfg] if eos_cfg is not None else [])
    pad = model.generation_config.pad_token_id
    pad = pad if pad is not None else (min(eos) if eos else 0)
    width = max(len(ids) for _, ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (_, ids, _) in enumerate(rows):
        input_ids[i, width - len(ids):] = torch.tensor(ids)
        mask[i, width - len(ids):] = 1
    removed = [r for _, _, r in rows]
    finished_at: list[int | None] = [None] * len(rows)
    processors = [healing_logits_processor(healer, removed, width)] if any(removed) else []
    stopping = StoppingCriteriaList([_stopping_criteria(healer, removed, width, [p.stop for p, _, _ in rows], eos, finished_at)])
    gcfg = HFGenerationConfig(
        max_new_tokens=cfg.max_new_tokens, do_sample=cfg.temperature > 0, temperature=cfg.temperature or None,
        top_p=cfg.top_p if cfg.temperature > 0 else None, top_k=0 if cfg.temperature > 0 else None,
        pad_token_id=pad, eos_token_id=sorted(eos) or None, bos_token_id=bos,
    )
    torch.manual_seed(cfg.seed + batch_index)
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=input_ids.to(model.device), attention_mask=mask.to(model.device), generation_config=gcfg,
                             logits_processor=processors, stopping_criteria=stopping)
    wall = time.perf_counter() - t0
    results = []
    for i, (problem, _, r) in enumerate(rows):
        gen = out[i, width:].tolist()
        n_tok = finished_at[i] if finished_at[i] is not None else len(gen)
        data = healer.produced(gen[:n_tok])
        if r and not data.startswith(r):
            log.warning("%s: token healing did not reproduce %r (got %r)", problem.task_id, r, data[: len(r)])
        text = data[len(r):].decode("utf-8", errors="replace") if data.startswith(r) else data.decode("utf-8", errors="replace")
        results.append((truncate_at_stop(text, problem.stop)[0], n_tok))
    return results, wall


def vllm_available() -> bool:
    """Whether the vllm package imports and a CUDA GPU is present."""
    try:
        import torch
        import vllm  # noqa: F401
    except ImportError:
        return False
    return torch.cuda.is_available()


def choose_backend(backend: str, token_healing: bool, has_vllm: bool) -> str:
    """The generation backend that runs: ``auto`` is always ``transformers`` (the tested path, CPU or GPU).

    vLLM is experimental (not covered by the test suite) and runs only when asked for by name; asking for it
    without vllm and a GPU, or together with token healing, is an error rather than a silent fallback.

    >>> choose_backend("auto", token_healing=False, has_vllm=True)
    'transformers'
    >>> choose_backend("vllm", token_healing=False, has_vllm=True)
    'vllm'
    """
    if backend not in BACKENDS:
        raise unknown_name("GenerationConfig.backend", backend, BACKENDS)
    if backend != "vllm":
        return "transformers"
    if not has_vllm:
        raise ToksmithError("backend 'vllm' needs the vllm package and a CUDA GPU; use --backend transformers")
    if token_healing:
        raise ToksmithError("token healing needs the transformers backend; pass --no-token-healing to use vLLM")
    return "vllm"


def _generate_vllm(problems: Sequence[Problem], model_dir: Path, cfg: GenerationConfig) -> Iterator[Generation]:
    from vllm import LLM, SamplingParams

    llm = LLM(model=str(model_dir), seed=cfg.seed)
    for p in problems:
        params = SamplingParams(n=cfg.n_samples, temperature=cfg.temperature, top_p=cfg.top_p if cfg.temperature else 1.0,
                                max_tokens=cfg.max_new_tokens, stop=list(p.stop), seed=cfg.seed)
        t0 = time.perf_counter()
        (req,) = llm.generate([p.prompt], params, use_tqdm=False)
        wall = time.perf_counter() - t0
        yield Generation(p.task_id, [o.text for o in req.outputs], [len(o.token_ids) for o in req.outputs], wall,
                         meta={"backend": "vllm"})


def generate_completions(problems: Sequence[Problem], model_dir: str | Path, cfg: GenerationConfig = GenerationConfig(),
                         model=None, tokenizer=None) -> Iterator[Generation]:
    """Yield a :class:`Generation` per problem, in order, each as soon as its samples are done.

    ``model``/``tokenizer`` may be passed already loaded (tests, notebooks); otherwise they are read from
    ``model_dir``.
    """
    model_dir = Path(model_dir)
    if model is None and choose_backend(cfg.backend, cfg.token_healing, cfg.backend == "vllm" and vllm_available()) == "vllm":
        yield from _generate_vllm(problems, model_dir, cfg)
        return
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    if model is None or tokenizer is None:
        model, tokenizer = load_model(model_dir, cfg.device)
    healer = TokenHealer(tokenizer, model.config.vocab_size)
    bos = model.config.bos_token_id
    prefix = [bos] if bos is not None and _wants_bos(model_dir, cfg) else []
    n_heal = cfg.healing_tokens if cfg.token_healing else 0
    rows = []
    for p in problems:
        ids, removed = heal_prompt(tokenizer, p.prompt, n_heal, prefix)
        rows += [(p, ids, removed)] * cfg.n_samples
    pending: dict[str, Generation] = {}
    remaining = {p.task_id: cfg.n_samples for p in problems}
    for b, start in enumerate(range(0, len(rows), cfg.batch_size)):
        chunk = rows[start:start + cfg.batch_size]
        results, wall = _generate_batch(model, healer, chunk, cfg, bos, b)
        for (p, _, removed), (text, n_tok) in zip(chunk, results):
            g = pending.setdefault(p.task_id, Generation(p.task_id, [], [], 0.0, removed.decode("utf-8", errors="replace"),
                                                         meta={"backend": "transformers"}))
            g.completions.append(text)
            g.tokens.append(n_tok)
            g.wall_s += wall / len(chunk)
            remaining[p.task_id] -= 1
            if remaining[p.task_id] == 0:
                yield pending.pop(p.task_id)
