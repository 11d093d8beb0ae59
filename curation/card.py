"""The dataset card: README.md of the mix folder (a Hugging Face dataset repository), built with
huggingface_hub's DatasetCard/DatasetCardData from `CardStats`, i.e. from the shards and ledgers.

Config only supplies names and prose (the pretty name, the params printed under "Reproduce",
the budget each bucket aimed at, labelled as a target); every count is measured.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from curation.card_stats import CardStats, source_keep_rates
from curation.schema import DOCUMENT_SCHEMA


@dataclass(frozen=True)
class CardParams:
    """params.yaml `card:`."""

    name: str = "medcurate corpus"  # the dataset's pretty name

SIZE_BOUNDS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
               (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
FIELD_MEANINGS = {
    "id": "stable id from the source's own identity (`pubmed:<PMID>`, `pmc:<PMCID>`, `replay/<name>:<native id or content hash>`)",
    "source": "`pubmed`, `pmc`, `guidelines/<site>` or `replay/<name>`",
    "subset": "`abstracts`, `papers`, `guidelines` or `replay`",
    "title": "title of the record",
    "text": "the training text, title first",
    "url": "canonical URL of the record (empty when the source has none)",
    "pmid": "PubMed id", "pmcid": "PubMed Central id, `PMC` prefix kept", "doi": "DOI, lower-cased",
    "license": "licence of this record (normalised)",
    "date": "publication date, ISO (year only allowed)",
    "lang": "detected language", "lang_score": "language-detector confidence",
    "meta": "JSON of source-specific extras", "provenance": "JSON: raw file or URL, archive member, sha256",
}

TEMPLATE = """---
{{ card_data }}
---

# {{ pretty_name }}

## Dataset description

{{ description }}

![Tokens per source](plots/tokens_per_source.png)

## Sources

{{ sources_section }}

## Curation steps

{{ curation_section }}

![Curation funnel](plots/filter_funnel.png)

## Deduplication and decontamination

{{ dedup_section }}

## Replay mix

{{ replay_section }}

## Data fields

{{ fields_section }}

![Document length](plots/document_length.png)

## Licensing

{{ licensing_section }}

## Personal and sensitive information

{{ pii_section }}

## Bias, risks and limitations

{{ bias_section }}

## How to reproduce

