"""`medcurate mix`: documents of every source -> train/ and validation/ shards by token budget.

1. count (parallel, per input shard): tokens and bytes of every document, with the tokenizer;
2. plan (here, on narrow rows only): split, budgets, copies, shuffled order, shard boundaries
   (curation/mix.py);
3. write (parallel, resumable through the runner), two kinds of task:
   - one per output shard: its rows, read back from the inputs in the planned order (and the
     same rows pre-tokenized, when asked);
   - one per input shard: the ledger of its documents that the budget left out (`downsampled`)
     and the sidecar of token counts for all its documents (DIR/token_counts/).
Then DIR/manifest.json (documents and tokens per source and split, and every budget with what it
got) and DIR/tokenizer/tokenizer.model, the model the counts and any token shards refer to.

Accounting: every input document is written at least once or ledgered, so
documents_in = input rows + the extra copies of upsampled documents.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curation import storage
from curation.budget import Budget, bucket_of
from curation.mix import SPLITS, MixDoc, MixPlan, manifest, plan_mix
from curation.schema import DOCUMENT_SCHEMA
from curation.shards import declared_rows, one_line
from curation.task_output import TaskOutput
from curation.tokenizer import MODEL_FILE, Tokenizer, count_each
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import shard_rows, stage_shards, unchanged

STAGE = "mix"
MANIFEST = "manifest.json"
TOKEN_COUNTS = "token_counts"
TOKENIZER_DIR = "tokenizer"
TOKENIZED_PREFIX = "tokenized_"  # tokenized_train/, tokenized_validation/
# One task writes exactly one shard file: the plan already cut shards by size.
_ONE_FILE = 1 << 62

TOKEN_COUNT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("subset", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("tokens", pa.int64(), nullable=False),
        pa.field("copies", pa.int64(), nullable=False),  # rows of the mix holding it (0: left out)
    ]
)
TOKENIZED_SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("tokens", pa.list_(pa.int32()), nullable=False)])
_STRING_COLUMNS = [f.name for f in DOCUMENT_SCHEMA if pa.types.is_string(f.type)]


@dataclass(frozen=True)
class MixSettings:
    tokenizer: str = "data/tokenizer/" + MODEL_FILE
    budgets: dict = field(default_factory=lambda: {"replay": {"share": 0.01}})
    validation_share: dict = field(default_factory=lambda: {"abstracts": 0.03, "papers": 0.03, "guidelines": 0.05, "replay": 0.0})
    salt: str = "medcurate"
    seed: int = 0
    shard_bytes: int = 256 * 1024 * 1024
    pretokenized: bool = False

    def parsed_budgets(self) -> dict[str, Budget]:
        return {bucket: Budget.parse(spec) for bucket, spec in self.budgets.items()}


@dataclass(frozen=True)
class MixParams:
    """params.yaml `mix:`, from which the command builds the MixSettings the stage runs with."""

    tokenizer: str = MixSettings.tokenizer
    seed: int | None = None  # None: the top-level seed
    salt: str = MixSettings.salt
    # Train-token budget per subset (or per source): natural | {tokens: N} | {factor: f} | {share: s}
    budgets: dict[str, Any] = field(default_factory=lambda: MixSettings().budgets)
    validation_share: dict[str, float] = field(default_factory=lambda: MixSettings().validation_share)
    shard_mb: float = MixSettings.shard_bytes / 2**20  # uncompressed bytes per final shard
    pretokenized: bool = MixSettings.pretokenized  # also write tokenized_{train,validation}/


# --- 1. count -------------------------------------------------------------------------------------


def count_work(payload: tuple[int, str, list, str]) -> tuple[list[MixDoc], str | None]:
    """Narrow rows of one input shard; its text is tokenized here and never leaves the worker."""
    index, shard, identity, tokenizer_path = payload
    try:
        with unchanged([shard], [identity], STAGE):
            table = storage.read_parquet(shard, schema=DOCUMENT_SCHEMA)
        table.validate(full=True)  # a string that is not UTF-8 (the reader does not check) refuses the shard
    except (OSError, pa.ArrowException) as error:
        return [], one_line(error)
    tokens = count_each(Tokenizer(tokenizer_path), table["text"].to_pylist())
    sizes = [0] * table.num_rows
    for name in _STRING_COLUMNS:
        lengths = pc.fill_null(pc.binary_length(table[name]), 0).to_pylist()
        sizes = [a + b for a, b in zip(sizes, lengths)]
    columns = [table[c].to_pylist() for c in ("id", "source", "subset")]
    docs = [MixDoc((index, position), i, src, sub, n, size) for position, (i, src, sub, n, size) in enumerate(zip(*columns, tokens, sizes))]
    return docs, None


# --- 3. write -----------------------------------------------------------------------------------


def read_positions(path: str, positions: set[int]) -> dict[int, dict]:
    """The rows at `positions` of one shard, reading only the row groups that hold them."""
    parquet = storage.parquet_file(path)
    rows: dict[int, dict] = {}
    start = 0
    for group in range(parquet.num_row_groups):
        count = parquet.metadata.row_group(group).num_rows
        wanted = [p for p in positions if start <= p < start + count]
        if wanted:
            table = parquet.read_row_group(group).cast(DOCUMENT_SCHEMA)
            for p in wanted:
                rows[p] = table.slice(p - start, 1).to_pylist()[0]
        start += count
    return rows


def write_shard(payload: dict, output: TaskOutput) -> None:
    """One output shard: its rows in the planned order, repeats included."""
    keys = payload["rows"]
    needed: dict[int, set[int]] = defaultdict(set)
    for shard_index, position in keys:
        needed[shard_index].add(position)
    shards = [payload["inputs"][i] for i in needed]
    with unchanged(shards, [payload["identities"][i] for i in needed], STAGE):
        rows = {(i, p): row for i, positions in needed.items() for p, row in read_positions(payload["inputs"][i], positions).items()}
    docs = [rows[tuple(key)] for key in keys]
    for doc in docs:
        output.emit(doc, split=payload["split"])
    if payload["tokenizer"]:
        ids = Tokenizer(payload["tokenizer"]).encode([d["text"] for d in docs])
        table = pa.Table.from_pylist([{"id": d["id"], "tokens": t} for d, t in zip(docs, ids)], schema=TOKENIZED_SCHEMA)
        output.write_side_table(f"{TOKENIZED_PREFIX}{payload['split']}", table)


def account_input(payload: dict, output: TaskOutput) -> None:
    """One input shard: ledger what the budget left out, store every document's token count."""
    if payload["error"]:
        output.input_failed(payload["path"], payload["error"])
        output.counts.documents_unread += declared_rows(payload["path"])
        return
    left_out = payload["left_out"]
    if left_out:
        with unchanged([payload["path"]], [payload["identity"]], STAGE):
            rows = read_positions(payload["path"], set(left_out))
        for position, doc in rows.items():
            # The text stays in the input stage (same id): a replay pool can be a thousand times
            # the size of its budget, and the ledger should not become a second copy of it.
            output.drop(dict(doc, text=""), "downsampled", left_out[position])
    output.write_side_table(TOKEN_COUNTS, pa.Table.from_pylist(payload["counts"], schema=TOKEN_COUNT_SCHEMA))
    output.input_parsed()


