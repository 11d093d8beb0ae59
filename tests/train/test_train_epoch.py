"""An epoch reads every document once, on every layout of shards, row groups, ranks and loader workers.

Pre-tokenized shards whose token values are unique across the corpus let a test see exactly which
part of which document each batch holds. A pass of one epoch is the number of batches the loader
says an epoch has; within it no token may be read twice, and all but the last partial batch of
the epoch (fewer than one batch per logical worker) must be read.
"""
import collections
import copy
import itertools

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from curation.tokenizer import Tokenizer
from train.data import build_loader

FIRST_TOKEN = 10  # above the control ids (EOS is 2)


def write_corpus(folder, lengths, n_shards, row_group_rows):
    """Documents of the given lengths with token values unique over the corpus; returns them."""
    folder.mkdir(parents=True, exist_ok=True)
    starts = FIRST_TOKEN + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    docs = [list(range(int(s), int(s) + int(n))) for s, n in zip(starts, lengths)]
    per = -(-len(docs) // n_shards)
    for i in range(n_shards):
        part = docs[i * per : (i + 1) * per]
        table = pa.table({"id": [f"d{s[0]}" for s in part], "tokens": pa.array(part, pa.list_(pa.int32()))})
        pq.write_table(table, folder / f"part-{i:05d}-0000.parquet", row_group_size=row_group_rows)
    return docs


def batches_of(loader, logical, count):
    ds = loader.dataset
    stream = ds.iter_batches(logical, copy.deepcopy(ds.states[logical]))
    return [whole_rows(b) for b in itertools.islice(stream, count)]


def whole_rows(batch):
    """The packed rows of seq_len + 1 tokens a batch was cut from (labels are inputs shifted by one)."""
    return torch.cat([batch["input_ids"], batch["labels"][:, -1:]], dim=1)


def tokens_read(batches, eos):
    values = np.concatenate([b.flatten().numpy() for b in batches]) if batches else np.array([], int)
    return values[values != eos]


def check_epoch(read, docs, logical_workers, need):
    """Each token at most once; what is missing fits in the epoch's last partial batch."""
    counts = collections.Counter(read.tolist())
    twice = [t for t, c in counts.items() if c > 1]
    assert not twice, f"{len(twice)} tokens read twice in one epoch"
    total = sum(len(d) for d in docs)
    missing = total - len(counts)
    assert 0 <= missing < logical_workers * need, f"{missing} tokens unread, more than the last partial batch"


LAYOUTS = [  # documents, shards, rows per row group, ranks, loader workers, seq_len, micro-batch
    (120, 3, 40, 2, 0, 16, 2),     # 3 equal row groups on 2 ranks (the 17%)
    (150, 1, 1000, 2, 0, 16, 2),   # one row group, two ranks
    (150, 1, 1000, 8, 2, 8, 1),    # one row group, 16 logical workers
    (400, 5, 13, 3, 2, 32, 2),     # many uneven row groups
    (300, 4, 7, 4, 3, 16, 3),
    (260, 2, 130, 64, 2, 4, 1),    # 130 row groups... of 2 shards, 128 logical workers
    (90, 7, 5, 1, 0, 64, 1),       # one process
]


@pytest.mark.parametrize("docs_n, shards, rg_rows, world, workers, seq_len, batch", LAYOUTS)
def test_each_epoch_reads_every_document_once(tmp_path, tokenizer_dir, docs_n, shards, rg_rows, world, workers,
                                              seq_len, batch):
    rng = np.random.default_rng(docs_n * 31 + world)
    lengths = rng.integers(1, 4 * seq_len, docs_n)
    lengths[rng.integers(0, docs_n)] = 20 * seq_len  # one long document
    docs = write_corpus(tmp_path / "shards", lengths, shards, rg_rows)
    eos = Tokenizer(tokenizer_dir).eos_id
    logical = world * max(1, workers)
    need = batch * (seq_len + 1)
    total = sum(len(d) + 1 for d in docs)  # every document is followed by EOS
    per_epoch = total // (logical * need)  # batches per logical worker that one epoch fills
    loaders = [build_loader([tmp_path / "shards"], str(tokenizer_dir), seq_len, batch, rank, world, workers,
                            seed=11, column="tokens") for rank in range(world)]
    epochs = [[], []]
    for loader in loaders:
        for w in range(max(1, workers)):
            got = batches_of(loader, w, 2 * per_epoch)
            epochs[0] += got[:per_epoch]
            epochs[1] += got[per_epoch:]
    for batches in epochs:
        check_epoch(tokens_read(batches, eos), docs, logical, need)


def test_resume_in_mid_epoch_still_reads_every_document_once(tmp_path, tokenizer_dir):
    rng = np.random.default_rng(5)
    docs = write_corpus(tmp_path / "shards", rng.integers(1, 90, 200), 3, 17)
    eos = Tokenizer(tokenizer_dir).eos_id
    world, workers, seq_len, batch = 2, 2, 16, 2
    need = batch * (seq_len + 1)
    per_epoch = sum(len(d) + 1 for d in docs) // (world * workers * need)
    assert per_epoch > 4

    def make(rank):
        return build_loader([tmp_path / "shards"], str(tokenizer_dir), seq_len, batch, rank, world, workers,
                            seed=2, column="tokens")

    read = []
    for rank in range(world):
        loader = make(rank)
        # Loader workers serve round-robin: per_epoch batches from each of them is one epoch.
        stream = iter(loader)
        first = [whole_rows(next(stream)) for _ in range(workers * 3 + 1)]
        state = loader.state_dict()
        del stream
        resumed = make(rank)
        resumed.load_state_dict(state)
        rest = [whole_rows(b) for b in itertools.islice(resumed, workers * per_epoch - len(first))]
        read += first + rest
    check_epoch(tokens_read(read, eos), docs, world * workers, need)
