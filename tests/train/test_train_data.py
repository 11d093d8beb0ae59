import collections

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from curation.tokenizer import Tokenizer
from train.data import (
    DataError, PackedDataset, Unit, build_loader, initial_state, plan_units, positions_from_tokens, split_units,
)


def _all_ids(folder):
    return [i for p in sorted(folder.glob("*.parquet")) for i in pq.read_table(p, columns=["id"]).column("id").to_pylist()]


@pytest.mark.parametrize("epoch", [0, 1])
def test_every_document_once_per_epoch_across_ranks_and_workers(mix_dir, tokenizer_dir, epoch):
    units = plan_units([mix_dir / "train"], "text")
    assert len(units) > 4
    seen = collections.Counter()
    world, workers = 2, 2
    for rank in range(world):
        ds = PackedDataset(units, str(tokenizer_dir / "tokenizer.model"), "text", 32, 2, rank, world, workers, seed=7)
        for logical in range(workers):
            state = initial_state() | {"epoch": epoch}
            ids = [doc_id for doc_id, _ in ds.iter_documents(logical, state, stop_at_epoch_end=True)]
            assert ids, "every logical worker gets work"
            seen.update(ids)
    expected = _all_ids(mix_dir / "train")
    assert sorted(seen) == sorted(expected)
    assert max(seen.values()) == 1


def test_shuffle_changes_unit_order_between_epochs(mix_dir, tokenizer_dir):
    units = plan_units([mix_dir / "train"], "text")
    ds = PackedDataset(units, str(tokenizer_dir), "text", 32, 2, 0, 1, 1, seed=7)
    assert ds.units_for(0, 0) != ds.units_for(0, 1)
    assert sorted(ds.units_for(0, 0), key=str) == sorted(ds.units_for(0, 1), key=str)


def test_packing_puts_eos_between_documents_and_restarts_positions(mix_dir, tokenizer_dir):
    tok = Tokenizer(tokenizer_dir)
    loader = build_loader([mix_dir / "train"], str(tokenizer_dir), 128, 16, 0, 1, num_workers=0, seed=0, shuffle=False)
    batch = next(iter(loader))
    inputs, labels, positions = batch["input_ids"], batch["labels"], batch["positions"]
    assert inputs.shape == labels.shape == positions.shape == (16, 128)
    assert torch.equal(inputs[0, 1:], labels[0, :-1])  # labels are the inputs shifted by one
    # The stream begins with the first document of the first shard, then EOS.
    first_text = pq.read_table(sorted((mix_dir / "train").glob("*.parquet"))[0], columns=["text"]).column("text")[0].as_py()
    first = tok.encode([first_text])[0]
    n = min(len(first), 128)
    assert inputs[0].tolist()[:n] == first[:n]
    assert positions[0, 0] == 0 and positions[1, 0] == 0
    eos = (inputs == tok.eos_id).nonzero().tolist()
    assert eos, "documents are separated by EOS"
    for b, i in eos:
        if i + 1 < 128:
            assert positions[b, i + 1] == 0
    assert torch.equal(positions, positions_from_tokens(inputs, tok.eos_id))


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_mid_epoch_is_exact(mix_dir, tokenizer_dir, workers):
    def make():
        return build_loader([mix_dir / "train"], str(tokenizer_dir), 64, 4, rank=1, world_size=2,
                            num_workers=workers, seed=3)

    loader = make()
    stream = iter(loader)
    for _ in range(7):
        next(stream)
    state = loader.state_dict()
    expected = [next(stream)["input_ids"] for _ in range(9)]

    resumed = make()
    resumed.load_state_dict(state)
    got = [b["input_ids"] for _, b in zip(range(9), resumed)]
    assert all(torch.equal(a, b) for a, b in zip(expected, got))
    # The state is a real position: a fresh loader does not give these batches.
    fresh = [b["input_ids"] for _, b in zip(range(9), make())]
    assert not all(torch.equal(a, b) for a, b in zip(expected, fresh))


def test_resume_refuses_another_layout(mix_dir, tokenizer_dir):
    loader = build_loader([mix_dir / "train"], str(tokenizer_dir), 64, 4, 0, 2, num_workers=0, seed=3)
    other = build_loader([mix_dir / "train"], str(tokenizer_dir), 64, 4, 0, 4, num_workers=0, seed=3)
    with pytest.raises(DataError, match="world_size"):
        other.load_state_dict(loader.state_dict())


def test_shards_without_text_column_are_a_clear_error(tmp_path, tokenizer_dir):
    pq.write_table(pa.table({"id": ["a", "b"], "body": ["x", "y"]}), tmp_path / "part-00000-0000.parquet")
    with pytest.raises(DataError, match="no 'text' column"):
        build_loader([tmp_path], str(tokenizer_dir), 64, 1, 0, 1)