def mix_work(payload: dict, output: TaskOutput) -> None:
    (write_shard if payload["kind"] == "shard" else account_input)(payload, output)


# --- the stage ----------------------------------------------------------------------------------


def run(inputs: list[str | os.PathLike], out_dir: str | os.PathLike, settings: MixSettings, executor: Executor) -> dict:
    out_dir = storage.norm(out_dir)
    shards = stage_shards(inputs)
    executor.size_to(shards)
    # A missing or broken model fails here, before any work; the workers load it from its
    # location (a path or a URL that each of them reaches).
    tokenizer = str(Tokenizer(settings.tokenizer).path)
    # Each pass reads the shards it was planned on (`unchanged`): the plan holds row positions.
    identities = [storage.identity(s) for s in shards]
    counted = executor.map(count_work, [(i, s, identity, tokenizer) for i, (s, identity) in enumerate(zip(shards, identities))],
                           desc=f"{STAGE} (count tokens)")
    docs = [doc for part, error in counted if error is None for doc in part]
    budgets = settings.parsed_budgets()
    plan = plan_mix(docs, budgets, settings.validation_share, settings.salt, settings.seed, settings.shard_bytes)

    payloads: list[dict] = []
    for split in SPLITS:
        for rows in plan.shards[split]:
            payloads.append({"kind": "shard", "split": split, "rows": rows, "inputs": shards, "identities": identities,
                             "tokenizer": tokenizer if settings.pretokenized else None})
    by_shard: dict[int, list[MixDoc]] = defaultdict(list)
    for doc in docs:
        by_shard[doc.key[0]].append(doc)
    for index, (path, (_, error)) in enumerate(zip(shards, counted)):
        members = by_shard[index]
        left_out = {d.key[1]: _left_out_detail(d, plan, budgets) for d in members if plan.copies[d.key] == 0}
        counts = [{"id": d.id, "source": d.source, "subset": d.subset, "split": plan.split[d.key], "tokens": d.tokens,
                   "copies": plan.copies[d.key]} for d in members]
        payloads.append({"kind": "input", "path": path, "identity": identities[index], "error": error, "left_out": left_out,
                         "counts": counts})

    summary = manifest(docs, plan, budgets)
    extra_copies = sum(max(0, n - 1) for n in plan.copies.values())
    run_stage(STAGE, out_dir, payloads, mix_work, executor, shard_bytes=_ONE_FILE, settings=settings,
              summary_extra={"mix": summary}, expected_documents_in=shard_rows(shards) + extra_copies, inputs=shards)
    _install_tokenizer(tokenizer, storage.join(out_dir, TOKENIZER_DIR))
    summary["settings"] = {"budgets": {b: v.to_dict() for b, v in sorted(budgets.items())}, "validation_share": dict(settings.validation_share),
                           "salt": settings.salt, "seed": settings.seed, "shard_bytes": settings.shard_bytes, "pretokenized": settings.pretokenized}
    storage.write_json(storage.join(out_dir, MANIFEST), summary)
    return summary


def _left_out_detail(doc: MixDoc, plan: MixPlan, budgets: dict[str, Budget]) -> str:
    bucket = bucket_of(doc.source, doc.subset, budgets)
    return f"bucket {bucket}: target {plan.targets[bucket]:.0f} of {plan.pools[bucket]} tokens"


def _install_tokenizer(model: str, folder: str) -> None:
    """Ship the model with the shards: token counts (and token shards) only mean something with it."""
    target = storage.join(folder, MODEL_FILE)
    data = storage.read_bytes(model)
    if not storage.isfile(target) or storage.read_bytes(target) != data:
        storage.write_bytes(target, data)
