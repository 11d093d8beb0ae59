"""Every number of the dataset card, counted from the shards and ledgers (never from config).

- the mix: rows, unique documents, tokens and characters per source and split, licences per
  source, tokens of every row (for the length histogram); tokens come from the mix's per-document
  token counts (DIR/token_counts), joined on id;
- the funnel: for each stage folder, in pipeline order, documents out (rows of its shards),
  ledgered by reason (its ledger), unreadable records and inputs (its error ledger), the same per
  source (keep rates and top drop reasons), and the guideline site a `guidelines.parse` read;
- dedup and decontamination: ledger reasons that name a duplicate or a benchmark.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Mapping

import pyarrow.compute as pc

from curation import storage
from curation.task_output import complete_shards

SPLITS = ("train", "validation")


@dataclass
class SourceSplit:
    documents: int = 0  # rows (an upsampled document counts once per copy)
    unique_documents: int = 0
    tokens: int = 0
    characters: int = 0


@dataclass
class StageFunnel:
    stage: str
    folder: str
    documents_out: int = 0
    reasons: Counter = field(default_factory=Counter)
    record_errors: int = 0
    input_errors: int = 0
    site: str | None = None  # the guideline site of a guidelines.parse folder
    out_by_source: Counter = field(default_factory=Counter)
    reasons_by_source: dict[str, Counter] = field(default_factory=dict)

    @property
    def ledgered(self) -> int:
        return sum(self.reasons.values())

    @property
    def documents_in(self) -> int:
        return self.documents_out + self.ledgered + self.record_errors


@dataclass
class CardStats:
    splits: list[str]
    subset_of: dict[str, str]
    table: dict[str, dict[str, SourceSplit]]  # source -> split -> numbers
    licenses: dict[str, Counter]  # source -> licence -> rows
    row_tokens: dict[str, list[int]]  # subset -> tokens of every row (all splits)
    funnel: list[StageFunnel]
    tokenized: list[str]  # splits that also have pre-tokenized shards

    def total(self, split: str, what: str) -> int:
        return sum(getattr(per[split], what) for per in self.table.values() if split in per)

    def dedup(self) -> dict[str, Counter]:
        """Per stage, drops that name a duplicate (exact, near, identifier)."""
        return {f.stage: Counter({r: n for r, n in f.reasons.items() if "duplicate" in r}) for f in self.funnel if any("duplicate" in r for r in f.reasons)}

    def contamination(self) -> Counter:
        found: Counter = Counter()
        for f in self.funnel:
            found.update({r: n for r, n in f.reasons.items() if "contamination" in r})
        return found


def token_counts(mix_dir: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for shard in complete_shards(mix_dir, "token_counts"):
        table = storage.read_parquet(shard, columns=["id", "tokens"])
        counts.update(zip(table["id"].to_pylist(), table["tokens"].to_pylist()))
    return counts


def mix_stats(mix_dir: str) -> CardStats:
    tokens_of = token_counts(mix_dir)
    splits = [s for s in SPLITS if complete_shards(mix_dir, s)]
    table: dict = defaultdict(lambda: defaultdict(SourceSplit))
    licenses: dict = defaultdict(Counter)
    row_tokens: dict = defaultdict(list)
    subset_of: dict[str, str] = {}
    for split in splits:
        seen: set[str] = set()
        for shard in complete_shards(mix_dir, split):
            data = storage.read_parquet(shard, columns=["id", "source", "subset", "license", "text"])
            lengths = pc.utf8_length(data["text"]).to_pylist()
            for doc_id, source, subset, license_name, length in zip(
                data["id"].to_pylist(), data["source"].to_pylist(), data["subset"].to_pylist(), data["license"].to_pylist(), lengths
            ):
                if doc_id not in tokens_of:
                    raise ValueError(f"{shard}: {doc_id} has no token count in {storage.join(mix_dir, 'token_counts')}")
                cell = table[source][split]
                cell.documents += 1
                cell.unique_documents += doc_id not in seen
                seen.add(doc_id)
                cell.tokens += tokens_of[doc_id]
                cell.characters += length
                licenses[source][license_name or "unspecified"] += 1
                row_tokens[subset].append(tokens_of[doc_id])
                subset_of[source] = subset
    tokenized = [s for s in SPLITS if complete_shards(mix_dir, f"tokenized_{s}")]
    return CardStats(splits, subset_of, {s: dict(v) for s, v in table.items()}, dict(licenses), dict(row_tokens), [], tokenized)


def _reason_code(reason: str) -> str:
    """The code before ':' is the reason; what follows names the other document (or language);
    a benchmark's name is kept."""
    code = reason.split(":", 1)[0]
    return reason if code == "benchmark_contamination" else code


@dataclass(frozen=True)
class SourceKeepRate:
    source: str
    documents_in: int
    documents_out: int
    top_reasons: list[tuple[str, int]]

    @property
    def kept(self) -> float:
        return self.documents_out / self.documents_in if self.documents_in else 0.0


def source_keep_rates(out_by_source: Mapping[str, int], reasons_by_source: Mapping[str, Mapping[str, int]], top: int = 3) -> list[SourceKeepRate]:
    """Per source, in pipeline terms: in = out + ledgered, the share kept and the top drop reasons."""
    rows = []
    for source in sorted(set(out_by_source) | set(reasons_by_source)):
        reasons = reasons_by_source.get(source) or {}
        out = out_by_source.get(source, 0)
        ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        rows.append(SourceKeepRate(source, out + sum(reasons.values()), out, ranked))
    return rows


def stage_funnel(folder: str) -> StageFunnel:
    """What one stage folder holds: documents out, ledger reasons, error-ledger rows, per source."""
    stats_file = storage.join(folder, "stats.json")
    stats = storage.read_json(stats_file) if storage.isfile(stats_file) else {}
    funnel = StageFunnel(stats.get("stage", storage.name(folder)), str(folder), site=stats.get("site"))
    outputs = complete_shards(folder) or [s for split in SPLITS for s in complete_shards(folder, split)]
    for shard in outputs:
        funnel.out_by_source.update(storage.read_parquet(shard, columns=["source"])["source"].to_pylist())
    funnel.documents_out = sum(funnel.out_by_source.values())
    for shard in complete_shards(folder, "ledger"):
        ledger = storage.read_parquet(shard, columns=["source", "reason"])
        for source, reason in zip(ledger["source"].to_pylist(), ledger["reason"].to_pylist()):
            code = _reason_code(reason)
            funnel.reasons[code] += 1
            funnel.reasons_by_source.setdefault(source or "(no source)", Counter())[code] += 1
    for shard in complete_shards(folder, "errors"):
        records = storage.read_parquet(shard, columns=["record"])["record"].to_pylist()
        funnel.record_errors += sum(r is not None for r in records)
        funnel.input_errors += sum(r is None for r in records)
    return funnel


def collect(mix_dir: str, upstream: list[str]) -> CardStats:
    stats = mix_stats(mix_dir)
    stats.funnel = [stage_funnel(storage.norm(folder)) for folder in [*upstream, mix_dir]]
    return stats
