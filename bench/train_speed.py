"""Benchmark: BPE training speed, peak memory and held-out compression, toksmith vs its peers, in one run.

Issues 3 and 8. On the same mixed corpus (70% code / 30% English, GPT-4 regex, max token length 128) this trains
a tokenizer with toksmith's native backend and with HF ``tokenizers``, ``bpeasy``, ``rustbpe`` and SentencePiece
(BPE) called directly (``--with-backends`` adds toksmith's other registry backends), each in a fresh subprocess,
interleaved, and prints wall time, peak memory (the child's own resident-set high-water mark, ``VmHWM`` of
``/proc/self/status``, just after training) and held-out bytes/token, each as a ratio to the fastest / leanest peer of the same configuration. It also times toksmith's
counting stage with 1 and 2 worker threads, and the growth of toksmith's time and memory with data size.

The corpus is built once per size from what this machine has and cached under ``--cache``: code = distinct
``.py`` files (stdlib + the venv's site-packages, deduplicated by content); English = the vendored English of
``toksmith/corpus/data`` (Python docs, Debian handbook, Shakespeare) + ``/usr/share/doc`` texts + the ``.md``/
``.rst``/``.txt`` files of site-packages. Documents are ordered by content hash, so a smaller corpus is a prefix of
a larger one; held-out documents (hash-selected, ~1 MB code + ~0.5 MB English, the same for every size) are never
trained on. Files are UTF-8 documents separated by the ASCII record separator (0x1E); every trainer reads them
through the same streaming iterator.

Why ``VmHWM`` and not ``ru_maxrss``: Linux keeps ``ru_maxrss`` across fork and exec, so a child started by a big
parent (one that has just built the corpus) reports the parent's peak; ``VmHWM`` belongs to the child's own
address space, made fresh by exec.

Usage: ``python bench/train_speed.py --mb 100 300 --vocab 32000 64000`` (see ``--help``). Each run is appended, with
its UTC date, to the JSON history in ``--out`` (``{"runs": [...]}``, oldest first; written atomically), never
overwriting earlier runs. Timings on a shared machine are noisy: compare the ratios of one run, not absolute seconds.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from toksmith.pretokenize import PRESETS

GPT4 = PRESETS["gpt4"]
RS = "\x1e"
MAX_DOC = 1 << 20
PEERS = ("rustbpe", "hf", "bpeasy", "sentencepiece")
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------- corpus
def _code_files() -> list[Path]:
    roots = {Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])}
    return sorted(p for r in roots for p in r.rglob("*.py") if p.is_file())


def _english_docs() -> list[str]:
    docs = []
    data = ROOT / "src/toksmith/corpus/data"
    for name in ("english-docs.jsonl.gz", "english-plays.jsonl.gz"):
        if (data / name).exists():
            with gzip.open(data / name, "rt", encoding="utf-8") as f:
                docs += [json.loads(line)["text"] for line in f]
    paths = sorted(p for p in Path("/usr/share/doc").rglob("*") if p.is_file())
    purelib = Path(sysconfig.get_paths()["purelib"])
    paths += sorted(
        p
        for ext in ("*.md", "*.rst", "*.txt")
        for p in purelib.rglob(ext)
        if p.is_file() and ".dist-info" not in str(p) and p.stat().st_size > 2000
    )
    for p in paths:
        try:
            raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue
        if "\x00" not in text and len(text) > 500:
            docs.append(text)
    return docs


def _dedupe_sorted(docs) -> list[tuple[str, str]]:
    seen = {}
    for d in docs:
        d = d.replace(RS, "")[:MAX_DOC]
        if d.strip():
            seen.setdefault(hashlib.sha256(d.encode("utf-8", "replace")).hexdigest(), d)
    return sorted(seen.items())


def build_corpus(mb: float, cache: Path) -> dict:
    """Write ``train.txt`` / ``heldout.txt`` for ``mb`` MB (70% code / 30% English by bytes); cached."""
    out = cache / f"corpus-{mb:g}MB"
    if (out / "stats.json").exists():
        return json.loads((out / "stats.json").read_text())
    code = []
    for p in _code_files():
        try:
            code.append(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            pass
    domains = {"code": _dedupe_sorted(code), "english": _dedupe_sorted(_english_docs())}
    budget = {"code": 0.7 * mb * 1e6, "english": 0.3 * mb * 1e6}
    held_budget = {"code": 1.0e6, "english": 0.5e6}
    train, held, stats = {}, {}, {"mb": mb}
    for dom, docs in domains.items():
        t, h, tb, hb = [], [], 0, 0
        for digest, d in docs:
            n = len(d.encode("utf-8", "replace"))
            if int(digest[:4], 16) % 50 == 0:
                if hb < held_budget[dom]:
                    h.append(d)
                    hb += n
            elif tb < budget[dom]:
                t.append(d)
                tb += n
        train[dom], held[dom] = t, h
        stats[dom] = {"train_bytes": tb, "train_docs": len(t), "heldout_bytes": hb, "available_docs": len(docs)}
        if tb < 0.95 * budget[dom]:
            stats[dom]["short_by_bytes"] = budget[dom] - tb
    # interleave by bytes so the stream stays mixed
    mixed, pos, acc = [], {"code": 0, "english": 0}, {"code": 0.0, "english": 0.0}
    share = {"code": 0.7, "english": 0.3}
    while any(pos[d] < len(train[d]) for d in train):
        dom = min((d for d in train if pos[d] < len(train[d])), key=lambda d: acc[d] / share[d])
        doc = train[dom][pos[dom]]
        pos[dom] += 1
        acc[dom] += len(doc)
        mixed.append(doc)
    out.mkdir(parents=True, exist_ok=True)
    for name, docs in (("train.txt", mixed), ("heldout.txt", held["code"] + held["english"])):
        tmp = out / f".{name}.tmp"
        tmp.write_text(RS.join(docs), encoding="utf-8", errors="replace")
        os.replace(tmp, out / name)
    stats["train_bytes"] = (out / "train.txt").stat().st_size
    (out / "stats.json").write_text(json.dumps(stats, indent=1))
    return stats


def iter_docs(path: Path, block: int = 1 << 23):
    """Stream the documents of a corpus file (RS-separated UTF-8)."""
    rest = b""
    with open(path, "rb") as f:
        while chunk := f.read(block):
            parts = (rest + chunk).split(b"\x1e")
            rest = parts.pop()
            for p in parts:
                yield p.decode("utf-8")
    if rest:
        yield rest.decode("utf-8")


# ---------------------------------------------------------------------------------------------------- trainers
def _ranks_bpt(ranks: dict[bytes, int], held: list[str]) -> float:
    import tiktoken

    enc = tiktoken.Encoding("bench", pat_str=GPT4, mergeable_ranks=ranks, special_tokens={})
    n_tok = sum(len(x) for x in enc.encode_ordinary_batch(held, num_threads=2))
    return sum(len(h.encode("utf-8")) for h in held) / n_tok


def _merges_to_ranks(merged) -> dict[bytes, int]:
    ranks = {bytes([b]): b for b in range(256)}
    for t in merged:
        ranks.setdefault(bytes(t), len(ranks))
    return ranks


def run_trainer(trainer: str, data: Path, vocab: int, workers: int | None, stage: str, cap: int = 0) -> dict:
    """Inside the child process: train once, return timings, peak memory and a closure for held-out eval."""
    n_merges = vocab - 256
    docs = iter_docs(data)
    if trainer in ("toksmith", "toksmith-cap"):
        from toksmith.bpe import native

        t0 = time.perf_counter()
        counts = native.count_pretokens(docs, GPT4, workers=workers, max_unique=cap if trainer == "toksmith-cap" else None)
        t_count = time.perf_counter() - t0
        if stage == "count":
            return {"wall_s": t_count, "count_s": t_count, "unique": len(counts)}
        merged = native.merges_from_counts(counts, n_merges, max_token_length=128, min_frequency=2)
        wall = time.perf_counter() - t0
        return {"wall_s": wall, "count_s": t_count, "merge_s": wall - t_count, "unique": len(counts),
                "pruned_entries": counts.pruned_entries, "ranks": _merges_to_ranks(merged)}
    if trainer.startswith("backend:"):
        from toksmith.bpe.backends import BACKENDS

        t0 = time.perf_counter()
        merged = BACKENDS[trainer.split(":", 1)[1]](docs, pattern=GPT4, n_merges=n_merges, max_token_length=128,
                                                    min_frequency=2)
        return {"wall_s": time.perf_counter() - t0, "ranks": _merges_to_ranks(merged)}
    if trainer == "rustbpe":
        import rustbpe

        t0 = time.perf_counter()
        tok = rustbpe.Tokenizer()
        tok.train_from_iterator(docs, vocab, pattern=GPT4)
        wall = time.perf_counter() - t0
        return {"wall_s": wall, "ranks": {bytes(t): r for t, r in tok.get_mergeable_ranks()}}
    if trainer == "bpeasy":
        import bpeasy

        t0 = time.perf_counter()
        v = bpeasy.train_bpe(docs, GPT4, 129, vocab)  # bpeasy keeps tokens strictly shorter than its limit
        return {"wall_s": time.perf_counter() - t0, "ranks": {bytes(t): r for t, r in v.items()}}
    if trainer == "hf":
        from tokenizers import Regex, Tokenizer
        from tokenizers import pre_tokenizers as pt
        from tokenizers.models import BPE
        from tokenizers.trainers import BpeTrainer

        t0 = time.perf_counter()
        tok = Tokenizer(BPE())
        tok.pre_tokenizer = pt.Sequence(
            [pt.Split(Regex(GPT4), behavior="isolated"), pt.ByteLevel(add_prefix_space=False, use_regex=False)]
        )
        trainer_ = BpeTrainer(vocab_size=vocab, min_frequency=2, max_token_length=129, show_progress=False,
                              initial_alphabet=pt.ByteLevel.alphabet())
        tok.train_from_iterator(docs, trainer=trainer_)
        wall = time.perf_counter() - t0
        from toksmith.tokenizer import bytelevel_decode

        merges = json.loads(tok.to_str())["model"]["merges"]
        merged = [bytelevel_decode(a) + bytelevel_decode(b) for a, b in
                  (m if isinstance(m, list) else m.split(" ", 1) for m in merges)]
        return {"wall_s": wall, "ranks": _merges_to_ranks(merged)}
    if trainer == "sentencepiece":
        import io

        import sentencepiece as spm

        def lines():
            for d in docs:
                for line in d.split("\n"):
                    if line.strip():
                        yield line

        t0 = time.perf_counter()
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=lines(), model_writer=model, vocab_size=vocab, model_type="bpe", byte_fallback=True,
            character_coverage=0.9999, max_sentencepiece_length=128, normalization_rule_name="identity",
            remove_extra_whitespaces=False, allow_whitespace_only_pieces=True, split_digits=False,
            num_threads=os.cpu_count(), max_sentence_length=1 << 16, bos_id=-1, eos_id=-1, minloglevel=2,
        )
        return {"wall_s": time.perf_counter() - t0, "sp_model": model.getvalue()}
    raise SystemExit(f"unknown trainer {trainer}")


def machine_parallelism(seconds: float = 0.5) -> float:
    """How many cores this process really gets now: sha256 (GIL released) on 2 threads vs 1, same work each."""
    import hashlib
    import threading

    data = b"x" * (1 << 24)
    reps = max(1, int(seconds / 0.05))

    def work():
        for _ in range(reps):
            hashlib.sha256(data).digest()

    t0 = time.perf_counter()
    work()
    one = time.perf_counter() - t0
    threads = [threading.Thread(target=work) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(2 * one / (time.perf_counter() - t0), 2)


def peak_rss_mb() -> tuple[float, str]:
    """This process's own peak resident memory in MB, and where it was read from.

    ``VmHWM`` (Linux) is the high-water mark of this address space only; ``ru_maxrss`` (the fallback elsewhere)
    would include the peak of the parent this process was forked from.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024, "VmHWM"
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ru_maxrss"


