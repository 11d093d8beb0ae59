"""A stage's per-source counts and length histograms (curation.stats.StageStats) for a whole shard
at once, with Arrow and numpy: what `seen` / `kept` / `dropped` row by row would give, without a
Python loop over the documents (the dedup apply pass handles shards as tables)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.stats import MEASURES, StageStats

_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True  # what str.split() splits on, in ASCII
_OTHER_SPACE = "[\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def word_counts(texts: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """len(text.split()) for every text, computed on the UTF-8 bytes (Python only for the rare
    text with a non-ASCII space)."""
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    arr = pc.fill_null(arr, "")
    n = len(arr)
    _, offsets, data = arr.buffers()
    offs = np.frombuffer(offsets, np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    if n == 0 or data is None or offs[-1] == offs[0]:
        return np.zeros(n, np.int64)
    raw = np.frombuffer(data, np.uint8)[offs[0] : offs[-1]]
    space = _ASCII_SPACE[raw]
    rel = offs - offs[0]
    starts_doc = np.zeros(raw.size, bool)
    starts_doc[rel[:-1][rel[:-1] < raw.size]] = True
    word_start = ~space & (starts_doc | np.concatenate(([True], space[:-1])))
    counts = np.bincount(np.searchsorted(rel, np.flatnonzero(word_start), side="right") - 1, minlength=n)[:n]
    odd = np.flatnonzero(pc.match_substring_regex(arr, _OTHER_SPACE).to_numpy(zero_copy_only=False))
    if odd.size:
        texts_odd = arr.take(pa.array(odd)).to_pylist()
        counts[odd] = [len(t.split()) for t in texts_odd]
    return counts


_BIN_EDGES = np.array([0] + [1 << k for k in range(62)], dtype=np.int64)


def length_bins(lengths: np.ndarray) -> np.ndarray:
    """curation.stats.length_bin for an array: 0, else the largest power of two <= n."""
    return _BIN_EDGES[np.searchsorted(_BIN_EDGES, lengths, side="right") - 1]


def _count_bins(counter, bins: np.ndarray) -> None:
    values, counts = np.unique(bins, return_counts=True)
    for v, c in zip(values.tolist(), counts.tolist()):
        counter[v] += c


def table_stats(table: pa.Table, keep: np.ndarray, reasons: pa.Array) -> StageStats:
    """StageStats of one shard in bulk: what `seen` / `kept` / `dropped` per row would give."""
    stats = StageStats()
    sources = table["source"].to_numpy(zero_copy_only=False)
    lengths = {"chars": pc.utf8_length(table["text"]).to_numpy(zero_copy_only=False).astype(np.int64), "words": word_counts(table["text"])}
    for measure in MEASURES:
        bins = length_bins(lengths[measure])
        _count_bins(stats.hist[measure]["in"], bins)
        _count_bins(stats.hist[measure]["out"], bins[keep])
    for source, count in zip(*np.unique(sources, return_counts=True)):
        stats.sources[source]["in"] += int(count)
    for source, count in zip(*np.unique(sources[keep], return_counts=True)):
        stats.sources[source]["out"] += int(count)
    if len(reasons):
        codes = pc.list_element(pc.split_pattern(reasons, ":", max_splits=1), 0).to_numpy(zero_copy_only=False)
        dropped = sources[~keep]
        for (source, code), count in zip(*np.unique(np.stack((dropped, codes), axis=1).astype(str), axis=0, return_counts=True)):
            stats.sources[str(source)]["dropped"][str(code)] += int(count)
    return stats
