"""The stages of a study, in order. Each takes a :class:`~toksmith.study.run.StageContext` and returns a JSON dict.

tokenizers (vocab / preset / mix sweeps) -> compare (Table 1 vs references) -> costs (NSL(V) fit, optimal V per
shape) -> transfer (one model per init method) -> finetune (original + transferred, bits/byte curve) -> codegen
(solution bits/byte, pass@k) -> speed (generation bytes/s old vs new) -> report.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path

from ..config import to_dict
from .run import Stage, StageContext

log = logging.getLogger(__name__)


def _mix_value(mix: dict[str, float]) -> str:
    return "+".join(f"{d}={s:g}" for d, s in mix.items())


def _train_base(cfg, vocab_size: int, preset: str):
    from ..bpe import TrainConfig

    corpus = dataclasses.replace(cfg.corpus.corpus_config(), heldout_max_docs=cfg.corpus.heldout_docs)
    return TrainConfig(vocab_size=vocab_size, preset=preset, backend=cfg.tokenizers.backend, corpus=corpus)


def tokenizers_stage(ctx: StageContext) -> dict:
    """The three levers: a vocab sweep (one training at the largest size, smaller sizes its prefixes), presets and
    mixes at ``tokenizers.size``. The recommended tokenizer: the preset with the lowest code NSL."""
    from ..analysis.sweep import SweepConfig, run_sweep, sweep_records

    t = ctx.cfg.tokenizers
    ctx.total(3)
    out = {}
    base = _train_base(ctx.cfg, t.size, t.presets[0])
    sweeps = {
        "vocab": SweepConfig("vocab", tuple(str(v) for v in t.vocab_sizes), dataclasses.replace(base, vocab_size=max(t.vocab_sizes)),
                             baseline=t.references[0], out_dir=ctx.dir / "vocab", num_threads=1),
        "preset": SweepConfig("preset", tuple(t.presets), base, baseline=t.references[0], out_dir=ctx.dir / "preset", num_threads=1),
        "mix": SweepConfig("mix", tuple(_mix_value(m) for m in t.mixes), base, baseline=t.references[0],
                           out_dir=ctx.dir / "mix", num_threads=1),
    }
    prev = None
    for lever, sc in sweeps.items():
        if prev is not None and (prev / "tokenizers").is_dir():  # the same config trained before: same hash, reused
            shutil.copytree(prev / "tokenizers", sc.out_dir / "tokenizers", dirs_exist_ok=True)
        prev = sc.out_dir
        res = run_sweep(sc)
        out[lever] = {"points": sweep_records(res), "fits": {d: [dataclasses.asdict(f) for f in fs] for d, fs in res.fits.items()},
                      "dirs": {p.label: p.tokenizer_dir for p in res.points},
                      "png": str(ctx.dir / lever / ("nsl_vs_vocab.png" if lever == "vocab" else f"nsl_per_{lever}.png"))}
        ctx.advance()
    best = min(out["preset"]["points"], key=lambda r: r["nsl_code"])
    out["recommended"] = {"preset": best["label"], "vocab_size": t.size, "mix": ctx.cfg.corpus.mix,
                          "dir": out["preset"]["dirs"][best["label"]], "nsl_code": best["nsl_code"]}
    return out


def compare_stage(ctx: StageContext) -> dict:
    """Table 1: the recommended tokenizer next to the references on the held-out split, per domain."""
    from ..analysis.compare import compare, summary_records, write_result
    from ..analysis.heldout import heldout_from_config

    cfg = ctx.cfg
    rec = ctx.inputs["tokenizers"]["recommended"]
    corpus = _train_base(cfg, rec["vocab_size"], rec["preset"]).corpus
    data = {k: v[: cfg.corpus.heldout_docs] for k, v in heldout_from_config(corpus).items()}
    refs = cfg.tokenizers.references
    result = compare([rec["dir"], *refs[1:]], data, baseline=refs[0], num_threads=1, corpus_name="held-out split")
    write_result(result, ctx.dir, {"study": cfg.name})
    return {"summaries": summary_records(result), "domains": list(result.domains), "baseline": refs[0],
            "ours": result.summaries[1].tokenizer,
            "bytes_per_token": {s.tokenizer: s.bytes_per_token for s in result.summaries},
            "nsl": {s.tokenizer: s.nsl for s in result.summaries}}


def costs_stage(ctx: StageContext) -> dict:
    """NSL(V) on code fitted to the *measured* vocab sweep, then the cost model's optimal V per model shape."""
    from ..costs import model as M
    from ..costs.nsl import Compression, fit_exp
    from ..costs.optimal import inference_optimal_v, memory_optimal_v, plot_cost_curves
    from ..costs.shapes import load_shape

    c = ctx.cfg.costs
    pts = [(r["vocab_size"], r["nsl_code"]) for r in ctx.inputs["tokenizers"]["vocab"]["points"]]
    curve = fit_exp(pts, source="fit to this study's vocab sweep (code)")
    base = ctx.cfg.tokenizers.references[0]
    bpt = ctx.inputs["compare"]["bytes_per_token"][base]["code"]
    comp = Compression(curve=curve, baseline_bytes_per_token=bpt)
    lo, hi = min(v for v, _ in pts), max(v for v, _ in pts)
    shapes = [load_shape(s) for s in (*c.shapes, ctx.cfg.transfer.shape)]
    rows = []
    for s in shapes:
        inf = inference_optimal_v(s, comp, n_ctx_ref=c.n_ctx)
        mem = memory_optimal_v(s, comp, c.batch, c.seq_tokens)
        per_v = [{"V": v, "params": int(M.total_params(s, v)), "vocab_share": float(M.vocab_share(s, v)),
                  "weights_gb": float(M.weight_bytes(s, v)) / 1e9,
                  "memory_gb": float(M.inference_memory_bytes(s, v, comp, c.batch, c.seq_tokens)) / 1e9,
                  "flops_per_byte": float(M.flops_per_byte(s, v, comp, c.n_ctx))}
                 for v in sorted({*ctx.cfg.tokenizers.vocab_sizes, 32_000, 64_000, 128_000})]
        rows.append({"shape": s.name, "inference_optimal_v": inf.vocab_size, "inference_bound": inf.at_bound,
                     "memory_optimal_v": mem.vocab_size, "memory_bound": mem.at_bound,
                     "extrapolated": not (lo <= inf.vocab_size <= hi and lo <= mem.vocab_size <= hi), "per_v": per_v})
    png = plot_cost_curves(shapes, comp, ctx.dir / "cost_curves.png", n_ctx_ref=c.n_ctx, memory_model=shapes[-1].name,
                           batches=(1, 8, c.batch), seq_ref_tokens=c.seq_tokens)
    return {"fit": {"a": curve.a, "b": curve.b, "c": curve.c, "points": pts, "measured_range": [lo, hi]},
            "baseline_bytes_per_token": bpt, "shapes": rows, "png": str(png)}


