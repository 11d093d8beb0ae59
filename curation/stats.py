"""Per-source counts and length histograms of a stage, mergeable across tasks.

For each source: documents in, out, and drops by reason code (the full code up to the first
colon: `lang_not_en`, `near_duplicate_of`); for the stage: histograms of document length in
characters and in words (whitespace tokens, a tokenizer-free proxy for tokens), before and after
the stage, in power-of-two bins (bin b holds lengths in [b, 2b); bin 0 holds empty documents).
"""
from __future__ import annotations

from collections import Counter, defaultdict

MEASURES = ("chars", "words")
LARGE_TEXT_CHARS = 1 << 20


def word_count(text: str) -> int:
    """len(text.split()), without a list of every word for a huge text (a 300 MB dump)."""
    if len(text) <= LARGE_TEXT_CHARS:
        return len(text.split())
    import pyarrow as pa

    from curation.dedup.bulk_stats import word_counts  # imports this module: imported late

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
