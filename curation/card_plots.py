"""The card's figures (PNG): tokens per source, document lengths, the curation funnel.

Drawn with matplotlib's Agg backend (no display). Counts span orders of magnitude (replay is
about 1% of the tokens, guidelines far less than papers), so the count axes are logarithmic and
every bar carries its exact value: a reader never has to guess a small bar's size.
"""
from __future__ import annotations

import io

from curation import storage
from curation.card_stats import CardStats

COLORS = {"train": "#3b6ea8", "validation": "#e39a3b"}
DPI = 120


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _save(fig, path: str) -> str:
    buffer = io.BytesIO()
    # Fixed metadata so that the same numbers give the same bytes.
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    storage.write_bytes(path, buffer.getvalue())
    return path


def tokens_per_source(stats: CardStats, path: str) -> str:
    plt = _plt()
    sources = sorted(stats.table, key=lambda s: sum(c.tokens for c in stats.table[s].values()))
    height = 0.8 / max(1, len(stats.splits))
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.55 * len(sources) * len(stats.splits)))
    total = {split: stats.total(split, "tokens") or 1 for split in stats.splits}
    for i, split in enumerate(stats.splits):
        values = [stats.table[s].get(split).tokens if split in stats.table[s] else 0 for s in sources]
        ys = [y + i * height for y in range(len(sources))]
        bars = ax.barh(ys, [max(v, 0.5) for v in values], height=height, color=COLORS[split], label=split)
        for bar, value in zip(bars, values):
            if not value:
                continue
            ax.text(bar.get_width() * 1.08, bar.get_y() + bar.get_height() / 2,
                    f"{value:,} ({value / total[split]:.1%})", va="center", fontsize=8)
    ax.set_yticks([y + height * (len(stats.splits) - 1) / 2 for y in range(len(sources))], sources)
    ax.set_xscale("log")
    right = max((c.tokens for per in stats.table.values() for c in per.values()), default=1)
    ax.set_xlim(left=0.8, right=right * 30)
    ax.set_xlabel("tokens (log scale); in brackets: share of the split's tokens")
    ax.set_title("Tokens per source and split")
    ax.legend(loc="lower right", frameon=False)
    return _save(fig, path)


def length_histogram(stats: CardStats, path: str) -> str:
    import numpy as np

    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    every = [n for values in stats.row_tokens.values() for n in values]
    top = max(every, default=1)
    bins = np.logspace(0, np.log10(max(top, 10)) + 0.05, 40)
    for subset in sorted(stats.row_tokens):
        values = stats.row_tokens[subset]
        ax.hist(values, bins=bins, histtype="step", linewidth=1.8,
                label=f"{subset}: {len(values):,} rows, median {int(np.median(values)):,} tokens")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tokens per document (log scale)")
    ax.set_ylabel("documents (log scale)")
    ax.set_title("Document length by subset (train and validation)")
    ax.legend(frameon=False, fontsize=9)
    return _save(fig, path)


def _funnel_rows(stages) -> tuple[list[tuple[str, int, int]], list[tuple[str, int]]]:
    """Stages and (stage, reason) drops summed by name: several sites' parse stages share a
    name, and one bar each keeps the labels on their bars."""
    totals: dict[str, list[int]] = {}
    drops: dict[str, int] = {}
    for f in stages:
        counts = totals.setdefault(f.stage, [0, 0])
        counts[0] += f.documents_in
        counts[1] += f.documents_out
        for reason, n in f.reasons.items():
            drops[f"{f.stage}: {reason}"] = drops.get(f"{f.stage}: {reason}", 0) + n
    return [(name, n_in, n_out) for name, (n_in, n_out) in totals.items()], sorted(drops.items(), key=lambda t: (t[1], t[0]))


def funnel(stats: CardStats, path: str) -> str:
    plt = _plt()
    stages, reasons = _funnel_rows(stats.funnel)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 1.6 + 0.45 * max(len(stages), len(reasons), 2)),
                                      gridspec_kw={"width_ratios": [1, 1.3]})
    stages = stages[::-1]  # the first stage on top
    ys = list(range(len(stages)))
    ins = [n_in for _, n_in, _ in stages]
    outs = [n_out for _, _, n_out in stages]
    left.barh(ys, [max(n, 0.5) for n in ins], color="#d0d7e2", label="documents in")
    left.barh(ys, [max(n, 0.5) for n in outs], color="#3b6ea8", height=0.5, label="documents out")
    left.set_yticks(ys, [name for name, _, _ in stages])
    for y, n_in, n_out in zip(ys, ins, outs):
        left.text(max(n_in, 1) * 1.15, y, f"{n_out:,} of {n_in:,}", va="center", fontsize=8)
    left.set_xscale("log")
    left.set_xlim(0.8, max(ins + [1]) * 40)
    left.set_title("Documents in and out of each stage")
    left.set_xlabel("documents (log scale; the mix counts repeated copies)")
    left.legend(frameon=False, fontsize=8, loc="upper right")
    if reasons:
        ys = list(range(len(reasons)))
        counts = [n for _, n in reasons]
        right.barh(ys, counts, color="#b5503c")
        right.set_yticks(ys, [label for label, _ in reasons])
        for y, n in zip(ys, counts):
            right.text(n * 1.1, y, f"{n:,}", va="center", fontsize=8)
        right.set_xscale("log")
        right.set_xlim(0.8, max(counts) * 12)
        right.set_xlabel("documents dropped (log scale)")
    else:
        right.text(0.5, 0.5, "no document was dropped", ha="center", va="center", transform=right.transAxes)
        right.set_axis_off()
    right.set_title("Drops by stage and reason (from the ledgers)")
    fig.tight_layout()
    return _save(fig, path)


def draw_all(stats: CardStats, folder: str) -> dict[str, str]:
    return {
        "tokens_per_source": tokens_per_source(stats, storage.join(folder, "tokens_per_source.png")),
        "length_histogram": length_histogram(stats, storage.join(folder, "document_length.png")),
        "funnel": funnel(stats, storage.join(folder, "filter_funnel.png")),
    }
