"""Guideline extraction quality and speed on the recorded pages, against our hand-checked spans.

For each recorded guideline page, benchmarks/data/guidelines_spans.json names the main content
(the page's visible text from a start string to an end string). Precision and recall are over
word multisets: precision = shared words / words we extracted, recall = shared words / gold words
(micro-averaged over pages). The same numbers are given for plain trafilatura
(`extract(favor_recall=True, include_tables=True)` on the whole page) as a reference point, plus
the must-have / must-not string checks and whether the two non-guideline pages are ledgered with
the right reason. Speed: pages per second of the whole parse path (extraction, sections,
cleaning, classification), best of several rounds, in one process.

    .venv/bin/python benchmarks/bench_guidelines.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import lxml.html
import trafilatura

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sources.guidelines.parse import parse_page
from sources.guidelines.sites import SITES
from sources.guidelines.store import PageStore

PAGES = REPO.parent / "shared" / "fixtures" / "guidelines_html"
SPANS = REPO / "benchmarks" / "data" / "guidelines_spans.json"
RESULTS = REPO / "benchmarks" / "results" / "guidelines.json"
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> Counter:
    return Counter(w.lower() for w in _WORD.findall(text))


def visible_text(data: bytes) -> str:
    root = lxml.html.document_fromstring(data)
    for element in root.iter("script", "style", "noscript"):
        element.drop_tree()
    return " ".join(root.text_content().split())


def gold_span(data: bytes, start: str, end: str) -> str:
    text = visible_text(data)
    norm = lambda s: " ".join(s.split())
    i = text.index(norm(start))
    j = text.index(norm(end), i) + len(norm(end))
    return text[i:j]


def overlap(extracted: Counter, gold: Counter) -> tuple[int, int, int]:
    return sum((extracted & gold).values()), sum(extracted.values()), sum(gold.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    spans = json.loads(SPANS.read_text(encoding="utf-8"))["pages"]
    per_page, totals = {}, {"ours": [0, 0, 0], "trafilatura": [0, 0, 0]}
    with tempfile.TemporaryDirectory() as tmp:
        store = PageStore(tmp)
        stored = []
        for name, spec in sorted(spans.items()):
            site = SITES[spec["site"]]
            data = (PAGES / name).read_bytes()
            page = store.save(site.url(f"/recorded/{name}"), "page", 200, "text/html", data)
            stored.append((site, page))
            (outcome,) = list(parse_page(site, page))
            if "expect" in spec:
                per_page[name] = {"expected_reason": spec["expect"], "reason": outcome.reason,
                                  "correct": outcome.reason == spec["expect"]}
                continue
            gold = words(gold_span(data, spec["start"], spec["end"]))
            ours = words(outcome.doc["text"])
            base = words(trafilatura.extract(data, favor_recall=True, include_tables=True) or "")
            row = {"reason": outcome.reason}
            for label, counts in (("ours", ours), ("trafilatura", base)):
                shared, got, want = overlap(counts, gold)
                totals[label] = [a + b for a, b in zip(totals[label], (shared, got, want))]
                row[label] = {"precision": round(shared / got, 4) if got else 0.0, "recall": round(shared / want, 4)}
            text = outcome.doc["text"]
            row["must_have_missing"] = [s for s in spec["must_have"] if s not in text]
            row["must_not_present"] = [s for s in spec["must_not"] if s.lower() in text.lower()]
            per_page[name] = row
        best = float("inf")
        for _ in range(args.rounds):
            started = time.perf_counter()
            for site, page in stored:
                list(parse_page(site, page))
            best = min(best, time.perf_counter() - started)
    micro = {label: {"precision": round(s / g, 4), "recall": round(s / w, 4)} for label, (s, g, w) in totals.items()}
    total_bytes = sum((PAGES / name).stat().st_size for name in spans)
    results = {
        "pages": len(spans),
        "micro": micro,
        "per_page": per_page,
        "pages_per_second": round(len(spans) / best, 2),
        "mb_per_second": round(total_bytes / best / 1e6, 3),
        "rounds": args.rounds,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "trafilatura": trafilatura.__version__},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: results[k] for k in ("micro", "pages_per_second", "mb_per_second")}, indent=2))
    for name, row in per_page.items():
        print(name, json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