def transfer_stage(ctx: StageContext) -> dict:
    """Switch the base model to the recommended tokenizer, once per init method."""
    from ..transfer.surgery import MANIFEST, TransferConfig, transfer

    t = ctx.cfg.transfer
    rec = ctx.inputs["tokenizers"]["recommended"]
    ctx.total(len(t.methods))
    out = {}
    for m in t.methods:
        d = ctx.dir / m
        if not (d / MANIFEST).is_file():
            transfer(TransferConfig(model=t.model, tokenizer=Path(rec["dir"]), out_dir=d, method=m, overwrite=True))
        out[m] = {"dir": str(d), "stats": json.loads((d / MANIFEST).read_text(encoding="utf-8"))["stats"]}
        ctx.advance()
    return {"models": out, "tokenizer": rec}


def _variants(ctx: StageContext) -> dict[str, str]:
    """name -> model: the original, then one per transfer method."""
    models = {"original": ctx.cfg.transfer.model}
    models.update({m: v["dir"] for m, v in ctx.inputs["transfer"]["models"].items()})
    return models


def finetune_stage(ctx: StageContext) -> dict:
    """Continue training the original and every transferred model on the same code, same steps; bits/byte curve.
    Checkpoints every ``eval_every`` steps: an interrupted run resumes at the last one."""
    from ..transfer.finetune import FinetuneConfig, finetune, read_metrics

    t = ctx.cfg.transfer
    variants = _variants(ctx)
    ctx.total(len(variants))
    out = {}
    for name, model in variants.items():
        d = ctx.dir / name
        summ = d / "summary.json"
        if not (summ.is_file() and json.loads(summ.read_text(encoding="utf-8")).get("finished")):
            finetune(FinetuneConfig(model=model, out_dir=d, train_chars=t.train_chars, eval_max_bytes=t.eval_bytes,
                                    seq_len=t.seq_len, batch_size=t.batch_size, lr=t.lr, warmup_steps=t.warmup_steps,
                                    steps=t.steps, eval_every=t.eval_every, ckpt_every=t.ckpt_every, keep_checkpoints=1))
        shutil.rmtree(d / "checkpoints", ignore_errors=True)  # finished: final/ holds the model
        curve = [r for r in read_metrics(d) if "eval_bpb" in r]
        out[name] = {"final": str(d / "final"), "curve": [(r["step"], r["eval_bpb"]) for r in curve],
                     "tokens_per_byte": curve[-1]["tokens_per_byte"], "bpb_start": curve[0]["eval_bpb"],
                     "bpb_end": curve[-1]["eval_bpb"]}
        ctx.advance()
    return {"variants": out, "steps": t.steps, "tokens_per_step": t.batch_size * t.seq_len}


