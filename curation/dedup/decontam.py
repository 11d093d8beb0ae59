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

import hashlib
import io
import json
import logging
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from curation.dedup.ngrams import NgramBatch, hash_ngrams, words_of
from curation import storage
from curation.atomic import write_bytes_atomic

log = logging.getLogger("medcurate")

_GENERIC_STEMS = {"test", "dev", "val", "valid", "validation", "train", "data", "questions"}
PMID_KEYS = ("pmid", "pubid", "PMID")
# A membership table over the top 24 bits of the index's n-gram hashes (16 MB): with a few hundred
# thousand n-grams in the test sets, about 99% of a document's n-grams are ruled out by it.
_TOP_BITS = 24
_TOP_SHIFT = np.uint64(64 - _TOP_BITS)


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


@dataclass(frozen=True)
class BenchmarkFile:
    """A benchmark file as read once: its name and bytes. The index cache key is the hash of
    these bytes and the index is built from them, so a file replaced meanwhile (by rename) can
    never put one version's index under the other version's key."""

    name: str
    path: Path
    data: bytes


def read_benchmarks(specs: Sequence[str | BenchmarkFile]) -> list[BenchmarkFile]:
    """Each spec's file, read now (one read of each); files already read pass through."""
    files = []
    for spec in specs:
        if isinstance(spec, BenchmarkFile):
            files.append(spec)
            continue
        name, path = benchmark_name(spec)
        files.append(BenchmarkFile(name, path, path.read_bytes()))
    return files


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

    def __init__(self, specs: Sequence[str | BenchmarkFile], config: DecontamConfig = DecontamConfig()):
        self.config = config
        self.benchmarks: list[str] = []
        self.item_labels: list[str] = []
        self.item_benchmark: list[int] = []
        self.pmids: dict[str, tuple[str, str]] = {}
        texts: list[str] = []
        owners: list[int] = []
        for benchmark in read_benchmarks(specs):
            name = benchmark.name
            self.benchmarks.append(name)
            if benchmark.path.suffix == ".txt":
                for line in benchmark.data.decode("utf-8").split():
                    self.pmids.setdefault(line.strip(), (name, line.strip()))
                continue
            lines = io.TextIOWrapper(io.BytesIO(benchmark.data), encoding="utf-8")  # as open() reads a file: \r\n too
            for number, line in enumerate(lines):
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
        self._derive()

    def _derive(self) -> None:
        """What find() needs beyond the stored arrays (cheap to recompute after a load)."""
        self._top_bits = np.zeros(1 << _TOP_BITS, dtype=bool)
        self._top_bits[self.hashes >> _TOP_SHIFT] = True
        self.item_ngrams = np.bincount(self.items, minlength=len(self.item_labels))
        self.required = np.minimum(self.item_ngrams, self.config.min_matches)

    @property
    def size(self) -> int:
        return int(self.hashes.size)

    _ARRAYS = ("hashes", "items", "item_benchmark")
    _LISTS = ("benchmarks", "item_labels")

    def save(self, path: Path) -> None:
        """The built index as one .npz (arrays, and the names as JSON bytes), written atomically."""
        names = {key: getattr(self, key) for key in self._LISTS}
        names["pmids"] = self.pmids
        buffer = io.BytesIO()
        np.savez(
            buffer,
            names=np.frombuffer(json.dumps(names).encode(), dtype=np.uint8),
            **{key: np.asarray(getattr(self, key), dtype=np.int64 if key != "hashes" else np.uint64) for key in self._ARRAYS},
        )
        write_bytes_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path, config: DecontamConfig) -> "BenchmarkIndex":
        index = cls.__new__(cls)
        index.config = config
        with np.load(io.BytesIO(storage.read_bytes(path)), allow_pickle=False) as data:
            names = json.loads(data["names"].tobytes())
            index.hashes, index.items = data["hashes"], data["items"]
            index.item_benchmark = data["item_benchmark"].tolist()
        index.benchmarks, index.item_labels = names["benchmarks"], names["item_labels"]
        index.pmids = {pmid: tuple(owner) for pmid, owner in names["pmids"].items()}
        index._derive()
        return index

    def find(self, texts: list[str], pmids: list[str | None]) -> list[Match | None]:
        """For each document, its strongest contamination (most shared n-grams), or None."""
        return self.find_ngrams(hash_ngrams(texts, self.config.n_grams), pmids)

    def find_ngrams(self, grams: NgramBatch, pmids: list[str | None]) -> list[Match | None]:
        """`find` for documents whose `config.n_grams`-grams are hashed in `grams`."""
        result: list[Match | None] = [None] * len(pmids)
        for i, pmid in enumerate(pmids):
            if pmid and pmid in self.pmids:
                name, label = self.pmids[pmid]
                result[i] = Match(name, label, 0, "pmid")
        if self.hashes.size == 0 or grams.hashes.size == 0:
            return result
        # Almost no n-gram of a document is in the index: the top-bits table rules most out at
        # one memory read each, a binary search settles the rest, and the (document, n-gram)
        # pairs are made distinct among the few hits only, instead of sorting every n-gram.
        candidates = np.flatnonzero(self._top_bits[grams.hashes >> _TOP_SHIFT])
        at = np.searchsorted(self.hashes, grams.hashes[candidates]).clip(max=self.hashes.size - 1)
        hit = candidates[self.hashes[at] == grams.hashes[candidates]]
        if hit.size == 0:
            return result
        doc_hash = np.unique(np.stack((grams.doc[hit].astype(np.uint64), grams.hashes[hit]), axis=1), axis=0)
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


