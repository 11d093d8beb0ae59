import collections

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from curation.tokenizer import Tokenizer
from train.data import DataError, PackedDataset, build_loader, initial_state, plan_units, positions_from_tokens


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


def test_too_few_row_groups_for_the_workers(mix_dir, tokenizer_dir):
    with pytest.raises(DataError, match="cannot be dealt"):
        build_loader([mix_dir / "validation"], str(tokenizer_dir), 64, 1, 0, 2, num_workers=4)


def test_pretokenized_shards(tmp_path, tokenizer_dir):
    table = pa.table({"id": ["a", "b", "c"], "tokens": pa.array([[10, 11, 12], [20, 21], [30]], pa.list_(pa.int32()))})
    pq.write_table(table, tmp_path / "part-00000-0000.parquet")
    loader = build_loader([tmp_path], str(tokenizer_dir), 4, 2, 0, 1, column="tokens", shuffle=False)
    batch = next(iter(loader))
    # [10 11 12 EOS 20 21 EOS 30 EOS 10 ...] cut into rows of seq_len + 1 = 5
    assert batch["input_ids"].tolist() == [[10, 11, 12, 2], [21, 2, 30, 2]]
    assert batch["positions"].tolist() == [[0, 1, 2, 3], [0, 1, 0, 1]]
