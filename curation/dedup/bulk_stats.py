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
# The first bytes of the UTF-8 encodings of the other characters str.split() splits on:
# U+0085, U+00A0 (C2 xx), U+1680 (E1 9A 80), U+2000-200A, U+2028, U+2029, U+202F (E2 80 xx),
# U+205F (E2 81 9F), U+3000 (E3 80 80).
_SPACE_LEAD = np.zeros(256, dtype=bool)
_SPACE_LEAD[[0xC2, 0xE1, 0xE2, 0xE3]] = True
_E2_80_SPACE = np.zeros(256, dtype=bool)
_E2_80_SPACE[[*range(0x80, 0x8B), 0xA8, 0xA9, 0xAF]] = True
WINDOW_BYTES = 1 << 24  # text bytes counted at once: bounds the temporary arrays whatever a text's size


def space_mask(raw: np.ndarray) -> np.ndarray:
    """Per byte of UTF-8 text: whether it belongs to a character that str.split() splits on."""
    space = _ASCII_SPACE[raw]
    lead = np.flatnonzero(_SPACE_LEAD[raw])
    if lead.size == 0:
        return space
    padded = np.concatenate((raw, np.zeros(2, np.uint8)))
    b0, b1, b2 = padded[lead], padded[lead + 1], padded[lead + 2]
    two = (b0 == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0))
    three = (
        ((b0 == 0xE1) & (b1 == 0x9A) & (b2 == 0x80))
        | ((b0 == 0xE2) & (b1 == 0x80) & _E2_80_SPACE[b2])
        | ((b0 == 0xE2) & (b1 == 0x81) & (b2 == 0x9F))
        | ((b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80))
    )
    for width, found in ((2, two), (3, three)):
        at = lead[found]
        for k in range(width):
            space[at[at + k < raw.size] + k] = True
    return space


def _word_counts(arr: pa.Array) -> np.ndarray:
    n = len(arr)
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    _, offsets, data = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32  # the offsets' type
    offs = np.frombuffer(offsets, width)[arr.offset : arr.offset + n + 1].astype(np.int64)
    counts = np.zeros(n, np.int64)
    if n == 0 or data is None or offs[-1] == offs[0]:
        return counts
    raw = np.frombuffer(data, np.uint8)[offs[0] : offs[-1]]
    rel = offs - offs[0]
    firsts = rel[:-1][rel[:-1] < raw.size]  # where each non-empty text starts
    for lo in range(0, raw.size, WINDOW_BYTES):
        hi = min(lo + WINDOW_BYTES, raw.size)
        # Bytes either side: a multi-byte space that crosses the window's edge is seen whole, and so
        # is the character before the window (up to 3 bytes), which says if a word starts at lo.
        a = max(lo - 3, 0)
        around = space_mask(raw[a : hi + 2])
        space = around[lo - a : hi - a]
        before = around[lo - a - 1 : hi - a - 1] if lo else np.concatenate(([True], space[:-1]))
        starts_text = np.zeros(hi - lo, bool)
        starts_text[firsts[np.searchsorted(firsts, lo) : np.searchsorted(firsts, hi)] - lo] = True
        word_start = np.flatnonzero(~space & (starts_text | before)) + lo
        counts += np.bincount(np.searchsorted(rel, word_start, side="right") - 1, minlength=n)[:n]
    return counts


def word_counts(texts: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """len(text.split()) for every text, computed on the UTF-8 bytes, WINDOW_BYTES at a time."""
    if isinstance(texts, pa.ChunkedArray):
        if texts.num_chunks == 0:
            return np.zeros(0, np.int64)
        return np.concatenate([_word_counts(chunk) for chunk in texts.chunks])
    return _word_counts(texts)


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