# Bumped whenever the stored layout or the n-gram hashing changes, so old cache files are not used.
_INDEX_FORMAT = 1


def index_key(specs: Sequence[str | BenchmarkFile], config: DecontamConfig) -> str:
    """What an index is built from: the benchmarks' names and file contents, and the config."""
    digest = hashlib.sha256(json.dumps([_INDEX_FORMAT, asdict(config)]).encode())
    for benchmark in read_benchmarks(specs):
        digest.update(f"\0{benchmark.name}\0".encode())
        digest.update(benchmark.data)
    return digest.hexdigest()[:32]


def cache_index(specs: Sequence[str | BenchmarkFile], config: DecontamConfig, cache_dir: Path) -> Path | None:
    """The cache file of this index, built and stored first when no earlier run did (the stage
    calls this once before its tasks, so that its workers only load). None: not cacheable here.
    Each file is read once: the key and the index come from the same bytes."""
    files = read_benchmarks(specs)
    path = Path(cache_dir) / f"benchmark-index-{index_key(files, config)}.npz"
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            BenchmarkIndex(files, config).save(path)
        except OSError as exc:
            log.warning("decontamination: benchmark index not cached in %s (%s)", cache_dir, exc)
            return None
    return path


def stage_index(specs: list[str], config: DecontamConfig, cache_dir: Path, target: str) -> None:
    """Put the index at `target` (in the stage's work folder, which every worker reaches), read
    through load_or_build so a damaged cache file is rebuilt here, not loaded by every worker.
    Only the machine that plans reads the benchmark files."""
    load_or_build(specs, config, cache_dir).save(target)


def load_or_build(specs: list[str], config: DecontamConfig, cache_dir: Path | None) -> BenchmarkIndex:
    """The index of these benchmarks: loaded from `cache_dir` when a run built the same one (same
    file contents and config), else built (and stored there). An unusable cache only costs a rebuild."""
    files = read_benchmarks(specs)
    path = cache_index(files, config, cache_dir) if cache_dir is not None else None
    if path is not None:
        try:
            return BenchmarkIndex.load(path, config)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("decontamination: rebuilding the benchmark index (cached %s unreadable: %s)", path.name, exc)
    return BenchmarkIndex(files, config)