def child_main(args) -> None:
    res = run_trainer(args.child, Path(args.data), args.vocab[0], args.workers, args.stage, args.cap)
    res["peak_mb"], res["peak_source"] = peak_rss_mb()
    held = list(iter_docs(Path(args.heldout)))
    if "ranks" in res:
        res["bytes_per_token"] = _ranks_bpt(res.pop("ranks"), held)
    elif "sp_model" in res:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_proto=res.pop("sp_model"))
        res["bytes_per_token"] = sum(len(h.encode()) for h in held) / sum(len(x) for x in sp.encode(held))
    print("RESULT " + json.dumps(res), flush=True)


CAP = 300_000  # about the distinct pre-tokens of 100 MB: bounds memory at larger sizes


def spawn(trainer: str, corpus: Path, vocab: int, workers=None, stage="train", timeout=900) -> dict:
    cmd = [sys.executable, __file__, "--child", trainer, "--data", str(corpus / "train.txt"), "--heldout",
           str(corpus / "heldout.txt"), "--vocab", str(vocab), "--stage", stage, "--cap", str(CAP)]
    if workers:
        cmd += ["--workers", str(workers)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout}s"}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (p.stderr or p.stdout)[-400:]}


# ---------------------------------------------------------------------------------------------------- report
def _table(rows: list[dict]) -> str:
    out = [f"{'config':<14} {'trainer':<22} {'wall s':>8} {'x fastest peer':>14} {'peak MB':>8} "
           f"{'x rustbpe mem':>13} {'bytes/tok':>9} {'vs best peer':>12}"]
    for cfg in dict.fromkeys(r["config"] for r in rows):
        rs = [r for r in rows if r["config"] == cfg and "error" not in r]
        peers = [r for r in rs if r["trainer"] in PEERS]
        fastest = min((r["wall_s"] for r in peers), default=None)
        rust_mem = next((r["peak_mb"] for r in peers if r["trainer"] == "rustbpe"), None)
        best_bpt = max((r["bytes_per_token"] for r in peers), default=None)
        for r in [r for r in rows if r["config"] == cfg]:
            if "error" in r:
                out.append(f"{cfg:<14} {r['trainer']:<22} ERROR {r['error'][-200:]!r}")
                continue
            out.append(
                f"{cfg:<14} {r['trainer']:<22} {r['wall_s']:>8.2f} "
                f"{(r['wall_s'] / fastest if fastest else float('nan')):>14.2f} {r['peak_mb']:>8.0f} "
                f"{(r['peak_mb'] / rust_mem if rust_mem else float('nan')):>13.2f} {r['bytes_per_token']:>9.4f} "
                f"{(r['bytes_per_token'] / best_bpt - 1 if best_bpt else float('nan')):>+12.2%}"
            )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[100.0], help="corpus sizes in MB (the first is the base)")
    ap.add_argument("--vocab", type=int, nargs="+", default=[32000, 64000])
    ap.add_argument("--peers", nargs="*", default=list(PEERS), help=f"peers to run (of {', '.join(PEERS)})")
    ap.add_argument("--peer-vocab", type=int, nargs="*", default=None,
                    help="run peers only at these vocabularies (default: all)")
    ap.add_argument("--peer-mb", type=float, nargs="*", default=None, help="run all peers only at these sizes")
    ap.add_argument("--large-peers", nargs="*", default=["rustbpe"],
                    help="peers run at the other sizes (first vocabulary only)")
    ap.add_argument("--with-backends", action="store_true", help="also run toksmith's registry backends")
    ap.add_argument("--scaling-mb", type=float, default=None, help="also time toksmith at this (small) size")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("TOKSMITH_CACHE", "~/.cache/toksmith")).expanduser() / "bench")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "train_speed.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--heldout", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--stage", default="train", help=argparse.SUPPRESS)
    ap.add_argument("--cap", type=int, default=CAP, help="max_unique of the toksmith-cap rows")
    args = ap.parse_args()
    if args.child:
        return child_main(args)

    t_start = time.time()
    sizes = list(args.mb) + ([args.scaling_mb] if args.scaling_mb else [])
    corpora, built = {}, []
    for mb in sizes:
        t0 = time.time()
        if not (args.cache / f"corpus-{mb:g}MB" / "stats.json").exists():
            built.append(mb)
        stats = build_corpus(mb, args.cache)
        corpora[mb] = args.cache / f"corpus-{mb:g}MB"
        print(f"corpus {mb:g} MB: {stats['train_bytes'] / 1e6:.1f} MB train ({time.time() - t0:.0f}s) {stats}", flush=True)
    rows = []

    def record(cfg, trainer, res):
        res.update(config=cfg, trainer=trainer)
        rows.append(res)
        shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()}
        print(f"  {cfg} {trainer}: {shown}", flush=True)

    for mb in args.mb:
        for vocab in args.vocab:
            cfg = f"{mb:g}MB/{vocab // 1000}k"
            all_peers = args.peer_mb is None or mb in args.peer_mb
            peers = args.peers if all_peers else (args.large_peers if vocab == args.vocab[0] else [])
            if args.peer_vocab is not None and vocab not in args.peer_vocab:
                peers = []
            trainers = ["toksmith"] + ([f"backend:{b}" for b in ("hf", "rustbpe", "bpeasy")] if args.with_backends
                                       and mb == args.mb[0] and vocab == args.vocab[0] else [])
            order = []
            for i, p in enumerate(peers):  # interleave toksmith between peers
                order.append(p)
                if i == min(1, len(peers) - 1):
                    order.append("toksmith")
            if "toksmith" not in order:
                order.insert(0, "toksmith")
            order += [t for t in trainers if t != "toksmith"]
            if vocab == args.vocab[0]:
                order.append("toksmith-cap")
            for trainer in order:
                record(cfg, trainer, spawn(trainer, corpora[mb], vocab))
    # counting stage, 1 vs 2 worker threads, on the base size
    base = corpora[args.mb[0]]
    cores = [machine_parallelism()]
    for w in (1, 2) * 3:
        record(f"{args.mb[0]:g}MB/count", f"toksmith-count-w{w}", spawn("toksmith", base, args.vocab[0], w, "count"))
    cores.append(machine_parallelism())
    print(f"  cores this process got (sha256 on 2 threads vs 1), before/after the counting runs: {cores}")
    rows.append({"config": "machine", "trainer": "parallelism", "cores_available": cores, "error": "not a trainer"})
    if args.scaling_mb:
        record(f"{args.scaling_mb:g}MB/{args.vocab[0] // 1000}k", "toksmith",
               spawn("toksmith", corpora[args.scaling_mb], args.vocab[0]))
    # growth with data: toksmith alone, 3 rounds over the sizes, best of 3 per size (less noise than one run)
    for _ in range(3):
        for mb in sorted(corpora):
            record(f"{mb:g}MB/{args.vocab[0] // 1000}k/scaling", "toksmith-scaling",
                   spawn("toksmith", corpora[mb], args.vocab[0]))

    print("\n" + _table([r for r in rows if "/count" not in r["config"] and "/scaling" not in r["config"]
                         and r["config"] != "machine"]))
    summary = summarize(rows, args)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in summary.items()))
    print(f"\nbench took {time.time() - t_start:.0f}s")
    append_run(args.out, {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                          "argv": sys.argv[1:], "corpus_built_in_this_run_mb": built,
                          "parent_peak_mb": round(peak_rss_mb()[0], 1), "rows": rows, "summary": summary})


