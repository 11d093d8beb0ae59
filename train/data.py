"""Stream Parquet shards into packed, document-aware token rows, with an exact resume state.

An epoch is one pass over every document. Its token stream is every document followed by EOS, in
row order within a row group and the row groups in an order fixed by (seed, epoch). The stream is
cut into equal shares, one per logical worker `g = rank * num_workers + worker`: worker g reads
tokens `[g * S, (g + 1) * S)`, where S is the largest multiple of one micro-batch
(`batch_size * (seq_len + 1)` tokens) that fits `world * num_workers` times. So every logical
worker has the same number of batches per epoch, all of them cross into the next epoch at the same
step, and an epoch reads every token once except its last partial batch (fewer than one batch per
logical worker, at the end of the stream). A share may begin or end inside a document; rows are
cut inside documents anyway. Any shard layout feeds any world size, a single row group included.

Cutting by tokens needs each document's token count before reading: `plan_lengths` counts them
once at start-up (list lengths for pre-tokenized shards, the tokenizer for text), each rank a
part of the row groups when a `gather` is given (the trainer passes an all-gather). That pass
costs about what a second tokenization of the corpus costs, shared by all ranks.

Shards are read through curation.storage, so `inputs` may be local folders or URLs (s3://,
gs://, az://, file://); of a remote shard only the footer and the column chunks read are fetched.

Positions restart at 0 at each document start and at each row start; the attention mask and
RoPE both come from them. Inputs and labels are the row shifted by one.

The state of a logical worker is (epoch, next batch in its share): a position in the plan, not a
buffer, so resume seeks to it directly. With `num_workers > 0` a plain torch DataLoader serves the
workers round-robin; every batch carries its worker's state, and the loader remembers the latest
state per worker plus which worker is next. On resume, DataLoader worker `w` plays logical worker
`(w + next) % num_workers`, so the batch sequence continues exactly where it stopped.
"""
from __future__ import annotations

import copy
import hashlib
import os
import tempfile
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from curation import storage
from curation.shards import list_shards_many


class DataError(ValueError):
    """Shards that cannot be trained on (missing column, too few tokens for the workers, empty)."""


@dataclass(frozen=True)
class Unit:
    """One Parquet row group with rows."""

    path: str  # a local path or a URL (curation.storage)
    row_group: int
    rows: int


def plan_units(inputs: Sequence[str | os.PathLike], column: str) -> list[Unit]:
    """Every (shard, row group) under `inputs`, in shard-name order; checks the column exists."""
    shards = list_shards_many(inputs)
    if not shards:
        raise DataError(f"no Parquet shards in {[os.fspath(p) for p in inputs]}")
    units = []
    for path in shards:
        meta = open_parquet(path)
        names = meta.schema_arrow.names
        if column not in names:
            raise DataError(f"{path}: no {column!r} column to train on (columns: {names})")
        for group in range(meta.num_row_groups):
            rows = meta.metadata.row_group(group).num_rows
            if rows:
                units.append(Unit(str(path), group, rows))
    if not units:
        raise DataError(f"the shards in {[os.fspath(p) for p in inputs]} hold no rows")
    return units


def open_parquet(path: str) -> pq.ParquetFile:
    """A shard opened for reading one row group at a time.

    Remote shards are opened without fsspec's read-ahead: pyarrow asks for exactly the byte ranges
    it needs (the footer, then one column chunk), whereas the default 50 MiB read-ahead block of a
    fresh handle fetched 27x the shard's size when a 20 MB shard was read row group by row group
    (moto, 51 row groups: 545 MB)."""
    if storage.is_local(path):
        return storage.parquet_file(path)
    fs, inner = storage.filesystem(path)
    return pq.ParquetFile(fs.open(inner, "rb", cache_type="none"))


def read_row_group(unit: Unit, column: str):
    """One column of a unit (only that column chunk is read)."""
    return open_parquet(unit.path).read_row_group(unit.row_group, columns=[column])


def read_documents(unit: Unit, column: str, tokenizer_path: str, first: int = 0, count: int | None = None,
                   tokenizer=None) -> list[list[int]]:
    """The token lists of rows `first .. first + count` of a unit (EOS not included)."""
    table = read_row_group(unit, column)
    values = table.column(column).slice(first, count)
    if column == "tokens":  # pre-tokenized shards
        return [list(v) for v in values.to_pylist()]
    if tokenizer is None:
        from curation.tokenizer import Tokenizer

        tokenizer = Tokenizer(tokenizer_path)
    return tokenizer.encode([v or "" for v in values.to_pylist()])


