"""Stream Parquet shards into packed, document-aware token rows, with an exact resume state.

The unit of work is the Parquet row group. Every epoch the units are put in an order fixed by
(seed, epoch), and logical worker `g = rank * num_workers + worker` takes `order[g::world * num_workers]`:
deterministic, disjoint, and no communication needed. With fewer row groups than logical workers,
row groups are cut into row ranges first (`split_units`), so any shard layout feeds any world size. Training repeats epochs forever and lets the
step count stop it, so no rank runs dry before another (a hang under FSDP).

Each logical worker tokenizes its documents, appends EOS after each, and cuts micro-batches of
`batch_size` rows of `seq_len + 1` tokens off the front of its buffer (inputs and labels are the
row shifted by one). Positions restart at 0 at each document start and at each row start; the
attention mask and RoPE both come from them.

The state of a logical worker is (epoch, cursor into its unit list, next row in that unit, leftover
buffer), recorded *after* each micro-batch is cut, so it always means "what to read next". With
`num_workers > 0` a plain torch DataLoader serves the workers round-robin; every batch carries its
worker's state, and the loader remembers the latest state per worker plus which worker is next.
On resume, DataLoader worker `w` plays logical worker `(w + next) % num_workers`, so the batch
sequence continues exactly where it stopped. No torchdata dependency is needed for this.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from curation.shards import list_shards_many


class DataError(ValueError):
    """Shards that cannot be trained on (missing column, fewer documents than workers, empty)."""


@dataclass(frozen=True)
class Unit:
    """Rows `start .. start + rows` of one Parquet row group (the whole group unless split)."""

    path: str
    row_group: int
    rows: int
    start: int = 0


def plan_units(inputs: Sequence[Path | str], column: str) -> list[Unit]:
    """Every (shard, row group) under `inputs`, in shard-name order; checks the column exists."""
    shards = list_shards_many(Path(p) for p in inputs)
    if not shards:
        raise DataError(f"no Parquet shards in {[str(p) for p in inputs]}")
    units = []
    for path in shards:
        meta = pq.ParquetFile(path)
        names = meta.schema_arrow.names
        if column not in names:
            raise DataError(f"{path}: no {column!r} column to train on (columns: {names})")
        for group in range(meta.num_row_groups):
            rows = meta.metadata.row_group(group).num_rows
            if rows:
                units.append(Unit(str(path), group, rows))
    if not units:
        raise DataError(f"the shards in {[str(p) for p in inputs]} hold no rows")
    return units


def split_units(units: Sequence[Unit], parts: int) -> list[Unit]:
    """At least `parts` units, by cutting row groups into row ranges; deterministic.

    Whole row groups are the cheap unit to read, so nothing is cut while there are enough of them.
    With fewer row groups than logical workers (a small mix written as one row group, many ranks),
    the row groups are cut into equal row ranges, one more piece at a time to the group whose pieces
    are largest, so every rank reads documents of its own and no piece is much bigger than another.
    Pieces stay in file and row order.
    """
    units = list(units)
    if len(units) >= parts:
        return units
    total_rows = sum(u.rows for u in units)
    if total_rows < parts:
        raise DataError(f"{total_rows} documents cannot be dealt to {parts} logical workers (ranks x loader workers)")
    pieces = [1] * len(units)
    for _ in range(parts - len(units)):
        i = max(range(len(units)), key=lambda j: units[j].rows / pieces[j])  # the first largest
        pieces[i] += 1
    out = []
    for unit, k in zip(units, pieces):
        bounds = [unit.rows * j // k for j in range(k + 1)]
        out += [Unit(unit.path, unit.row_group, hi - lo, unit.start + lo) for lo, hi in zip(bounds, bounds[1:])]
    return out


def deal(units: Sequence[Unit], epoch: int, seed: int, shuffle: bool, g: int, total: int) -> list[Unit]:
    """The units logical worker `g` of `total` reads in `epoch`."""
    order = np.random.default_rng(seed + epoch).permutation(len(units)) if shuffle else np.arange(len(units))
    return [units[i] for i in order[g::total]]


def positions_from_tokens(rows: torch.Tensor, eos_id: int) -> torch.Tensor:
    """(B, T) positions: 0 at each row start and right after each EOS, counting up otherwise."""
    b, t = rows.shape
    idx = torch.arange(t).expand(b, t)
    starts = torch.zeros(b, t, dtype=torch.bool)
    starts[:, 0] = True
    starts[:, 1:] = rows[:, :-1] == eos_id
    last_start = torch.cummax(torch.where(starts, idx, torch.zeros_like(idx)), dim=1).values
    return idx - last_start


def initial_state() -> dict:
    return {"epoch": 0, "cursor": 0, "row": 0, "buffer": []}


class PackedDataset(IterableDataset):
    """The packed stream of one rank; each DataLoader worker plays one logical worker."""

    def __init__(
        self,
        units: Sequence[Unit],
        tokenizer_path: str,
        column: str,
        seq_len: int,
        batch_size: int,
        rank: int,
        world_size: int,
        num_workers: int,
        seed: int,
        shuffle: bool = True,
        replicate_if_small: bool = False,
    ):
        self.units = list(units)
        self.tokenizer_path = str(tokenizer_path)
        self.column = column
        self.seq_len, self.batch_size = seq_len, batch_size
        self.rank, self.world_size = rank, world_size
        self.logical_workers = max(1, num_workers)
        self.seed, self.shuffle = seed, shuffle
        total = world_size * self.logical_workers
        # Validation sets can be tiny; reading everything on every worker keeps the mean right.
        self.replicate = replicate_if_small and len(self.units) < total
        if len(self.units) < total and not self.replicate:
            self.units = split_units(self.units, total)
        self.states = [initial_state() for _ in range(self.logical_workers)]
        self.worker_offset = 0
        self._sp = None

    # -- reading -------------------------------------------------------------------------------
    def _tokenizer(self):
        if self._sp is None:  # loaded lazily, inside each worker process
            from curation.tokenizer import Tokenizer

            self._sp = Tokenizer(self.tokenizer_path)
        return self._sp

    def units_for(self, logical: int, epoch: int) -> list[Unit]:
        if self.replicate:
            return deal(self.units, epoch, self.seed, self.shuffle, 0, 1)
        g = self.rank * self.logical_workers + logical
        return deal(self.units, epoch, self.seed, self.shuffle, g, self.world_size * self.logical_workers)

    def _read(self, unit: Unit, start: int) -> tuple[list[str], list[list[int]]]:
        table = pq.ParquetFile(unit.path).read_row_group(unit.row_group, columns=["id", self.column])
        table = table.slice(unit.start + start, unit.rows - start)
        ids = table.column("id").to_pylist()
        values = table.column(self.column).to_pylist()
        if self.column == "tokens":  # pre-tokenized shards
            return ids, [list(v) for v in values]
        return ids, self._tokenizer().encode([v or "" for v in values])

    def iter_documents(self, logical: int, state: dict, stop_at_epoch_end: bool = False) -> Iterator[tuple[str, list[int]]]:
        """(id, tokens) in reading order; mutates `state` so it always points at the next document."""
        while True:
            units = self.units_for(logical, state["epoch"])
            while state["cursor"] < len(units):
                unit = units[state["cursor"]]
                ids, docs = self._read(unit, state["row"])
                for doc_id, tokens in zip(ids, docs):
                    # Advance before yielding: the document is consumed once the caller has it.
                    state["row"] += 1
                    if state["row"] == unit.rows:
                        state["cursor"], state["row"] = state["cursor"] + 1, 0
                    yield doc_id, tokens
            state["epoch"], state["cursor"], state["row"] = state["epoch"] + 1, 0, 0
            if stop_at_epoch_end:
                return

    def iter_batches(self, logical: int, state: dict) -> Iterator[dict]:
        eos = self._tokenizer().eos_id
        need = self.batch_size * (self.seq_len + 1)
        buffer: list[int] = state["buffer"]
        for _, tokens in self.iter_documents(logical, state):
            buffer.extend(tokens)
            buffer.append(eos)
            while len(buffer) >= need:
                rows = torch.tensor(buffer[:need], dtype=torch.long).view(self.batch_size, self.seq_len + 1)
                del buffer[:need]
                inputs = rows[:, :-1]
                batch = {"input_ids": inputs, "labels": rows[:, 1:], "positions": positions_from_tokens(inputs, eos)}
                batch["state"] = copy.deepcopy(state)  # buffer included: this is "what to read next"
                batch["worker"] = logical
                yield batch

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info is not None else 0
        logical = (worker + self.worker_offset) % self.logical_workers
        return self.iter_batches(logical, copy.deepcopy(self.states[logical]))


def _keep(batch):  # module level so that worker processes can pickle it
    return batch


class ParquetLoader:
    """A stateful loader over a PackedDataset: iterate for batches, `state_dict()` to resume exactly."""

    def __init__(self, dataset: PackedDataset, num_workers: int = 0, prefetch_factor: int = 2):
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.next_worker = 0

    def __iter__(self) -> Iterator[dict]:
        ds = self.dataset
        ds.worker_offset = self.next_worker
        # DataLoader draws its workers' base seed from the generator it is given, else from torch's
        # global one: that draw, made again after a resume, would put the run's RNG one draw off.
        # The batches use no randomness, so a generator of its own is all it needs.
        loader = DataLoader(
            ds, batch_size=None, num_workers=self.num_workers, collate_fn=_keep,
            prefetch_factor=self.prefetch_factor if self.num_workers else None,
            generator=torch.Generator().manual_seed(ds.seed),
        )
        for batch in loader:
            logical = batch.pop("worker")
            ds.states[logical] = batch.pop("state")
            self.next_worker = (logical + 1) % ds.logical_workers
            yield batch

    def state_dict(self) -> dict:
        ds = self.dataset
        return {
            "states": copy.deepcopy(ds.states),
            "next_worker": self.next_worker,
            "rank": ds.rank,
            "world_size": ds.world_size,
            "num_workers": ds.logical_workers,
            "seed": ds.seed,
            "units": len(ds.units),
        }

    def load_state_dict(self, state: dict) -> None:
        ds = self.dataset
        expected = {"world_size": ds.world_size, "num_workers": ds.logical_workers, "seed": ds.seed, "units": len(ds.units)}
        found = {k: state.get(k) for k in expected}
        if found != expected:
            raise DataError(
                f"the checkpoint's data position was saved with {found}, this run has {expected}; "
                "an exact resume needs the same shards, world size, loader workers and seed"
            )
        ds.states = copy.deepcopy(state["states"])
        self.next_worker = state["next_worker"]


def build_loader(
    inputs: Sequence[Path | str],
    tokenizer_path: str,
    seq_len: int,
    batch_size: int,
    rank: int,
    world_size: int,
    num_workers: int = 0,
    seed: int = 0,
    column: str = "text",
    shuffle: bool = True,
    replicate_if_small: bool = False,
) -> ParquetLoader:
    units = plan_units(inputs, column)
    dataset = PackedDataset(
        units, tokenizer_path, column, seq_len, batch_size, rank, world_size, num_workers, seed, shuffle,
        replicate_if_small,
    )
    return ParquetLoader(dataset, num_workers)
