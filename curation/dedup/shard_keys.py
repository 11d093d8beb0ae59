"""Dedup pass 1, one input shard: what every document is known by, and nothing else of it.

Per document: its normalised-text hash (curation.dedup.keys), its MinHash signature and LSH band
hashes (curation.dedup.minhash), its identifiers, and whether a benchmark contaminates it
(curation.dedup.decontam). Written to the work folder (curation.dedup.workdir): a narrow document
table, the signatures (for verification in pass 2) and the shuffle keys (curation.dedup.shuffle)
grouped by partition. A contaminated document gets no key: it drops whatever its duplicates do.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.dedup.decontam import BenchmarkIndex
from curation.dedup.keys import text_hash
from curation.dedup.minhash import band_keys, has_words, signatures
from curation.dedup.settings import DedupSettings
from curation.dedup.shuffle import KIND_DOC_ID, KIND_ID, KIND_TEXT, gids, group_by_partition, hash64, key_block
from curation.dedup.workdir import WorkDir, save_npy
from curation.shards import write_table_atomic

READ_COLUMNS = ["id", "subset", "date", "pmid", "pmcid", "doi", "text"]
NARROW_SCHEMA = pa.schema(
    [
        pa.field("position", pa.int64()),
        pa.field("id", pa.string()),
        pa.field("subset", pa.string()),
        pa.field("date", pa.string()),
        pa.field("pmid", pa.string()),
        pa.field("pmcid", pa.string()),
        pa.field("doi", pa.string()),
        pa.field("text_hash", pa.string()),
        pa.field("contamination", pa.string()),
        pa.field("contamination_detail", pa.string()),
    ]
)

_INDEX_CACHE: dict = {}


def benchmark_index(settings: DedupSettings) -> BenchmarkIndex | None:
    """The settings' benchmark index, built once per process."""
    if not settings.benchmarks:
        return None
    key = (settings.benchmarks, settings.decontam)
    if key not in _INDEX_CACHE:
        _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = BenchmarkIndex(list(settings.benchmarks), settings.decontam)
    return _INDEX_CACHE[key]


def normalise_identifier(name: str, values: list) -> list:
    """The key form of an identifier: PMCIDs upper case with their PMC prefix, DOIs lower case."""
    out = []
    for v in values:
        v = (v or "").strip()
        if v and name == "pmcid":
            v = v.upper()
            v = v if v.startswith("PMC") else "PMC" + v
        elif v and name == "doi":
            v = v.lower()
        out.append(v)
    return out


def shard_keys(work: WorkDir, index: int, shard: str, settings: DedupSettings) -> dict:
    """Pass 1 for input shard number `index`; returns (and leaves in the work folder) its summary."""
    done = work.keys_done(index)
    summary = work.read_done(done)
    if summary is not None:
        return summary
    bench = benchmark_index(settings)
    narrow: list[pa.Table] = []
    keys: list[np.ndarray] = []
    sigs: list[np.ndarray] = []
    position = contaminated = 0
    parquet = pq.ParquetFile(shard)
    for batch in parquet.iter_batches(batch_size=settings.batch_rows, columns=READ_COLUMNS):
        texts = batch.column("text").to_pylist()
        n = len(texts)
        row_gids = gids(index, position, n)
        hashes = [text_hash(t) for t in texts]
        ids = batch.column("id").to_pylist()
        reason = detail = pa.nulls(n, pa.string())
        clean = np.ones(n, dtype=bool)
        if bench:
            found = bench.find(texts, batch.column("pmid").to_pylist())
            clean = np.array([m is None for m in found], dtype=bool)
            if not clean.all():
                reason = pa.array([m.reason if m else None for m in found], pa.string())
                detail = pa.array([m.detail if m else None for m in found], pa.string())
                contaminated += int((~clean).sum())
        columns = {"position": pa.array(np.arange(position, position + n, dtype=np.int64))}
        for name in ("id", "subset", "date", "pmid", "pmcid", "doi"):
            columns[name] = batch.column(name).cast(pa.string())
        columns.update(text_hash=pa.array(hashes, pa.string()), contamination=reason, contamination_detail=detail)
        narrow.append(pa.table(columns, schema=NARROW_SCHEMA))
        keys.append(key_block(KIND_DOC_ID, np.fromiter((hash64(i) for i in ids), np.uint64, n), row_gids, clean))
        if settings.exact:
            keys.append(key_block(KIND_TEXT, np.fromiter((int(h[:16], 16) for h in hashes), np.uint64, n), row_gids, clean))
        for name in settings.identifiers:
            values = normalise_identifier(name, batch.column(name).to_pylist())
            present = np.fromiter((bool(v) for v in values), bool, n) & clean
            keys.append(key_block(KIND_ID[name], np.fromiter((hash64(v) if v else 0 for v in values), np.uint64, n), row_gids, present))
        if settings.near:
            sig = signatures(texts, settings.minhash)
            sigs.append(sig)
            bands = band_keys(sig, settings.minhash)
            usable = has_words(sig) & clean
            b = settings.minhash.num_bands
            keys.append(key_block(np.tile(np.arange(b, dtype=np.uint16), n), bands.ravel(), np.repeat(row_gids, b), np.repeat(usable, b)))
        position += n
    all_keys, offsets = group_by_partition(keys, settings.partitions)
    write_table_atomic(pa.concat_tables(narrow) if narrow else NARROW_SCHEMA.empty_table(), work.docs(index))
    num_perm = settings.minhash.num_perm
    save_npy(work.signatures(index), np.concatenate(sigs) if sigs else np.empty((0, num_perm), np.uint32))
    save_npy(work.offsets(index), offsets)
    save_npy(work.keys(index), all_keys)
    summary = {"documents": position, "keys": int(all_keys.size), "contaminated": contaminated}
    work.mark_done(done, summary)
    return summary
