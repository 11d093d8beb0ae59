"""Speed and text quality: `medcurate pmc parse` against pubmed_parser on full-text articles.

The articles of ../shared/corpora/fulltext are copied, repeated to at least --files files, into a
temporary folder (never committed). Every file is read from disk by each contender, timed in CPU
seconds in alternating rounds (benchmarks/command_level.py), every round kept:
- pubmed_parser, in this process: `parse_pubmed_xml(path)` (front matter + abstract) and
  `parse_pubmed_paragraph(path, all_paragraph=True)` (body paragraphs), what a user of it calls
  to get one article's text;
- medcurate's library, in this process: `pipelines.stages.pmc_parse.parse_file(path)` (one read,
  the whole document);
- the command as README runs it: `medcurate pmc parse FOLDER --out DIR` (CPU of every process it
  starts: interpreter, imports, workers if the stage starts any, the Parquet shards).
Quality counters, on the same articles: citation debris left in the text ("[1]", "[2]–[5]"
brackets, empty "()" / "[]") and what removing citations can leave ("(e.g.,)", "(, p. 67)",
"et al.."); mean document length.
Results go to benchmarks/results/pmc_parse.json.

    .venv/bin/python benchmarks/bench_pmc_parse.py [--files 500] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import lxml
import pubmed_parser

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.command_level import METHODS, alternate, command_cpu, process_cpu, ratios  # noqa: E402
from pipelines.stages.pmc_parse import parse_file  # noqa: E402
from sources.pmc.jats import Article, JatsOptions  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpora" / "fulltext"
RESULTS = REPO / "benchmarks" / "results" / "pmc_parse.json"
DEBRIS = re.compile(r"\[\d+(?:[,\u2013\-]\s*\d+)*\]|\(\s*\)|\[\s*\]|\[\s*[,\u2013-]")
# What removing citations can leave: a bracket opening or closing on a separator, a bracket holding
# only "e.g." or "see", two full stops ("et al. [3]." -> "et al..").
REMNANTS = re.compile(r"[(\[]\s*[,;:]|[,;:]\s*[)\]]|\((?:e\.g\.|see(?: also)?|but see|cf\.)[,\s]*\)|(?<!\.)\.\.(?!\.)")


def build_folder(target: Path, n_files: int) -> list[Path]:
    originals = sorted(CORPUS.rglob("*.*ml"))
    files = []
    while len(files) < n_files:
        for original in originals:
            copy = target / f"{len(files):05d}_{original.name}"
            shutil.copyfile(original, copy)
            files.append(copy)
    return files


def run_pubmed_parser(files: list[Path]) -> list[dict]:
    out = []
    for path in files:
        try:
            meta = pubmed_parser.parse_pubmed_xml(str(path))
            paragraphs = pubmed_parser.parse_pubmed_paragraph(str(path), all_paragraph=True)
        except Exception as exc:  # it has no error contract; count what it cannot read
            out.append({"error": f"{type(exc).__name__}: {exc}"})
            continue
        text = "\n\n".join([meta.get("full_title") or "", meta.get("abstract") or ""] + [p.get("text") or "" for p in paragraphs])
        out.append({"text": text, "sections": len({p.get("section") for p in paragraphs if p.get("section")})})
    return out


def run_ours(files: list[Path]) -> list:
    options = JatsOptions()
    return [item for path in files for item in parse_file(str(path), options)]


def command(folder: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    return command_cpu(["pmc", "parse", str(folder), "--out", str(out)])


def quality(texts: list[str]) -> dict:
    n = max(1, len(texts))
    return {
        "documents": len(texts),
        "citation_debris_per_document": round(sum(len(DEBRIS.findall(t)) for t in texts) / n, 2),
        "documents_with_citation_debris": sum(bool(DEBRIS.search(t)) for t in texts),
        "removal_remnants_per_document": round(sum(len(REMNANTS.findall(t)) for t in texts) / n, 2),
        "mean_chars": round(sum(len(t) for t in texts) / n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        files = build_folder(folder, args.files)
        seconds = alternate({
            "pubmed_parser": lambda: process_cpu(lambda: run_pubmed_parser(files)),
            "medcurate_library": lambda: process_cpu(lambda: run_ours(files)),
            "medcurate_command": lambda: command(folder, Path(tmp) / "out"),
        }, args.rounds)
        stats = json.loads((Path(tmp) / "out" / "stats.json").read_text())
        theirs, ours = run_pubmed_parser(files), run_ours(files)  # untimed: the texts, for quality

    n = len(files)
    measured = ratios(seconds, "pubmed_parser", n)
    our_docs = [i.doc["text"] for i in ours if isinstance(i, Article) and not i.drop_reason]
    their_texts = [r["text"] for r in theirs if "text" in r]
    result = {
        "files": n,
        "distinct_articles": len(sorted(CORPUS.rglob("*.*ml"))),
        "rounds": args.rounds,
        "measured": measured,
        "command_ratio_vs_pubmed_parser": measured["medcurate_command"]["vs_pubmed_parser"],
        "command_ratio_per_round": measured["medcurate_command"]["vs_pubmed_parser_per_round"],
        "library_ratio_vs_pubmed_parser": measured["medcurate_library"]["vs_pubmed_parser"],
        "command_documents_in": stats["documents_in"],
        "command_cpu_measured_by": sorted(METHODS),
        "goal_ratio": 2.0,
        "pubmed_parser_errors": sum("error" in r for r in theirs),
        "medcurate": {"documents": len(our_docs), "ledgered": sum(isinstance(i, Article) and bool(i.drop_reason) for i in ours),
                      "record_errors": sum(not isinstance(i, Article) for i in ours), **quality(our_docs)},
        "pubmed_parser": quality(their_texts),
        "notes": ("medcurate reads each file once and renders the whole document (sections, captions, formulas, "
                  "citations removed); pubmed_parser parses each file twice (front matter, then paragraphs) and "
                  "keeps bibliography brackets in its paragraph text."),
        "versions": {"python": platform.python_version(), "lxml": lxml.__version__,
                     "pubmed_parser": getattr(pubmed_parser, "__version__", "unknown")},
        "machine": {"processor": platform.processor() or platform.machine(), "system": platform.platform()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("files", "measured", "command_ratio_vs_pubmed_parser", "command_ratio_per_round",
                                             "library_ratio_vs_pubmed_parser", "command_documents_in", "medcurate", "pubmed_parser")}, indent=2))


if __name__ == "__main__":
    main()
