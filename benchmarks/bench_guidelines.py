"""Guideline extraction quality and speed on the recorded pages, against our hand-checked spans.

For each recorded guideline page, benchmarks/data/guidelines_spans.json names the main content
(the page's visible text from a start string to an end string). Precision and recall are over
word multisets: precision = shared words / words we extracted, recall = shared words / gold words
(micro-averaged over pages). The same numbers are given for plain trafilatura
(`extract(favor_recall=True, include_tables=True)` on the whole page) as a reference point, plus
the must-have / must-not string checks and whether the two non-guideline pages are ledgered with
the right reason. Speed, per CPU-second, in alternating rounds (benchmarks/command_level.py), on
the recorded pages each stored under --copies URLs: the command as README runs it,
`medcurate guidelines parse --site S STORE --out DIR` once per site (CPU of every process it
starts), the parse path alone in this process (extraction, sections, cleaning, classification),
and trafilatura's `extract` on the same pages in this process.

    .venv/bin/python benchmarks/bench_guidelines.py [--rounds 5] [--copies 20]
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import lxml.html
import trafilatura

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.command_level import METHODS, alternate, command_cpu, process_cpu, ratios  # noqa: E402
from sources.guidelines.store import write_site_file
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


def speed_runs(tmp: Path, spans: dict, copies: int, rounds: int) -> dict:
    """Every recorded page stored `copies` times (one store per site, as `guidelines fetch` writes
    them), then the command, our parse path and trafilatura timed in alternating rounds."""
    stores, pages, bodies = {}, [], []
    for name, spec in sorted(spans.items()):
        site = SITES[spec["site"]]
        if site.name not in stores:
            stores[site.name] = tmp / "stores" / site.name
            write_site_file(stores[site.name], site)
        data = (PAGES / name).read_bytes()
        for copy in range(copies):
            pages.append((site, PageStore(stores[site.name]).save(site.url(f"/recorded/{copy}/{name}"), "page", 200, "text/html", data)))
            bodies.append(data)

    def commands() -> float:
        total = 0.0
        for site_name, store in stores.items():
            shutil.rmtree(tmp / "out" / site_name, ignore_errors=True)
            total += command_cpu(["guidelines", "parse", str(store), "--site", site_name, "--out", str(tmp / "out" / site_name)])
        return total

    seconds = alternate({
        "trafilatura": lambda: process_cpu(lambda: [trafilatura.extract(b, favor_recall=True, include_tables=True) for b in bodies]),
        "medcurate_library": lambda: process_cpu(lambda: [list(parse_page(site, page)) for site, page in pages]),
        "medcurate_command": commands,
    }, rounds)
    return {"pages": len(pages), "commands_per_round": len(stores), "measured": ratios(seconds, "trafilatura", len(pages))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--copies", type=int, default=20, help="URLs each recorded page is stored under for the speed runs")
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
        speed = speed_runs(Path(tmp), spans, args.copies, args.rounds)
    micro = {label: {"precision": round(s / g, 4), "recall": round(s / w, 4)} for label, (s, g, w) in totals.items()}
    total_bytes = sum((PAGES / name).stat().st_size for name in spans)
    results = {
        "pages": len(spans),
        "micro": micro,
        "per_page": per_page,
        "speed": speed,
        "command_pages_per_cpu_s": speed["measured"]["medcurate_command"]["per_cpu_s"],
        "command_vs_trafilatura": speed["measured"]["medcurate_command"]["vs_trafilatura"],
        "library_mb_per_cpu_s": round(total_bytes * args.copies / speed["measured"]["medcurate_library"]["cpu_s_best"] / 1e6, 3),
        "command_cpu_measured_by": sorted(METHODS),
        "rounds": args.rounds,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "trafilatura": trafilatura.__version__},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: results[k] for k in ("micro", "speed", "library_mb_per_cpu_s")}, indent=2))
    for name, row in per_page.items():
        print(name, json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
