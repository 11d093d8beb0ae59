"""The files the dedup passes leave for each other in DIR/_work, written atomically.

    inputs.digest            the inputs and settings this folder belongs to
    docs/SSSSS.parquet       pass 1: the narrow document table of input shard S
    sig/SSSSS.npy            pass 1: its MinHash signatures (uint32, documents x permutations)
    keys/SSSSS.keys.npy      pass 1: its shuffle keys, grouped by partition,
    keys/SSSSS.offsets.npy            and where each partition starts
    keys/SSSSS.done          pass 1: the task's summary; written last, it marks the task done
    edges/PPPPP.npy          pass 2: a spanning forest of partition P's duplicate edges
    edges/PPPPP.done
    plan/SSSSS.parquet       pass 3: the rows of shard S that drop: (position, reason, detail)

Every file is written to a temporary name and renamed, so an interrupted pass leaves no half
file, and a task whose `.done` exists is not redone.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from curation.atomic import atomic_file, write_json_atomic

WORK = "_work"


class WorkDir:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def prepare(self, digest: str) -> None:
        """A work folder belongs to one set of inputs and settings; anything else is discarded."""
        stamp = self.root / "inputs.digest"
        if self.root.is_dir() and not (stamp.is_file() and stamp.read_text() == digest):
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # paths ---------------------------------------------------------------------------------
    def docs(self, shard: int) -> Path:
        return self.root / "docs" / f"{shard:05d}.parquet"

    def signatures(self, shard: int) -> Path:
        return self.root / "sig" / f"{shard:05d}.npy"

    def keys(self, shard: int) -> Path:
        return self.root / "keys" / f"{shard:05d}.keys.npy"

    def offsets(self, shard: int) -> Path:
        return self.root / "keys" / f"{shard:05d}.offsets.npy"

    def keys_done(self, shard: int) -> Path:
        return self.root / "keys" / f"{shard:05d}.done"

    def edges(self, partition: int) -> Path:
        return self.root / "edges" / f"{partition:05d}.npy"

    def edges_done(self, partition: int) -> Path:
        return self.root / "edges" / f"{partition:05d}.done"

    def plan(self, shard: int) -> Path:
        return self.root / "plan" / f"{shard:05d}.parquet"

    # markers -------------------------------------------------------------------------------
    @staticmethod
    def read_done(path: Path) -> dict | None:
        """The summary a finished task left, or None when the task has not finished."""
        return json.loads(path.read_text()) if path.is_file() else None

    @staticmethod
    def mark_done(path: Path, summary: dict) -> None:
        write_json_atomic(path, summary)


def save_npy(path: Path, array: np.ndarray) -> None:
    """np.save, atomically."""
    with atomic_file(path) as handle:
        np.save(handle, array)
