"""The narrow rows that move between the dedup passes: (kind, hash, gid) keys and their partitions.

A gid names one document of the run: its input shard's index in the high 32 bits, its row
position in that shard in the low 32. A key says "this document has this hash of this kind";
two documents with an equal (kind, hash) are linked. Kinds below KIND_TEXT are LSH bands
(candidates that the edges pass verifies); the others link documents outright.

Every key goes to one of `partitions` hash partitions, so that the edges pass can read all keys
of one partition (about 1/partitions of them) from every shard's file.
"""
from __future__ import annotations

import hashlib

import numpy as np

from curation.dedup.cluster_reasons import IDENTIFIERS
from curation.dedup.ngrams import splitmix64

KIND_TEXT = 1000  # same normalised text
KIND_ID = {name: 1001 + i for i, name in enumerate(IDENTIFIERS)}  # same PMID / PMCID / DOI
KIND_DOC_ID = 1100  # the document id itself: a record read twice is one document
KEY_DTYPE = np.dtype([("kind", "<u2"), ("hash", "<u8"), ("gid", "<i8")])


def gids(shard: int, positions: np.ndarray) -> np.ndarray:
    """The gids of the rows at `positions` of shard number `shard`."""
    return (np.int64(shard) << np.int64(32)) + positions.astype(np.int64)


def shard_of(gids: np.ndarray) -> np.ndarray:
    return gids >> 32


def position_of(gids: np.ndarray) -> np.ndarray:
    return gids & 0xFFFFFFFF


def hash64(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest(), "little")


def key_block(kind, hashes: np.ndarray, gids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The keys of the rows selected by `mask`; `kind` is one kind or one per row."""
    k = np.empty(int(mask.sum()), KEY_DTYPE)
    k["kind"], k["hash"], k["gid"] = (kind[mask] if isinstance(kind, np.ndarray) else kind), hashes[mask], gids[mask]
    return k


def partition_of(kind: np.ndarray, hashes: np.ndarray, partitions: int) -> np.ndarray:
    mixed = splitmix64(hashes ^ (kind.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)))
    return (mixed % np.uint64(partitions)).astype(np.int64)


def group_by_partition(keys: list[np.ndarray], partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """All keys, grouped by partition, and the offsets of each partition (partitions + 1 of them).

    Grouped by partition only (a radix sort): the edges pass sorts its buckets itself."""
    all_keys = np.concatenate(keys) if keys else np.empty(0, KEY_DTYPE)
    part = partition_of(all_keys["kind"], all_keys["hash"], partitions)
    order = np.argsort(part.astype(np.min_scalar_type(partitions)), kind="stable")
    all_keys, part = all_keys[order], part[order]
    offsets = np.searchsorted(part, np.arange(partitions + 1), side="left").astype(np.int64)
    return all_keys, offsets
