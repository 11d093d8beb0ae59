"""Benchmark decontamination: documents that share long word n-grams with a test item, or whose
PMID a benchmark lists, must not be trained on.

A benchmark is a JSONL file, one test item per line. The item's text is its `question`,
`options` (a list or a letter -> text mapping), `context` (string or list) and `answer` fields;
its n-grams are those of each field alone (so a document quoting only the question matches) and
those of the fields joined (so a short question quoted with its options matches too). A line's
`pmid` / `pubid` / `PMID` (PubMedQA style) goes into the benchmark's PMID list, and a `.txt` file is
a plain PMID list, one per line.

The rule (DecontamConfig):
- n-grams are word 13-grams (as GPT-3 and dolma), after the normalisation of curation.dedup.ngrams;
- an n-gram found in more than `max_items_per_ngram` items of the benchmarks is a stock phrase of
  the test sets ("which of the following is the most likely diagnosis in this patient") and does
  not count: sharing it is not contamination;
- a document is contaminated by an item when it shares at least `min_matches` distinct n-grams
  with it, or every n-gram of an item that has fewer (minimum-overlap rule: one common phrase is
  not enough, a quoted question is);
- items with fewer words than n have no n-gram and cannot be detected by overlap.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.dedup.ngrams import hash_ngrams, words_of

_GENERIC_STEMS = {"test", "dev", "val", "valid", "validation", "train", "data", "questions"}
PMID_KEYS = ("pmid", "pubid", "PMID")


@dataclass(frozen=True)
class DecontamConfig:
    n_grams: int = 13
    min_matches: int = 5
    max_items_per_ngram: int = 5


def benchmark_name(spec: str) -> tuple[str, Path]:
    """`NAME=PATH`, or PATH named by its stem (by its folder for generic stems like test.jsonl)."""
    name, sep, path = spec.partition("=")
    if sep and name and "/" not in name:
        return name, Path(path)
    path = Path(spec)
    stem = path.name.split(".")[0]
    return (path.parent.name if stem.lower() in _GENERIC_STEMS and path.parent.name else stem), path


def item_fields(record: dict) -> list[str]:
    """The text fields of one test item, in a fixed order."""
    fields: list[str] = []
    for key in ("question", "options", "context", "contexts", "answer"):
        value = record.get(key)
        if isinstance(value, dict):
            fields.extend(str(value[k]) for k in sorted(value))
        elif isinstance(value, list):
            fields.extend(str(v) for v in value)
        elif value not in (None, ""):
            fields.append(str(value))
    return fields


@dataclass
class Match:
    benchmark: str
    item: str
    shared: int
    how: str  # "ngrams" or "pmid"

    @property
    def reason(self) -> str:
        return f"benchmark_contamination:{self.benchmark}"

    @property
    def detail(self) -> str:
        if self.how == "pmid":
            return f"PMID listed by {self.benchmark} item {self.item}"
        return f"shares {self.shared} word n-grams with {self.benchmark} item {self.item}"


class BenchmarkIndex:
    """The n-gram hashes and PMIDs of the test sets; small (a few MB), built once per worker."""

    def __init__(self, specs: list[str], config: DecontamConfig = DecontamConfig()):
        self.config = config
        self.benchmarks: list[str] = []
        self.item_labels: list[str] = []
        self.item_benchmark: list[int] = []
        self.pmids: dict[str, tuple[str, str]] = {}
        texts: list[str] = []
        owners: list[int] = []
        for spec in specs:
            name, path = benchmark_name(spec)
            self.benchmarks.append(name)
            if path.suffix == ".txt":
                for line in path.read_text(encoding="utf-8").split():
                    self.pmids.setdefault(line.strip(), (name, line.strip()))
                continue
            with open(path, encoding="utf-8") as handle:
                for number, line in enumerate(handle):
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    label = str(record.get("realidx", record.get("id", number)))
                    item = len(self.item_labels)
                    self.item_labels.append(label)
                    self.item_benchmark.append(len(self.benchmarks) - 1)
                    for key in PMID_KEYS:
                        if record.get(key):
                            self.pmids.setdefault(str(record[key]).strip(), (name, label))
                    fields = item_fields(record)
                    # The joined text leaves the answer out: it repeats an option, and a quoted
                    # question with its options should match all of the joined n-grams.
                    joined = item_fields({k: v for k, v in record.items() if k != "answer"}) if record.get("options") else fields
                    texts.extend(fields + [" ".join(joined)])
                    owners.extend([item] * (len(fields) + 1))
        self._build(texts, np.asarray(owners, dtype=np.int64))

    def _build(self, texts: list[str], owners: np.ndarray) -> None:
        n = self.config.n_grams
        grams = hash_ngrams(texts, n)
        # Keep only true n-grams: a field shorter than n words yields a shorter one.
        words = np.diff(grams.offsets)
        full = np.array([len(words_of(t)) >= n for t in texts], dtype=bool) & (words > 0)
        keep = full[grams.doc]
        pairs = np.unique(np.stack((grams.hashes[keep], owners[grams.doc[keep]].astype(np.uint64)), axis=1), axis=0)
        hashes, items = pairs[:, 0], pairs[:, 1].astype(np.int64)
        # Stock phrases shared by many items do not count.
        uniq, first, counts = np.unique(hashes, return_index=True, return_counts=True)
        common = uniq[counts > self.config.max_items_per_ngram]
        rare = ~np.isin(hashes, common)
        self.hashes, self.items = hashes[rare], items[rare]
        self.item_ngrams = np.bincount(self.items, minlength=len(self.item_labels))
        self.required = np.minimum(self.item_ngrams, self.config.min_matches)

    @property
    def size(self) -> int:
        return int(self.hashes.size)

    def find(self, texts: list[str], pmids: list[str | None]) -> list[Match | None]:
        """For each document, its strongest contamination (most shared n-grams), or None."""
        result: list[Match | None] = [None] * len(texts)
        for i, pmid in enumerate(pmids):
            if pmid and pmid in self.pmids:
                name, label = self.pmids[pmid]
                result[i] = Match(name, label, 0, "pmid")
        if self.hashes.size == 0 or not texts:
            return result
        grams = hash_ngrams(texts, self.config.n_grams)
        doc_hash = np.unique(np.stack((grams.doc.astype(np.uint64), grams.hashes), axis=1), axis=0)
        lo = np.searchsorted(self.hashes, doc_hash[:, 1], side="left")
        hi = np.searchsorted(self.hashes, doc_hash[:, 1], side="right")
        hits = np.flatnonzero(hi > lo)
        if hits.size == 0:
            return result
        runs = hi[hits] - lo[hits]
        at = np.repeat(lo[hits], runs) + (np.arange(runs.sum()) - np.repeat(np.cumsum(runs) - runs, runs))
        docs = doc_hash[np.repeat(hits, runs), 0].astype(np.int64)
        items = self.items[at]
        pairs, shared = np.unique(np.stack((docs, items), axis=1), axis=0, return_counts=True)
        enough = shared >= self.required[pairs[:, 1]]
        for (doc, item), count in zip(pairs[enough], shared[enough]):
            best = result[doc]
            if best is None or (best.how == "ngrams" and count > best.shared):
                result[doc] = Match(self.benchmarks[self.item_benchmark[item]], self.item_labels[item], int(count), "ngrams")
        return result