def codegen_stage(ctx: StageContext) -> dict:
    """Per variant: bits/byte of the reference solutions given the prompts (every benchmark), and pass@k."""
    from ..codegen.benchmarks import load_benchmark
    from ..codegen.evaluate import EvalConfig, evaluate
    from ..codegen.generate import GenerationConfig
    from ..codegen.likelihood import solution_bpb

    c = ctx.cfg.codegen
    variants = {n: v["final"] for n, v in ctx.inputs["finetune"]["variants"].items()}
    probs = {b: list(load_benchmark(b))[: c.problems] for b in c.benchmarks}
    ctx.total(len(variants) * (sum(len(p) for p in probs.values()) + c.passk_problems))
    out = {}
    for name, model in variants.items():
        r = {"solution_bpb": {}}
        for b, ps in probs.items():
            r["solution_bpb"][b] = solution_bpb(model, ps, ctx.dir / name / f"likelihood-{b}.jsonl", threads=ctx.cfg.threads,
                                                progress=ctx.advance)
        if c.passk_problems:
            gen = GenerationConfig(n_samples=c.n_samples, temperature=c.temperature, top_p=c.top_p,
                                   max_new_tokens=c.max_new_tokens, threads=ctx.cfg.threads, batch_size=4)
            ecfg = EvalConfig(benchmark="humaneval", problems=f"0-{c.passk_problems - 1}", ks=c.ks,
                              out_dir=ctx.dir / name / "passk", generation=gen, workers=1)
            s = evaluate(model, ecfg)
            r["pass_at_k"] = s["pass_at_k"]
            r["generation"] = s.get("generation")
            ctx.advance(c.passk_problems)
        out[name] = r
    return {"variants": out, "problems": {b: len(p) for b, p in probs.items()}}


def speed_stage(ctx: StageContext) -> dict:
    """Greedy generation from held-out code prompts, old tokenizer (original) vs new (first transfer method):
    tokens/s and bytes/s of the produced text."""
    import torch

    from ..models import load_causal_lm
    from ..references import load_tokenizer
    from ..transfer.data import heldout_texts

    s = ctx.cfg.speed
    fin = ctx.inputs["finetune"]["variants"]
    new_name = ctx.cfg.transfer.methods[0]
    prompts = [t[:400] for t in heldout_texts("default", max_bytes=200_000)[: s.prompts]]
    ctx.total(2 * s.prompts * s.repeats)
    out = {}
    for label, model_dir in (("original", fin["original"]["final"]), (new_name, fin[new_name]["final"])):
        model, path = load_causal_lm(model_dir, dtype=torch.float32)
        model.eval()
        tok = load_tokenizer(path)
        bos = model.config.bos_token_id
        n_tok = n_bytes = 0
        wall = 0.0
        for _ in range(s.repeats):
            for p in prompts:
                ids = ([bos] if bos is not None else []) + tok.encode(p)
                x = torch.tensor([ids])
                t0 = time.perf_counter()
                with torch.no_grad():
                    y = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=s.new_tokens,
                                       min_new_tokens=s.new_tokens, do_sample=False, pad_token_id=model.config.eos_token_id)
                wall += time.perf_counter() - t0
                new = [int(i) for i in y[0, len(ids):] if int(i) < tok.vocab_size]
                n_tok += len(new)
                n_bytes += len(b"".join(tok.token_bytes(i) for i in new))
                ctx.advance()
        out[label] = {"tokens": n_tok, "bytes": n_bytes, "seconds": wall, "tokens_per_s": n_tok / wall,
                      "bytes_per_s": n_bytes / wall, "heldout_tokens_per_byte": fin[label]["tokens_per_byte"],
                      "vocab_size": tok.vocab_size}
        del model
    return {"models": out, "old": "original", "new": new_name}