def _documents_per_logical_worker(units, tokenizer_dir, world, workers, epoch=0):
    out = {}
    for rank in range(world):
        ds = PackedDataset(units, str(tokenizer_dir / "tokenizer.model"), "text", 32, 2, rank, world, workers, seed=7)
        for logical in range(workers or 1):
            state = initial_state() | {"epoch": epoch}
            out[rank, logical] = [doc_id for doc_id, _ in ds.iter_documents(logical, state, stop_at_epoch_end=True)]
    return out


@pytest.mark.parametrize("world, workers", [(2, 0), (2, 2), (3, 0), (8, 2)])
@pytest.mark.parametrize("epoch", [0, 1])
def test_one_row_group_is_split_by_rows_across_ranks(one_group_dir, tokenizer_dir, world, workers, epoch):
    units = plan_units([one_group_dir], "text")
    assert len(units) == 1 and units[0].rows == 150  # the layout of the failing 2-rank demo
    per_worker = _documents_per_logical_worker(units, tokenizer_dir, world, workers, epoch)
    assert all(per_worker.values()), "every rank and loader worker gets documents"
    seen = collections.Counter(i for ids in per_worker.values() for i in ids)
    assert sorted(seen) == sorted(_all_ids(one_group_dir)) and max(seen.values()) == 1
    sizes = [len(ids) for ids in per_worker.values()]
    assert max(sizes) - min(sizes) <= 1  # one row group: equal row ranges
    # Each worker reads a contiguous range of the file, in file order.
    order = _all_ids(one_group_dir)
    for ids in per_worker.values():
        first = order.index(ids[0])
        assert ids == order[first : first + len(ids)]


def test_two_ranks_on_one_row_group_stream_batches_and_resume_exactly(one_group_dir, tokenizer_dir):
    def make(rank):
        return build_loader([one_group_dir], str(tokenizer_dir), 256, 8, rank=rank, world_size=2, num_workers=0, seed=3)

    # A rank's half is about 70k tokens, 34 batches of 8 x 257: 50 batches run into the next epoch.
    streams = {rank: [b["input_ids"] for _, b in zip(range(50), make(rank))] for rank in (0, 1)}
    assert all(len(s) == 50 for s in streams.values())
    assert not torch.equal(streams[0][0], streams[1][0])  # different documents on each rank
    loader = make(1)
    stream = iter(loader)
    for _ in range(40):
        next(stream)
    state = loader.state_dict()
    assert state["units"] == 2 and state["states"][0]["epoch"] == 1
    resumed = make(1)
    resumed.load_state_dict(state)
    got = [b["input_ids"] for _, b in zip(range(10), resumed)]
    assert len(got) == 10 and all(torch.equal(a, b) for a, b in zip(streams[1][40:], got))


def test_row_groups_are_kept_whole_while_there_are_enough(mix_dir, tokenizer_dir):
    units = plan_units([mix_dir / "validation"], "text")  # 4 row groups of 25
    assert len(units) == 4
    assert split_units(units, 4) == units and split_units(units, 2) == units
    split = split_units(units, 8)  # 2 ranks x 4 loader workers
    assert len(split) == 8 and all(u.rows in (12, 13) for u in split)
    per_worker = _documents_per_logical_worker(units, tokenizer_dir, 2, 4)
    assert all(per_worker.values())
    assert sorted(i for ids in per_worker.values() for i in ids) == sorted(_all_ids(mix_dir / "validation"))


def test_split_units_covers_every_row_once():
    units = [Unit("a", 0, 7), Unit("a", 1, 100), Unit("b", 0, 1)]
    for parts in range(1, 40):
        split = split_units(units, parts)
        assert len(split) >= parts and all(u.rows > 0 for u in split)
        rows = [(u.path, u.row_group, r) for u in split for r in range(u.start, u.start + u.rows)]
        assert rows == [(u.path, u.row_group, r) for u in units for r in range(u.rows)]  # in order, no gaps
        assert split == split_units(units, parts)  # deterministic


def test_fewer_documents_than_workers_is_a_clear_error(tmp_path, tokenizer_dir):
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["x", "y", "z"]}), tmp_path / "part-00000-0000.parquet")
    with pytest.raises(DataError, match="3 documents cannot be dealt to 4 logical workers"):
        build_loader([tmp_path], str(tokenizer_dir), 64, 1, 0, 2, num_workers=2)


def test_pretokenized_shards(tmp_path, tokenizer_dir):
    table = pa.table({"id": ["a", "b", "c"], "tokens": pa.array([[10, 11, 12], [20, 21], [30]], pa.list_(pa.int32()))})
    pq.write_table(table, tmp_path / "part-00000-0000.parquet")
    loader = build_loader([tmp_path], str(tokenizer_dir), 4, 2, 0, 1, column="tokens", shuffle=False)
    batch = next(iter(loader))
    # [10 11 12 EOS 20 21 EOS 30 EOS 10 ...] cut into rows of seq_len + 1 = 5
    assert batch["input_ids"].tolist() == [[10, 11, 12, 2], [21, 2, 30, 2]]
    assert batch["positions"].tolist() == [[0, 1, 2, 3], [0, 1, 0, 1]]