def unit_lengths(unit: Unit, column: str, tokenizer_path: str, tokenizer=None) -> np.ndarray:
    """Tokens of each row of a unit, EOS included."""
    if column == "tokens":
        table = read_row_group(unit, column)
        counts = pc.list_value_length(table.column(column)).fill_null(0)
        return counts.to_numpy(zero_copy_only=False).astype(np.int64) + 1
    docs = read_documents(unit, column, tokenizer_path, tokenizer=tokenizer)
    return np.fromiter((len(d) + 1 for d in docs), dtype=np.int64, count=len(docs))


def local_tokenizer(location: str | os.PathLike) -> str:
    """A path SentencePiece can read: a local tokenizer as given; one on an object store (a
    `tokenizer.model` or its folder) copied to this machine's temporary folder, under a name
    made from its content, so that the ranks and loader workers of a node share one copy."""
    if storage.is_local(location):
        return storage.local_path(location)
    from curation.tokenizer import MODEL_FILE

    source = storage.norm(location)
    if not source.endswith(".model"):
        source = storage.join(source, MODEL_FILE)
    data = storage.read_bytes(source)
    path = os.path.join(tempfile.gettempdir(), f"medcurate-tokenizer-{hashlib.sha256(data).hexdigest()[:16]}.model")
    if not os.path.isfile(path):
        # The ranks of a node may all get here at once: each writes a name of its own, then
        # renames it (the same bytes), so none ever reads a partial file or loses its temporary one.
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    return path


Gather = Callable[[dict], list[dict]]  # every rank's dict, in rank order (an all-gather)


def plan_lengths(units: Sequence[Unit], column: str, tokenizer_path: str, rank: int = 0, world_size: int = 1,
                 gather: Gather | None = None) -> list[np.ndarray]:
    """Per unit, the token count of each document plus its EOS. With `gather`, rank r counts units
    r, r + world, ... and the ranks exchange their counts; without, this process counts all."""
    tokenizer = None
    if column != "tokens":
        from curation.tokenizer import Tokenizer

        tokenizer = Tokenizer(tokenizer_path)
    mine = range(rank, len(units), world_size) if gather else range(len(units))
    counted = {i: unit_lengths(units[i], column, tokenizer_path, tokenizer) for i in mine}
    if gather:
        for part in gather(counted):
            counted.update(part)
    return [counted[i] for i in range(len(units))]


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
    return {"epoch": 0, "batch": 0}


