"""Dedup pass 1, one input shard: what every document is known by, and nothing else of it.

Per document: its normalised-text hash (curation.dedup.keys), its MinHash signature and LSH band
hashes (curation.dedup.minhash), its identifiers, and whether a benchmark contaminates it
(curation.dedup.decontam). Written to the work folder (curation.dedup.workdir): a narrow document
table, the signatures (for verification in pass 2) and the shuffle keys (curation.dedup.shuffle)
grouped by partition.

Some rows drop here, with their reason in the narrow table, and get no key (they drop whatever
their duplicates do): a null id or text (`null_<column>`), a text above `max_text_bytes`
(`too_large`: hashing, MinHash and n-gram matching take memory in proportion to a text, about
30 bytes per byte, so a 300 MB dump would take gigabytes), benchmark contamination. The shard is
read as untrusted (curation.shards.open_shard): a shard refused for its footer or schema yields
no row, a row group that cannot be decoded is skipped (positions stay those of the file).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation import storage
from curation.dedup.cluster_reasons import IDENTIFIERS
from curation.dedup.decontam import BenchmarkIndex, Match, load_or_build
from curation.dedup.keys import text_hash
from curation.dedup.minhash import EMPTY_SIGNATURE, band_keys, has_words, ngram_signatures
from curation.dedup.ngrams import ngrams, text_batches, word_hashes
from curation.dedup.settings import DedupSettings
from curation.dedup.shuffle import KIND_DOC_ID, KIND_ID, KIND_TEXT, gids, group_by_partition, hash64, key_block
from curation.dedup.workdir import WorkDir, save_npy
from curation.schema import DOCUMENT_SCHEMA
from curation.shards import UnreadableShard, null_reasons, open_shard, read_row_groups, write_table_atomic

NARROW_SCHEMA = pa.schema(
    [
        pa.field("position", pa.int64()),
        pa.field("id", pa.string()),
        pa.field("subset", pa.string()),
        pa.field("date", pa.string()),
        pa.field("pmid", pa.string()),  # identifiers in key form (normalise_identifier)
        pa.field("pmcid", pa.string()),
        pa.field("doi", pa.string()),
        pa.field("text_hash", pa.string()),
        pa.field("drop_reason", pa.string()),  # decided here: null_<column>, too_large, benchmark_contamination:<name>
        pa.field("drop_detail", pa.string()),
    ]
)

_INDEX_CACHE: dict = {}


def benchmark_index(work: WorkDir, settings: DedupSettings) -> BenchmarkIndex | None:
    """The settings' benchmark index, loaded once per process from the work folder, where the
    stage put it (curation.dedup.decontam.stage_index); loaded or built from the benchmark
    files, which must then be on this machine, when it is not there."""
    if not settings.benchmarks:
        return None
    key = (work.root, settings.benchmarks, settings.decontam)
    if key not in _INDEX_CACHE:
        _INDEX_CACHE.clear()
        staged = work.benchmark_index()
        if storage.isfile(staged):
            _INDEX_CACHE[key] = BenchmarkIndex.load(staged, settings.decontam)
        else:
            _INDEX_CACHE[key] = load_or_build(list(settings.benchmarks), settings.decontam, settings.index_cache_dir)
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


def _row_verdicts(table: pa.Table, positions: np.ndarray, max_text_bytes: int, name: str) -> tuple[pa.Array, pa.Array]:
    """Per row, why it cannot take part (`null_<column>`, `too_large`) and a detail, else nulls."""
    reasons = null_reasons(table, DOCUMENT_SCHEMA)
    detail = pa.nulls(table.num_rows, pa.string())
    if reasons.null_count < len(reasons):
        rows = pa.array([f"row {p} of {name}" for p in positions.tolist()], pa.string())
        detail = pc.if_else(pc.is_valid(reasons), rows, detail)
    sizes = pc.binary_length(table["text"])
    large = pc.and_(pc.is_null(reasons), pc.fill_null(pc.greater(sizes, max_text_bytes), False))
    if pc.any(large).as_py():
        reasons = pc.if_else(large, "too_large", reasons)
        limit = pa.array([f"{n} bytes of text, above dedup.max_text_bytes={max_text_bytes}" for n in sizes.to_pylist()], pa.string())
        detail = pc.if_else(large, limit, detail)
    return reasons, detail


def _batches(parquet: pq.ParquetFile, batch_rows: int, read: list[int]) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """The readable rows of a shard in tables of about `batch_rows`, with their shard positions;
    the indices of the row groups read are appended to `read`."""
    tables: list[pa.Table] = []
    positions: list[np.ndarray] = []
    pending = 0
    for group in read_row_groups(parquet, DOCUMENT_SCHEMA):
        if group.error is not None:
            continue
        read.append(group.index)
        for lo in range(0, group.num_rows, batch_rows):
            part = group.table.slice(lo, batch_rows)
            tables.append(part)
            positions.append(np.arange(group.start + lo, group.start + lo + part.num_rows, dtype=np.int64))
            pending += part.num_rows
            if pending >= batch_rows:
                yield pa.concat_tables(tables), np.concatenate(positions)
                tables, positions, pending = [], [], 0
    if pending:
        yield pa.concat_tables(tables), np.concatenate(positions)


def _by_position(sigs: list[np.ndarray], narrow: list[pa.Table], num_perm: int) -> np.ndarray:
    """The signatures as rows indexed by shard position (pass 2 looks them up by gid): rows of
    unreadable row groups, when a shard has some, hold the empty signature."""
    if not sigs:
        return np.empty((0, num_perm), np.uint32)
    rows = np.concatenate(sigs)
    positions = np.concatenate([t["position"].to_numpy() for t in narrow])
    if positions[-1] == len(positions) - 1:  # no gap: positions are 0..n-1
        return rows
    out = np.full((positions[-1] + 1, num_perm), EMPTY_SIGNATURE, np.uint32)
    out[positions] = rows
    return out


def _matches_and_signatures(
    texts: list[str], pmids: list[str | None], bench: BenchmarkIndex | None, settings: DedupSettings,
) -> tuple[list[Match | None] | None, np.ndarray | None]:
    """The benchmark match (if a benchmark index is given) and the MinHash signature (if near
    duplicates are looked for) of every text. Both are made of the same word hashes, combined
    into n-grams of their own size, so the words are hashed once, a run of texts at a time."""
    config = settings.minhash
    found: list[Match | None] | None = [] if bench else None
    sig = np.empty((len(texts), config.num_perm), np.uint32) if settings.near else None
    if found is None and sig is None:
        return None, None
    for lo, hi in text_batches(texts, config.batch_bytes):
        words = word_hashes(texts[lo:hi])
        if bench:
            found += bench.find_ngrams(ngrams(words, bench.config.n_grams), pmids[lo:hi])
        if sig is not None:
            sig[lo:hi] = ngram_signatures(ngrams(words, config.n_grams), config)
    return found, sig


def shard_keys(work: WorkDir, index: int, shard: str, settings: DedupSettings) -> dict:
    """Pass 1 for input shard number `index`; returns (and leaves in the work folder) its summary:
    documents read, keys, contaminated documents and the row groups read (`read_groups`: not the
    ones that cannot be decoded, none of a shard refused for its footer or schema). Pass 4 puts
    the others in the error ledger and must read exactly these.

    A row that cannot take part (a null id or text, a text above `max_text_bytes`) or that a
    benchmark contaminates gets its drop reason here and no key: it is no one's duplicate."""
    done = work.keys_done(index)
    summary = work.read_done(done)
    if summary is not None:
        return summary
    bench = benchmark_index(work, settings)
    narrow: list[pa.Table] = []
    keys: list[np.ndarray] = []
    sigs: list[np.ndarray] = []
    documents = contaminated = 0
    read: list[int] = []
    try:
        batches = _batches(open_shard(shard, DOCUMENT_SCHEMA), settings.batch_rows, read)
    except UnreadableShard:
        batches = iter(())
    for batch, positions in batches:
        n = batch.num_rows
        row_gids = gids(index, positions)
        reason, detail = _row_verdicts(batch, positions, settings.max_text_bytes, storage.name(shard))
        clean = pc.is_null(reason).to_numpy(zero_copy_only=False)
        text = batch.column("text")
        if not clean.all():
            text = pc.if_else(pa.array(clean), text, "")
        texts = text.to_pylist()
        hashes = [text_hash(t) for t in texts]
        ids = pc.fill_null(batch.column("id"), "").to_pylist()
        found, sig = _matches_and_signatures(texts, batch.column("pmid").to_pylist(), bench, settings)
        if found is not None:
            hit = np.array([m is not None for m in found], dtype=bool) & clean
            if hit.any():
                reason = pc.if_else(pa.array(hit), pa.array([m.reason if m else None for m in found], pa.string()), reason)
                detail = pc.if_else(pa.array(hit), pa.array([m.detail if m else None for m in found], pa.string()), detail)
                contaminated += int(hit.sum())
                clean &= ~hit
        columns = {"position": pa.array(positions)}
        for name in ("id", "subset", "date"):
            columns[name] = batch.column(name)
        for name in IDENTIFIERS:
            # In key form: pass 3 compares these to name the relation that its keys linked.
            columns[name] = pa.array([v or None for v in normalise_identifier(name, batch.column(name).to_pylist())], pa.string())
        columns.update(text_hash=pa.array(hashes, pa.string()), drop_reason=reason, drop_detail=detail)
        narrow.append(pa.table(columns, schema=NARROW_SCHEMA))
        keys.append(key_block(KIND_DOC_ID, np.fromiter((hash64(i) for i in ids), np.uint64, n), row_gids, clean))
        if settings.exact:
            keys.append(key_block(KIND_TEXT, np.fromiter((int(h[:16], 16) for h in hashes), np.uint64, n), row_gids, clean))
        for name in settings.identifiers:
            values = columns[name].to_pylist()
            present = np.fromiter((bool(v) for v in values), bool, n) & clean
            keys.append(key_block(KIND_ID[name], np.fromiter((hash64(v) if v else 0 for v in values), np.uint64, n), row_gids, present))
        if sig is not None:
            sigs.append(sig)
            bands = band_keys(sig, settings.minhash)
            usable = has_words(sig) & clean
            b = settings.minhash.num_bands
            keys.append(key_block(np.tile(np.arange(b, dtype=np.uint16), n), bands.ravel(), np.repeat(row_gids, b), np.repeat(usable, b)))
        documents += n
    all_keys, offsets = group_by_partition(keys, settings.partitions)
    write_table_atomic(pa.concat_tables(narrow) if narrow else NARROW_SCHEMA.empty_table(), work.docs(index))
    num_perm = settings.minhash.num_perm
    save_npy(work.signatures(index), _by_position(sigs, narrow, num_perm))
    save_npy(work.offsets(index), offsets)
    save_npy(work.keys(index), all_keys)
    summary = {"documents": documents, "keys": int(all_keys.size), "contaminated": contaminated, "read_groups": read}
    work.mark_done(done, summary)
    return summary
