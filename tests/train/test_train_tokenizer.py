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


# --- MEDITRON's markers: what the PMC renderer writes is one token each, here and in the export ---

import re  # noqa: E402

from curation.markers import MARKERS, MEDITRON_ADDED_TOKENS  # noqa: E402
from curation.tokenizer import adopt_tokenizer  # noqa: E402
from train_helpers import REPO  # noqa: E402

JATS = REPO.parent / "shared" / "fixtures" / "pmc_jats"
BRACKETED = re.compile(r"\[/?[a-z_]+\]")


def rendered_pmc_texts():
    """Every real JATS fixture rendered with every marker the renderer has switched on."""
    from sources.pmc.jats import JatsOptions, parse_bytes

    options = JatsOptions(citations="meditron", figure_refs="meditron", captions="tagged", formulas="tagged",
                          tables="linearize")
    texts = []
    for path in sorted(JATS.iterdir()):
        texts += [item.doc["text"] for item in parse_bytes(path.read_bytes(), str(path), options) if hasattr(item, "doc")]
    return texts


@pytest.fixture(scope="module")
def pmc_texts():
    if not JATS.is_dir():
        pytest.skip(f"no JATS fixtures at {JATS}")
    return rendered_pmc_texts()


@pytest.fixture(scope="module")
def marker_tokenizer(mix_dir, pmc_texts, tmp_path_factory):
    """A model trained the way params.yaml asks for (special_tokens: [markers])."""
    out = tmp_path_factory.mktemp("markers")
    train_tokenizer([mix_dir / "train"], out, TokenizerParams(vocab_size=600, special_tokens=["markers"],
                                                              max_documents=600))
    return Tokenizer(out)


def test_every_marker_the_renderer_writes_is_in_the_shared_list(pmc_texts):
    emitted = {m for text in pmc_texts for m in BRACKETED.findall(text)}
    assert emitted <= set(MARKERS), emitted - set(MARKERS)
    # The renderer's five kinds all occur in the fixtures (MEDITRON's [bib] is the one it never writes).
    assert {"[bib_ref]", "[/bib_ref]", "[fig_ref]", "[/fig_ref]", "[fig]", "[/fig]", "[table]", "[/table]",
            "[formula]", "[/formula]"} <= emitted


def test_each_marker_encodes_to_one_id_in_rendered_pmc_text(marker_tokenizer, pmc_texts):
    tok = marker_tokenizer
    ids = {m: tok.piece_to_id(m) for m in MARKERS}
    assert sorted(ids.values()) == list(range(3, 3 + len(MARKERS)))  # user-defined, right after unk/bos/eos
    for marker, i in ids.items():
        assert tok.encode([marker])[0][-1:] == [i] and tok.decode([i]) == marker
    for text in pmc_texts:
        encoded = tok.encode([text])[0]
        for marker, i in ids.items():
            assert encoded.count(i) == text.count(marker), marker


def test_extending_a_given_model_gives_meditrons_layout(mix_dir, tmp_path):
    """Llama-2 + [meditron] is MEDITRON's 32,017: the base ids stay, the 17 follow in Megatron's order."""
    base = tmp_path / "base"
    train_tokenizer([mix_dir / "train"], base, TokenizerParams(vocab_size=400, max_documents=600))
    extended = Tokenizer(adopt_tokenizer(base / "tokenizer.model", tmp_path / "ext", ["meditron"]))
    assert extended.vocab_size == 400 + 17
    assert [extended.piece_to_id(t) for t in MEDITRON_ADDED_TOKENS] == list(range(400, 417))
    assert [extended.piece_to_id(m) for m in MARKERS] == list(range(405, 417))
    text = "see [fig_ref] Figure 2: dose [/fig_ref] and [bib_ref] Trial, Smith [/bib_ref]"
    assert Tokenizer(base).encode(["a dose"]) == extended.encode(["a dose"])  # old pieces keep their ids
    encoded = extended.encode([text])[0]
    assert all(encoded.count(extended.piece_to_id(m)) == 1 for m in ("[fig_ref]", "[/fig_ref]", "[bib_ref]", "[/bib_ref]"))


def test_the_hugging_face_export_tokenizes_as_we_do(marker_tokenizer, pmc_texts, tmp_path):
    from transformers import AutoTokenizer

    from train.hf_io import save_tokenizer

    tok = marker_tokenizer
    save_tokenizer(tmp_path / "hf", tok)
    hf = AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert len(hf) == tok.vocab_size
    for marker in MARKERS:
        assert hf.encode(marker, add_special_tokens=False)[-1:] == [tok.piece_to_id(marker)]
        assert hf.convert_tokens_to_ids(marker) == tok.piece_to_id(marker)
    for text in pmc_texts:
        assert hf.encode(text, add_special_tokens=False) == tok.encode([text])[0]
    assert hf.bos_token_id == tok.bos_id and hf.eos_token_id == tok.eos_id
