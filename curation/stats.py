"""Per-source counts and length histograms of a stage, mergeable across tasks.

For each source: documents in, out, and drops by reason code (the full code up to the first
colon: `lang_not_en`, `near_duplicate_of`); for the stage: histograms of document length in
characters and in words (whitespace tokens, a tokenizer-free proxy for tokens), before and after
the stage, in power-of-two bins (bin b holds lengths in [b, 2b); bin 0 holds empty documents).

Counted row by row (`StageStats.seen` / `kept` / `dropped`), or for a whole shard at once with
Arrow and numpy (`table_stats`: the same numbers without a Python loop over the documents, for the
dedup apply pass, which handles shards as tables). `word_counts` counts words on the UTF-8 bytes.
"""
from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MEASURES = ("chars", "words")
LARGE_TEXT_CHARS = 1 << 20


def word_count(text: str) -> int:
    """len(text.split()), without a list of every word for a huge text (a 300 MB dump)."""
    if len(text) <= LARGE_TEXT_CHARS:
        return len(text.split())
    return int(word_counts(pa.array([text], pa.string()))[0])


def length_bin(n: int) -> int:
    return 0 if n <= 0 else 1 << (n.bit_length() - 1)


class StageStats:
    def __init__(self) -> None:
        self.sources: dict[str, dict] = defaultdict(lambda: {"in": 0, "out": 0, "dropped": Counter()})
        self.hist = {m: {"in": Counter(), "out": Counter()} for m in MEASURES}

    def _lengths(self, side: str, text: str) -> None:
        self.hist["chars"][side][length_bin(len(text))] += 1
        self.hist["words"][side][length_bin(word_count(text))] += 1

    def seen(self, source: str, text: str) -> None:
        self.sources[source]["in"] += 1
        self._lengths("in", text)

    def kept(self, source: str, text: str) -> None:
        self.sources[source]["out"] += 1
        self._lengths("out", text)

    def dropped(self, source: str, reason: str) -> None:
        self.sources[source]["dropped"][reason.split(":", 1)[0]] += 1

    def to_dict(self) -> dict:
        return {
            "by_source": {
                s: {"in": v["in"], "out": v["out"], "dropped": dict(sorted(v["dropped"].items()))}
                for s, v in sorted(self.sources.items())
            },
            "histograms": {
                m: {side: {str(k): c for k, c in sorted(h.items())} for side, h in sides.items()}
                for m, sides in self.hist.items()
            },
        }

    def merge(self, data: dict) -> "StageStats":
        for source, v in data.get("by_source", {}).items():
            mine = self.sources[source]
            mine["in"] += v["in"]
            mine["out"] += v["out"]
            mine["dropped"].update(v["dropped"])
        for m, sides in data.get("histograms", {}).items():
            for side, h in sides.items():
                self.hist[m][side].update({int(k): c for k, c in h.items()})
        return self

    def plot_rows(self, measure: str) -> list[dict]:
        """Rows for a DVC plot: one per bin, documents before and after the stage."""
        h = self.hist[measure]
        bins = sorted(set(h["in"]) | set(h["out"]))
        return [{measure: b, "documents_in": h["in"][b], "documents_out": h["out"][b]} for b in bins]

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