class PackedDataset(IterableDataset):
    """The packed stream of one rank; each DataLoader worker plays one logical worker."""

    def __init__(
        self,
        units: Sequence[Unit],
        lengths: Sequence[np.ndarray],
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
        self.lengths = [np.asarray(n, dtype=np.int64) for n in lengths]
        self.unit_tokens = np.array([int(n.sum()) for n in self.lengths], dtype=np.int64)
        self.epoch_tokens = int(self.unit_tokens.sum())
        self.tokenizer_path = str(tokenizer_path)
        self.column = column
        self.seq_len, self.batch_size = seq_len, batch_size
        self.batch_tokens = batch_size * (seq_len + 1)
        self.rank, self.world_size = rank, world_size
        self.logical_workers = max(1, num_workers)
        self.seed, self.shuffle = seed, shuffle
        total = world_size * self.logical_workers
        # Validation sets can be tiny; reading all of it on every worker keeps the mean right.
        self.replicate = replicate_if_small and self.epoch_tokens < total * self.batch_tokens
        self.shares = 1 if self.replicate else total
        self.batches_per_epoch = self.epoch_tokens // (self.shares * self.batch_tokens)
        if self.batches_per_epoch == 0:
            raise DataError(
                f"the shards hold {self.epoch_tokens} tokens (EOS included), fewer than one micro-batch of "
                f"{self.batch_tokens} for each of {total} logical workers (ranks x loader workers)"
            )
        self.states = [initial_state() for _ in range(self.logical_workers)]
        self.worker_offset = 0
        self._sp = None

    def _tokenizer(self):
        if self._sp is None:  # loaded lazily, inside each worker process
            from curation.tokenizer import Tokenizer

            self._sp = Tokenizer(self.tokenizer_path)
        return self._sp

    # -- the plan --------------------------------------------------------------------------------
    def unit_order(self, epoch: int) -> np.ndarray:
        n = len(self.units)
        return np.random.default_rng(self.seed + epoch).permutation(n) if self.shuffle else np.arange(n)

    def share(self, logical: int) -> tuple[int, int]:
        """[begin, end) of this logical worker's share of an epoch's token stream."""
        g = 0 if self.replicate else self.rank * self.logical_workers + logical
        size = self.batches_per_epoch * self.batch_tokens
        return g * size, (g + 1) * size

    def iter_stream(self, epoch: int, begin: int, end: int) -> Iterator[list[int]]:
        """Tokens `begin .. end` of an epoch's stream, as pieces of documents (EOS included)."""
        order = self.unit_order(epoch)
        bounds = np.concatenate([[0], np.cumsum(self.unit_tokens[order])])
        eos = self._tokenizer().eos_id
        k = int(np.searchsorted(bounds, begin, side="right")) - 1
        pos = begin
        while pos < end:
            unit, lengths = self.units[order[k]], self.lengths[order[k]]
            doc_bounds = np.concatenate([[0], np.cumsum(lengths)])
            lo, hi = pos - int(bounds[k]), min(end, int(bounds[k + 1])) - int(bounds[k])
            first = int(np.searchsorted(doc_bounds, lo, side="right")) - 1
            last = int(np.searchsorted(doc_bounds, hi, side="left"))  # rows first .. last - 1
            docs = read_documents(unit, self.column, self.tokenizer_path, first, last - first,
                                  None if self.column == "tokens" else self._tokenizer())
            for row, tokens in enumerate(docs, start=first):
                if len(tokens) + 1 != lengths[row]:
                    raise DataError(f"{unit.path} row group {unit.row_group} row {row}: {len(tokens)} tokens now, "
                                    f"{lengths[row] - 1} when the epoch was planned (shards or tokenizer changed)")
                piece = tokens + [eos]
                yield piece[max(0, lo - int(doc_bounds[row])) : hi - int(doc_bounds[row])]
            pos = int(bounds[k]) + hi
            k += 1

    # -- batches ---------------------------------------------------------------------------------
    def iter_batches(self, logical: int, state: dict) -> Iterator[dict]:
        """Batches from `state` on, forever; `state` is advanced past each batch yielded."""
        eos = self._tokenizer().eos_id
        need = self.batch_tokens
        begin, end = self.share(logical)
        while True:
            buffer: list[int] = []
            for piece in self.iter_stream(state["epoch"], begin + state["batch"] * need, end):
                buffer.extend(piece)
                while len(buffer) >= need:
                    rows = torch.tensor(buffer[:need], dtype=torch.long).view(self.batch_size, self.seq_len + 1)
                    del buffer[:need]
                    state["batch"] += 1
                    if state["batch"] == self.batches_per_epoch:  # every logical worker turns here
                        state["epoch"], state["batch"] = state["epoch"] + 1, 0
                    inputs = rows[:, :-1]
                    batch = {"input_ids": inputs, "labels": rows[:, 1:], "positions": positions_from_tokens(inputs, eos)}
                    batch["state"] = dict(state)  # "what to read next"
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

    def rewind(self) -> None:
        """Back to the start of epoch 0."""
        self.dataset.states = [initial_state() for _ in range(self.dataset.logical_workers)]
        self.next_worker = 0

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
            "epoch_tokens": ds.epoch_tokens,
        }

    def load_state_dict(self, state: dict) -> None:
        ds = self.dataset
        expected = {"world_size": ds.world_size, "num_workers": ds.logical_workers, "seed": ds.seed,
                    "units": len(ds.units), "epoch_tokens": ds.epoch_tokens}
        found = {k: state.get(k) for k in expected}
        if found != expected:
            raise DataError(
                f"the checkpoint's data position was saved with {found}, this run has {expected}; "
                "an exact resume needs the same shards, tokenizer, world size, loader workers and seed"
            )
        ds.states = copy.deepcopy(state["states"])
        self.next_worker = state["next_worker"]


def build_loader(
    inputs: Sequence[str | os.PathLike],
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
    gather: Gather | None = None,
) -> ParquetLoader:
    """`gather`: an all-gather over the ranks that splits the token counting among them (optional)."""
    units = plan_units(inputs, column)
    lengths = plan_lengths(units, column, tokenizer_path, rank, world_size, gather)
    dataset = PackedDataset(
        units, lengths, tokenizer_path, column, seq_len, batch_size, rank, world_size, num_workers, seed, shuffle,
        replicate_if_small,
    )
    return ParquetLoader(dataset, num_workers)
