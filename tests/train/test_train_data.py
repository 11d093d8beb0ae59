import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from curation.tokenizer import Tokenizer
from train.data import (
    DataError, build_loader, initial_state, positions_from_tokens,
)


def _epoch_stream(folder, tokenizer_dir):
    """The stream an unshuffled epoch is: every document's tokens and EOS, in shard and row order."""
    tok = Tokenizer(tokenizer_dir)
    texts = [t for p in sorted(folder.glob("*.parquet")) for t in pq.read_table(p, columns=["text"]).column("text").to_pylist()]
    return [t for doc in tok.encode(texts) for t in doc + [tok.eos_id]]


@pytest.mark.parametrize("folder, world, workers", [("mix", 2, 2), ("mix", 3, 0), ("one_group", 2, 0),
                                                    ("one_group", 3, 0), ("one_group", 8, 2)])
def test_logical_workers_share_one_epoch_stream_in_equal_parts(mix_dir, one_group_dir, tokenizer_dir, folder,
                                                                world, workers):
    """Shares of real text shards, laid end to end, are the epoch's stream but for its last partial batch."""
    shards = mix_dir / "train" if folder == "mix" else one_group_dir
    seq_len, batch = 32, 2
    read, counts = [], []
    for rank in range(world):
        loader = build_loader([shards], str(tokenizer_dir), seq_len, batch, rank, world, workers, seed=7, shuffle=False)
        ds = loader.dataset
        for logical in range(max(1, workers)):
            rows = [torch.cat([b["input_ids"], b["labels"][:, -1:]], 1)
                    for _, b in zip(range(ds.batches_per_epoch), ds.iter_batches(logical, initial_state()))]
            counts.append(len(rows))
            read += torch.cat(rows).flatten().tolist()
    expected = _epoch_stream(shards, tokenizer_dir)
    assert len(set(counts)) == 1 and counts[0] > 0  # the same number of batches on every logical worker
    assert read == expected[: len(read)]
    assert len(expected) - len(read) < world * max(1, workers) * batch * (seq_len + 1)


def test_shuffle_changes_unit_order_between_epochs(mix_dir, tokenizer_dir):
    ds = build_loader([mix_dir / "train"], str(tokenizer_dir), 32, 2, 0, 1, seed=7).dataset
    assert ds.unit_order(0).tolist() != ds.unit_order(1).tolist()
    assert sorted(ds.unit_order(0)) == sorted(ds.unit_order(1)) == list(range(len(ds.units)))


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
    assert state["units"] == 1 and state["states"][0]["epoch"] == 1
    resumed = make(1)
    resumed.load_state_dict(state)
    got = [b["input_ids"] for _, b in zip(range(10), resumed)]
    assert len(got) == 10 and all(torch.equal(a, b) for a, b in zip(streams[1][40:], got))


def test_fewer_tokens_than_a_batch_per_worker_is_a_clear_error(tmp_path, tokenizer_dir):
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["x", "y", "z"]}), tmp_path / "part-00000-0000.parquet")
    with pytest.raises(DataError, match=r"fewer than one micro-batch of 65 for each of 4 logical workers"):
        build_loader([tmp_path], str(tokenizer_dir), 64, 1, 0, 2, num_workers=2)


def test_pretokenized_shards(tmp_path, tokenizer_dir):
    docs = [[10, 11, 12], [20, 21], [30], [40]]
    table = pa.table({"id": ["a", "b", "c", "d"], "tokens": pa.array(docs, pa.list_(pa.int32()))})
    pq.write_table(table, tmp_path / "part-00000-0000.parquet")
    loader = build_loader([tmp_path], str(tokenizer_dir), 4, 2, 0, 1, column="tokens", shuffle=False)
    batch = next(iter(loader))
    # [10 11 12 EOS 20 21 EOS 30 EOS 40 EOS] cut into rows of seq_len + 1 = 5
    assert batch["input_ids"].tolist() == [[10, 11, 12, 2], [21, 2, 30, 2]]
    assert batch["positions"].tolist() == [[0, 1, 2, 3], [0, 1, 0, 1]]
