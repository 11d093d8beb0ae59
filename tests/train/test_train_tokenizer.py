from curation.tokenizer import MEDITRON_SPECIAL_TOKENS, Tokenizer, TokenizerParams, sample_documents, train_tokenizer
from curation.shards import list_shards

import pytest


def test_training_is_deterministic_and_keeps_special_tokens(mix_dir, tokenizer_dir, tmp_path):
    again = tmp_path / "again"
    params = TokenizerParams(vocab_size=512, special_tokens=MEDITRON_SPECIAL_TOKENS, max_documents=600)
    train_tokenizer([mix_dir / "train"], again, params)
    assert (again / "tokenizer.model").read_bytes() == (tokenizer_dir / "tokenizer.model").read_bytes()

    tok = Tokenizer(tokenizer_dir)
    assert tok.vocab_size == 512 and tok.eos_id == 2 and tok.bos_id == 1
    ids = [tok.piece_to_id(s) for s in MEDITRON_SPECIAL_TOKENS]
    assert ids == list(range(3, 3 + len(MEDITRON_SPECIAL_TOKENS)))  # right after unk, bos, eos
    encoded = tok.encode(["as shown [fig_ref] Figure 2 [/fig_ref] before"])[0]
    assert ids[2] in encoded and ids[3] in encoded  # each marker is one piece
    assert tok.decode(encoded) == "as shown [fig_ref] Figure 2 [/fig_ref] before"


def test_count_tokens_matches_encode(tokenizer_dir):
    tok = Tokenizer(tokenizer_dir)
    texts = ["Aspirin reduces fever.", "Beta blockers lower blood pressure in hypertension."] * 3
    assert tok.count_tokens(texts, batch=4) == sum(len(x) for x in tok.encode(texts))


def test_sampling_is_an_even_stride_over_all_shards(mix_dir):
    shards = list_shards(mix_dir / "train")
    sample = sample_documents(shards, 100)
    assert len(sample) == 100
    assert sample == sample_documents(shards, 100)
    # Documents from the last shard are included (stride across shards, not the first N).
    last = set(__import__("pyarrow.parquet", fromlist=["x"]).read_table(shards[-1], columns=["text"]).column("text").to_pylist())
    assert any(t in last for t in sample)


def test_missing_text_column_is_a_clear_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), tmp_path / "part-00000-0000.parquet")
    with pytest.raises(ValueError, match="no 'text' column"):
        train_tokenizer([tmp_path], tmp_path / "out", TokenizerParams(vocab_size=64))
