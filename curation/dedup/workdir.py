"""The files the dedup passes leave for each other in DIR/_work, written atomically.

    inputs.digest            the inputs (and each file's identity) and settings this folder belongs to
    benchmark-index.npz      the decontamination index, built (or found in the cache) by the planner
    docs/SSSSS.parquet       pass 1: the narrow document table of input shard S
    sig/SSSSS.npy            pass 1: its MinHash signatures (uint32, documents x permutations)
    keys/SSSSS.keys.npy      pass 1: its shuffle keys, grouped by partition,
    keys/SSSSS.offsets.npy            and where each partition starts
    keys/SSSSS.done          pass 1: the task's summary; written last, it marks the task done
    edges/PPPPP.npy          pass 2: a spanning forest of partition P's duplicate edges
    edges/PPPPP.done
    plan/SSSSS.parquet       pass 3: the rows of shard S that drop: (position, reason, detail)

The work folder is a location of curation.storage: DIR/_work beside the output, or under
`dedup.scratch` (a path or URL every worker reaches). Tasks pass each other nothing but these
names, so workers need share no disk. Every file is written whole or not at all (on local disk
under a temporary name, renamed; on an object store, committed on close) and each task's `.done`
is written after its files, so an interrupted pass leaves no half file and a task whose `.done`
exists is not redone.
"""
from __future__ import annotations

import json
import os

import numpy as np

from curation import storage

WORK = "_work"


class WorkDir:
    def __init__(self, root: str | os.PathLike):
        self.root = storage.norm(root)

    def prepare(self, digest: str, identities: list) -> None:
        """A work folder belongs to one set of inputs and settings; anything else is discarded.
        The inputs are named by `digest` (paths, sizes, settings) and by the identity of each
        file (storage.identity): a shard replaced since an interrupted run, even by one of the
        same size, is not resumed from keys read off the old one."""
        stamp = storage.join(self.root, "inputs.digest")
        content = json.dumps({"digest": digest, "identities": identities}, sort_keys=True)
        if storage.isfile(stamp) and storage.read_text(stamp) == content:
            return
        storage.remove_tree(self.root)
        storage.makedirs(self.root)
        storage.write_bytes(stamp, content.encode())

    def exists(self) -> bool:
        return storage.exists(storage.join(self.root, "inputs.digest"))

    def remove(self) -> None:
        storage.remove_tree(self.root)

    def _file(self, *parts: str) -> str:
        return storage.join(self.root, *parts)

    # paths ---------------------------------------------------------------------------------
    def docs(self, shard: int) -> str:
        return self._file("docs", f"{shard:05d}.parquet")

    def signatures(self, shard: int) -> str:
        return self._file("sig", f"{shard:05d}.npy")

    def keys(self, shard: int) -> str:
        return self._file("keys", f"{shard:05d}.keys.npy")

    def offsets(self, shard: int) -> str:
        return self._file("keys", f"{shard:05d}.offsets.npy")

    def keys_done(self, shard: int) -> str:
        return self._file("keys", f"{shard:05d}.done")

    def edges(self, partition: int) -> str:
        return self._file("edges", f"{partition:05d}.npy")

    def edges_done(self, partition: int) -> str:
        return self._file("edges", f"{partition:05d}.done")

    def benchmark_index(self) -> str:
        return self._file("benchmark-index.npz")

    def plan(self, shard: int) -> str:
        return self._file("plan", f"{shard:05d}.parquet")

    # markers -------------------------------------------------------------------------------
    @staticmethod
    def read_done(path: str) -> dict | None:
        """The summary a finished task left, or None when the task has not finished."""
        try:
            return storage.read_json(path)
        except FileNotFoundError:
            return None

    @staticmethod
    def mark_done(path: str, summary: dict) -> None:
        storage.write_json(path, summary)


save_npy = storage.save_npy  # np.save, whole or not at all
load_npy = storage.load_npy