{{ reproduce_section }}
"""


def size_category(n: int) -> str:
    return next((label for bound, label in SIZE_BOUNDS if n < bound), "n>1B")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    fmt = lambda v: f"{v:,}" if isinstance(v, int) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def sources_table(stats: CardStats) -> str:
    """Documents and tokens per source and split (MEDITRON's Table 1), with each source's licences."""
    header = ["source", "subset"]
    for split in stats.splits:
        header += [f"{split} documents", f"{split} tokens"]
    header += ["licences (documents)"]
    rows = []
    for source in sorted(stats.table):
        row: list[Any] = [source, stats.subset_of[source]]
        for split in stats.splits:
            cell = stats.table[source].get(split)
            row += [cell.documents if cell else 0, cell.tokens if cell else 0]
        row.append(", ".join(f"{name} ({n:,})" for name, n in sorted(stats.licenses[source].items())))
        rows.append(row)
    total: list[Any] = ["**total**", ""]
    for split in stats.splits:
        total += [stats.total(split, "documents"), stats.total(split, "tokens")]
    rows.append(total + [""])
    return _table(header, rows)


def funnel_table(stats: CardStats) -> str:
    rows = []
    for f in stats.funnel:
        reasons = ", ".join(f"`{r}` {n:,}" for r, n in sorted(f.reasons.items(), key=lambda kv: -kv[1])) or "-"
        stage = f"`{f.stage}` ({f.site})" if f.site else f"`{f.stage}`"
        rows.append([stage, f.documents_in, f.documents_out, f.ledgered, f.record_errors, f.input_errors, reasons])
    return _table(["stage", "documents in", "documents out", "ledgered", "unreadable records", "unreadable inputs", "drops by reason"], rows)


def keep_rate_table(stats: CardStats, stage: str = "filter") -> str:
    """The filter's keep rate and top drop reasons per source (the web rules act differently on each)."""
    funnels = [f for f in stats.funnel if f.stage == stage]
    if not funnels:
        return ""
    rows = []
    for f in funnels:
        for r in source_keep_rates(f.out_by_source, f.reasons_by_source):
            reasons = ", ".join(f"`{code}` {n:,}" for code, n in r.top_reasons) or "-"
            rows.append([r.source, r.documents_in, r.documents_out, f"{r.kept:.1%}", reasons])
    return (f"Kept by the `{stage}` stage, per source (rules and thresholds per source: params `filter.sources`, "
            "reasons in docs/curation.md):\n\n" + _table(["source", "documents in", "kept", "keep rate", "top drop reasons"], rows))


def dedup_text(stats: CardStats) -> str:
    parts = []
    dedup = stats.dedup()
    if dedup:
        rows = [[f"`{stage}`", f"`{reason}`", n] for stage, reasons in dedup.items() for reason, n in sorted(reasons.items())]
        parts.append("Duplicates removed (each ledger row names the copy that was kept):\n\n" + _table(["stage", "reason", "documents"], rows))
    else:
        parts.append("No duplicate was found in the ledgers of the stages listed in the funnel.")
    contamination = stats.contamination()
    if contamination:
        rows = [[f"`{reason.split(':', 1)[-1]}`", n] for reason, n in sorted(contamination.items())]
        parts.append("Documents removed because they contain benchmark test items:\n\n" + _table(["benchmark", "documents"], rows))
    else:
        parts.append("Benchmark decontamination removed no document (none of the stages listed ledgered `benchmark_contamination`).")
    return "\n\n".join(parts)


def replay_text(stats: CardStats, manifest: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> str:
    """Replay per source: achieved share of train tokens beside its target, and where the target comes from."""
    replay = [s for s in sorted(stats.table) if stats.subset_of[s] == "replay"]
    train_total = stats.total("train", "tokens") if "train" in stats.splits else 0
    if not replay:
        return "This build holds no replay (general-domain) documents."
    buckets = manifest.get("buckets", {})
    share = lambda n: f"{n / train_total:.3%}" if train_total else "-"  # noqa: E731
    rows, targets = [], {}  # bucket name -> target tokens (sources without their own share "replay")
    for source in replay:
        cell = stats.table[source].get("train")
        tokens = cell.tokens if cell else 0
        own = source in buckets
        bucket = buckets.get(source if own else "replay", {})
        target = bucket.get("target_tokens")
        if target is not None:
            targets[source if own else "replay"] = target
        rows.append([source, cell.documents if cell else 0, tokens, share(tokens),
                     share(target) if target is not None else "-", f"{target:,.0f}" if target is not None else "-",
                     _budget_text(bucket.get("budget")) + ("" if own else " (`mix.budgets.replay`)")])
    replay_tokens = sum(r[2] for r in rows)
    default = ((params or {}).get("mix") or {}).get("budgets", {}).get("replay")
    origin = (
        "Each replay source's own budget (params `replay.sources.<name>.share` or `tokens`) replaces the "
        f"subset default `mix.budgets.replay` ({_budget_text(default)}), which covers only sources without one."
        if default is not None else "Budgets come from params `replay.sources.<name>` and `mix.budgets`."
    )
    intro = (
        f"General-domain text mixed in so that continued pretraining keeps general language (MEDITRON's experience "
        f"replay). Replay holds {replay_tokens:,} of the {train_total:,} train tokens ({share(replay_tokens)}), "
        f"against a target of {share(sum(targets.values())) if targets else '-'}. {origin} Documents are sampled whole, "
        "deterministically from the seed, so a share lands within a document of its target; replay has no validation "
        "split unless params give it one."
    )
    table = _table(["source", "train documents", "train tokens", "share of train tokens", "target share", "target tokens", "budget"], rows)
    return intro + "\n\n" + table


def _budget_text(budget: Any) -> str:
    if budget in (None, "natural"):
        return "natural"
    (kind, value), = budget.items()
    return f"{value:.2%} of train tokens" if kind == "share" else f"{kind} {value:,g}"


def _dtype(field) -> str:
    """The `datasets` dtype name of a schema field (the schema holds strings and one float64)."""
    return "float64" if str(field.type) == "double" else str(field.type)


def fields_text(stats: CardStats) -> str:
    rows = [[f"`{f.name}`", _dtype(f), FIELD_MEANINGS.get(f.name, "")] for f in DOCUMENT_SCHEMA]
    text = _table(["field", "type", "meaning"], rows)
    if stats.tokenized:
        text += ("\n\nThe `tokenized` config holds the same rows pre-tokenized: `id` and `tokens` (list of int32, no BOS/EOS), "
                 "made with `tokenizer/tokenizer.model` in this repository.")
    return text


def licensing_text(stats: CardStats) -> str:
    overall: Counter = Counter()
    for per_source in stats.licenses.values():
        overall.update(per_source)
    rows = [[name, n] for name, n in sorted(overall.items(), key=lambda kv: -kv[1])]
    return (
        "The collection is `license: other`: every record keeps its own licence in the `license` column, and using a "
        "record means following its terms. PubMed abstracts come under NLM's terms and may be protected by copyright; "
        "PMC Open Access articles carry per-article licences (some non-commercial); replay sources carry their "
        "upstream terms. Documents per licence in this build:\n\n" + _table(["licence", "documents"], rows)
    )


PII_TEXT = (
    "The sources are published literature, guidelines and public general-domain text, not patient records, and no "
    "PII filter has been run. Published case reports can describe individual patients, and author names, "
    "affiliations and e-mail addresses occur in the text (Usenet posts in the newsgroups replay in particular)."
)
BIAS_TEXT = (
    "The corpus is English only (other languages are filtered out) and reflects what is indexed in PubMed and "
    "open-access in PMC: research from high-income countries and well-funded fields is over-represented, and the "
    "literature's own biases (publication bias, under-studied populations) carry over. Older documents can state "
    "superseded medical knowledge. Models trained on it must not be used for clinical decisions without validation."
)


def render_card(
    name: str,
    stats: CardStats,
    manifest: Mapping[str, Any],
    params: Mapping[str, Any],
    data_prefix: str = "",
    description: str | None = None,
) -> str:
    """The README.md text. `data_prefix` is the path from the card's folder to the split folders."""
    from huggingface_hub import DatasetCard, DatasetCardData

    configs = [{"config_name": "default", "default": True,
                "data_files": [{"split": s, "path": f"{data_prefix}{s}/*.parquet"} for s in stats.splits]}]
    if stats.tokenized:
        configs.append({"config_name": "tokenized",
                        "data_files": [{"split": s, "path": f"{data_prefix}tokenized_{s}/*.parquet"} for s in stats.tokenized]})
    rows = sum(stats.total(s, "documents") for s in stats.splits)
    data = DatasetCardData(
        pretty_name=name,
        license="other",
        license_name="per-record",
        license_link="LICENSE",
        language=["en"],
        size_categories=[size_category(rows)],
        task_categories=["text-generation"],
        task_ids=["language-modeling"],
        source_datasets=["original"],
        configs=configs,
        dataset_info={
            "config_name": "default",
            "features": [{"name": f.name, "dtype": _dtype(f)} for f in DOCUMENT_SCHEMA],
            # num_examples is checked by `datasets` at load time: a stale card fails loudly.
            "splits": [{"name": s, "num_examples": stats.total(s, "documents"), "num_bytes": stats.total(s, "characters")} for s in stats.splits],
        },
    )
    totals = ", ".join(f"{stats.total(s, 'documents'):,} {s} documents ({stats.total(s, 'tokens'):,} tokens)" for s in stats.splits)
    summary = description or (
        "A medical continued-pretraining corpus built by medcurate, in the manner of MEDITRON's GAP-Replay: PubMed "
        "abstracts, PMC full-text papers and clinical guidelines, plus a small share of general-domain replay text."
    )
    reproduce = (
        "Run `dvc repro` in the medcurate repository; `dvc.lock` pins the inputs and code. The params of the stages "
        "that shaped this build:\n\n```yaml\n"
        + yaml.safe_dump({k: params[k] for k in ("seed", "replay", "filter", "tokenizer", "mix") if k in params}, sort_keys=True).rstrip()
        + "\n```"
    )
    card = DatasetCard.from_template(
        data,
        template_str=TEMPLATE,
        description=f"{summary}\n\nThis build holds {totals}. Token counts use `tokenizer/tokenizer.model`. "
        "Every number on this card was counted from the shards and ledgers of this build.",
        sources_section=sources_table(stats),
        curation_section=(
            "Each stage writes the documents that go on and a ledger of those that do not, with a reason; unreadable "
            "inputs and records go to an error ledger. For every stage, `documents in = out + ledgered + unreadable "
            "records`. The mix counts rows, so an upsampled document counts once per copy, and documents its budget "
            "left out are ledgered as `downsampled`.\n\n" + "\n\n".join(filter(None, [funnel_table(stats), keep_rate_table(stats)]))
        ),
        dedup_section=dedup_text(stats),
        replay_section=replay_text(stats, manifest, params),
        fields_section=fields_text(stats),
        licensing_section=licensing_text(stats),
        pii_section=PII_TEXT,
        bias_section=BIAS_TEXT,
        reproduce_section=reproduce,
    )
    return str(card)
