"""The language step alone: speed, accuracy and agreement of its engines, side by side in one run.

    .venv/bin/python benchmarks/bench_language.py [--per-source N] [--bands 0.5 0.7 0.9] [--out FILE]

Documents: benchmarks/filter_corpus.py (PubMed abstracts, PMC articles, Reuters, 20 Newsgroups:
English; lingua paragraphs: 75 languages, the file name is the gold language), each cleaned as its
source's chain cleans it (untimed), so the language step reads what it reads in `medcurate filter`.
For each engine the step runs exactly as the filter runs it (the source's params.yaml language
settings, `filter.language.engine` set to the engine), timed in CPU seconds of this process:
- `langdetect`: langdetect on every document (before this change);
- `fast`: CLD2 where it is sure, langdetect in the unsure band (the default); once per `--bands`
  value of `unsure_below` as well.
Reported per source and overall: documents per CPU-second, English precision and recall against
the gold language, the non-English drop rate (lingua), agreement with the langdetect-only
decisions, and how many documents CLD2 left to langdetect.
Results: benchmarks/results/language.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import filter_corpus  # noqa: E402

from curation.filters.chain import build_chain, config_for_source  # noqa: E402
from curation.filters.language import LanguageFilter, detect_cld2  # noqa: E402
from pipelines.params import load_params  # noqa: E402

REPO = filter_corpus.REPO


def language_step(filter_config: dict, source: str, **overrides) -> LanguageFilter:
    """The source's language filter as `medcurate filter` builds it, with `overrides` applied."""
    config = config_for_source(filter_config, source)
    config["language"] = {**(config.get("language") or {}), **overrides}
    return build_chain({**config, "steps": ["language"]}).filters[0]


def cleaned(filter_config: dict, by_source: dict[str, list[dict]]) -> dict[str, list[dict]]:
    out = {}
    for source, docs in by_source.items():
        cleaner = build_chain({**config_for_source(filter_config, source), "steps": []}).cleaner
        out[source] = [dict(d, text=cleaner(d["text"])) if cleaner else d for d in docs]
        out[source] = [d for d in out[source] if d["text"]]
    return out


def run_engine(filter_config: dict, by_source: dict[str, list[dict]], **overrides) -> dict[str, tuple[float, list[bool]]]:
    """Per source: (CPU s, keep decision per document)."""
    out = {}
    for source, docs in by_source.items():
        step = language_step(filter_config, source, **overrides)
        copies = [copy.copy(d) for d in docs]
        step.check(copy.copy(docs[0]))  # langdetect loads its profiles on first use: not timed
        start = time.process_time()
        keeps = [step.check(d).keep for d in copies]
        out[source] = (time.process_time() - start, keeps)
    return out


def accuracy(docs: list[dict], keeps: list[bool]) -> dict:
    gold_en = [filter_corpus.gold_language(d) == "en" for d in docs]
    kept_en = sum(k and g for k, g in zip(keeps, gold_en))
    kept = sum(keeps)
    english = sum(gold_en)
    other = len(docs) - english
    return {
        "english": english,
        "english_kept": kept_en,
        "non_english": other,
        "non_english_kept": kept - kept_en,
        "precision_en": round(kept_en / kept, 4) if kept else None,
        "recall_en": round(kept_en / english, 4) if english else None,
        "non_english_drop_rate": round(1 - (kept - kept_en) / other, 4) if other else None,
    }


def summarise(by_source, run, reference=None) -> dict:
    out = {"sources": {}}
    all_docs, all_keeps, all_ref, cpu = [], [], [], 0.0
    for source, docs in by_source.items():
        seconds, keeps = run[source]
        entry = {"documents": len(docs), "cpu_s": round(seconds, 3), "docs_per_cpu_s": round(len(docs) / seconds) if seconds else None}
        entry.update(accuracy(docs, keeps))
        if reference is not None:
            ref = reference[source][1]
            entry["agreement_with_langdetect"] = round(sum(a == b for a, b in zip(keeps, ref)) / len(docs), 4)
            entry["kept_only_here"] = sum(a and not b for a, b in zip(keeps, ref))
            entry["kept_only_by_langdetect"] = sum(b and not a for a, b in zip(keeps, ref))
            all_ref += ref
        out["sources"][source] = entry
        all_docs += docs
        all_keeps += keeps
        cpu += seconds
    out["all"] = {"documents": len(all_docs), "cpu_s": round(cpu, 3), "docs_per_cpu_s": round(len(all_docs) / cpu), **accuracy(all_docs, all_keeps)}
    if reference is not None:
        out["all"]["agreement_with_langdetect"] = round(sum(a == b for a, b in zip(all_keeps, all_ref)) / len(all_docs), 4)
    return out


def unsure_counts(filter_config: dict, by_source, band: float) -> dict[str, int]:
    """Documents CLD2 leaves to langdetect (not reliable, unknown, or below the band)."""
    out = {}
    for source, docs in by_source.items():
        prefix = language_step(filter_config, source).config.prefix_chars
        results = (detect_cld2(d["text"], prefix) for d in docs)
        out[source] = sum(not (reliable and lang != "unknown" and share >= band) for lang, share, reliable in results)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-source", type=int, default=None, help="at most N documents of each source (seeded sample)")
    parser.add_argument("--bands", type=float, nargs="*", default=[0.5, 0.9], help="other `unsure_below` values to measure")
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/language.json"))
    args = parser.parse_args()
    filter_config = load_params(args.params)["filter"]
    by_source = cleaned(filter_config, filter_corpus.build(args.per_source))
    default_band = language_step(filter_config, "pubmed").config.unsure_below

    langdetect = run_engine(filter_config, by_source, engine="langdetect")
    fast = run_engine(filter_config, by_source, engine="fast")
    results: dict = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()},
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip(),
        "per_source": args.per_source,
        "langdetect": summarise(by_source, langdetect),
        "fast": {"unsure_below": default_band, "left_to_langdetect": unsure_counts(filter_config, by_source, default_band), **summarise(by_source, fast, langdetect)},
        "bands": {},
    }
    for band in args.bands:
        run = run_engine(filter_config, by_source, engine="fast", unsure_below=band)
        results["bands"][str(band)] = {"left_to_langdetect": unsure_counts(filter_config, by_source, band), **summarise(by_source, run, langdetect)}
    results["speedup"] = round(results["fast"]["all"]["docs_per_cpu_s"] / results["langdetect"]["all"]["docs_per_cpu_s"], 1)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    for name in ("langdetect", "fast"):
        a = results[name]["all"]
        print(f"{name:10s} {a['docs_per_cpu_s']:>7} docs/CPU-s  precision {a['precision_en']}  recall {a['recall_en']}  "
              f"non-English dropped {a['non_english_drop_rate']}  agreement {a.get('agreement_with_langdetect', 1)}")
    for band, r in results["bands"].items():
        a = r["all"]
        print(f"band {band:5s} {a['docs_per_cpu_s']:>7} docs/CPU-s  precision {a['precision_en']}  recall {a['recall_en']}  non-English dropped {a['non_english_drop_rate']}")


if __name__ == "__main__":
    main()