def report_stage(ctx: StageContext) -> dict:
    from .report import write_report

    paths = write_report(ctx.cfg, ctx.inputs, ctx.dir, seconds=ctx.seconds)
    run_dir = ctx.dir.parent.parent
    from ..artifacts import atomic_write_bytes

    for name in ("report.html", "report.md"):
        atomic_write_bytes(run_dir / name, (ctx.dir / name).read_bytes())
    shutil.rmtree(run_dir / "report_files", ignore_errors=True)
    shutil.copytree(ctx.dir / "figures", run_dir / "report_files")
    return {k: str(v) for k, v in paths.items()}


ALL = ("corpus", "tokenizers", "costs", "transfer", "codegen", "speed", "threads")
STAGES: tuple[Stage, ...] = (
    Stage("tokenizers", (), ("corpus", "tokenizers"), tokenizers_stage, describe="train the vocab / preset / mix sweeps"),
    Stage("compare", ("tokenizers",), ("corpus",), compare_stage, describe="Table 1: ours vs references per domain"),
    Stage("costs", ("tokenizers", "compare"), ("costs", "transfer"), costs_stage, describe="NSL(V) fit, optimal V per shape"),
    Stage("transfer", ("tokenizers",), ("transfer",), transfer_stage, describe="switch the base model's tokenizer"),
    Stage("finetune", ("transfer",), ("transfer",), finetune_stage, describe="continued training, bits/byte curve"),
    Stage("codegen", ("finetune",), ("codegen",), codegen_stage, describe="solution bits/byte and pass@k"),
    Stage("speed", ("finetune",), ("speed",), speed_stage, describe="generation bytes/s old vs new"),
    Stage("report", ("tokenizers", "compare", "costs", "transfer", "finetune", "codegen", "speed"), ("name",),
          report_stage, version=1, describe="report.html + report.md"),
)


def headlines(run) -> dict[str, str]:
    """One short line of numbers per finished stage, for the terminal summary table."""
    r = {n: s.result for n, s in run.stages.items()}
    out = {}
    if "tokenizers" in r:
        rec = r["tokenizers"]["recommended"]
        out["tokenizers"] = f"best preset {rec['preset']} at {rec['vocab_size']:,}: code NSL {rec['nsl_code']:.3f}"
    if "compare" in r:
        out["compare"] = ", ".join(f"{t} code {b['code']:.2f} B/tok" for t, b in r["compare"]["bytes_per_token"].items())
    if "costs" in r:
        out["costs"] = ", ".join(f"{s['shape']} V*={s['inference_optimal_v'] / 1000:.0f}k" for s in r["costs"]["shapes"])
    if "finetune" in r:
        out["finetune"] = ", ".join(f"{n} {v['bpb_start']:.2f}->{v['bpb_end']:.2f} bpb" for n, v in r["finetune"]["variants"].items())
    if "codegen" in r:
        out["codegen"] = ", ".join(f"{n} " + "/".join(f"{x['bpb']:.2f}" for x in v["solution_bpb"].values())
                                   for n, v in r["codegen"]["variants"].items()) + " solution bpb"
    if "speed" in r:
        out["speed"] = ", ".join(f"{n} {v['bytes_per_s']:.0f} B/s" for n, v in r["speed"]["models"].items())
    if "report" in r:
        out["report"] = r["report"]["html"]
    return out