def append_run(path: Path, run: dict) -> None:
    """Append ``run`` to the dated history in ``path`` (a file of the old one-run format becomes its first entry)."""
    runs = []
    if path.exists():
        old = json.loads(path.read_text())
        runs = old["runs"] if "runs" in old else [old]
    runs.append(run)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump({"runs": runs}, f, indent=1)
    os.replace(tmp, path)
    print(f"appended run {len(runs)} to {path}")


def summarize(rows: list[dict], args) -> dict:
    ok = [r for r in rows if "error" not in r]
    get = lambda cfg, tr: next((r for r in ok if r["config"] == cfg and r["trainer"] == tr), None)  # noqa: E731
    s = {}
    for r in ok:
        if r["trainer"] != "toksmith" or "/count" in r["config"]:
            continue
        peers = [p for p in ok if p["config"] == r["config"] and p["trainer"] in PEERS]
        if not peers:
            continue
        fastest = min(peers, key=lambda p: p["wall_s"])
        rust = get(r["config"], "rustbpe")
        s[f"{r['config']} speedup vs fastest peer ({fastest['trainer']})"] = round(fastest["wall_s"] / r["wall_s"], 2)
        s[f"{r['config']} bytes/token vs fastest peer"] = f"{r['bytes_per_token'] / fastest['bytes_per_token'] - 1:+.3%}"
        if rust:
            s[f"{r['config']} peak memory / rustbpe"] = round(r["peak_mb"] / rust["peak_mb"], 2)
    base, v = args.mb[0], args.vocab[0] // 1000
    for mb in list(args.mb[1:]) + ([args.scaling_mb] if args.scaling_mb else []):
        a, b = get(f"{base:g}MB/{v}k", "toksmith"), get(f"{mb:g}MB/{v}k", "toksmith")
        if a and b:
            lo, hi = sorted([(base, a), (mb, b)], key=lambda x: x[0])
            s[f"toksmith {lo[0]:g}->{hi[0]:g} MB: data x{hi[0] / lo[0]:.2f}"] = (
                f"time x{hi[1]['wall_s'] / lo[1]['wall_s']:.2f}, peak memory x{hi[1]['peak_mb'] / lo[1]['peak_mb']:.2f}")
        for peer in PEERS:
            pa, pb = get(f"{base:g}MB/{v}k", peer), get(f"{mb:g}MB/{v}k", peer)
            if pa and pb:
                s[f"{peer} {base:g}->{mb:g} MB"] = f"time x{pb['wall_s'] / pa['wall_s']:.2f}, peak x{pb['peak_mb'] / pa['peak_mb']:.2f}"
    scal = {}
    for r in ok:
        if r["trainer"] == "toksmith-scaling":
            mb = float(r["config"].split("MB")[0])
            best = scal.get(mb)
            scal[mb] = (min(best[0], r["wall_s"]) if best else r["wall_s"], max(best[1], r["peak_mb"]) if best else r["peak_mb"])
    sizes = sorted(scal)
    for lo, hi in zip(sizes, sizes[1:]):
        s[f"toksmith best-of-3 {lo:g}->{hi:g} MB: data x{hi / lo:.2f}"] = (
            f"time x{scal[hi][0] / scal[lo][0]:.2f}, peak memory x{scal[hi][1] / scal[lo][1]:.2f}")
    if len(sizes) > 2:
        lo, hi = sizes[0], sizes[-1]
        s[f"toksmith best-of-3 {lo:g}->{hi:g} MB: data x{hi / lo:.2f}"] = (
            f"time x{scal[hi][0] / scal[lo][0]:.2f}, peak memory x{scal[hi][1] / scal[lo][1]:.2f}")
    caps = {r["config"]: r for r in ok if r["trainer"] == "toksmith-cap"}
    for cfg, r in caps.items():
        full = get(cfg, "toksmith")
        if full:
            s[f"{cfg} toksmith max_unique={args.cap}: pruned {r['pruned_entries']} entries"] = (
                f"bytes/token {r['bytes_per_token'] / full['bytes_per_token'] - 1:+.3%}, "
                f"peak {r['peak_mb'] / full['peak_mb']:.2f}x uncapped")
    cfgs = sorted(caps, key=lambda c: float(c.split("MB")[0]))
    if len(cfgs) > 1:
        a, b = caps[cfgs[0]], caps[cfgs[-1]]
        s[f"toksmith max_unique={args.cap} {cfgs[0]}->{cfgs[-1]}"] = (
            f"time x{b['wall_s'] / a['wall_s']:.2f}, peak memory x{b['peak_mb'] / a['peak_mb']:.2f}")
    machine = next((r for r in rows if r["config"] == "machine"), None)
    if machine:
        s["cores this process got during the counting runs (sha256, 2 threads vs 1)"] = machine["cores_available"]
    c1 = [r["count_s"] for r in ok if r["trainer"] == "toksmith-count-w1"]
    c2 = [r["count_s"] for r in ok if r["trainer"] == "toksmith-count-w2"]
    if c1 and c2:
        s["counting speedup 2 workers vs 1 (best of 3 each)"] = round(min(c1) / min(c2), 2)
    return s


if __name__ == "__main__":
    main()
