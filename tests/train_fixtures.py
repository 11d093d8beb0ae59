"""Fixtures for the training tests: real shards built from ../shared PubMed abstracts (registered
by tests/conftest.py; one conftest module only, so `from conftest import ...` always finds the top one)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pytest

from curation.schema import DOCUMENT_SCHEMA, make_document
from curation.shards import write_table_atomic

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "pubmed_abstracts" / "asreview_cohen2006"


def read_abstracts(limit: int) -> list[dict]:
    """Real MEDLINE titles + abstracts as schema documents (title first, as the corpus does)."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    docs, seen = [], set()
    for path in sorted(CORPUS.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                pmid, abstract = row["pubmedID"].strip(), (row["abstract"] or "").strip()
                if not abstract or not pmid or pmid in seen:
                    continue
                seen.add(pmid)
                docs.append(
                    make_document(
                        id=f"pubmed:{pmid}", source="pubmed", subset="abstracts", title=row["title"],
                        text=f"{row['title']}\n{abstract}", url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
                        pmid=pmid, meta={}, provenance=json.dumps({"file": path.name}),
                    )
                )
                if len(docs) == limit:
                    return docs
    return docs


def write_shards(folder: Path, docs: list[dict], n_shards: int, row_group_rows: int) -> list[Path]:
    paths = []
    per = -(-len(docs) // n_shards)
    for i in range(n_shards):
        part = docs[i * per : (i + 1) * per]
        path = folder / f"part-{i:05d}-0000.parquet"
        write_table_atomic(pa.Table.from_pylist(part, schema=DOCUMENT_SCHEMA), path, row_group_rows)
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def mix_dir(tmp_path_factory) -> Path:
    """A mix-stage-like folder: train/ (3 shards, row groups of 40) and validation/ (1 shard)."""
    root = tmp_path_factory.mktemp("mix")
    docs = read_abstracts(1100)
    write_shards(root / "train", docs[:1000], n_shards=3, row_group_rows=40)
    write_shards(root / "validation", docs[1000:], n_shards=1, row_group_rows=25)
    return root


@pytest.fixture(scope="session")
def tokenizer_dir(mix_dir, tmp_path_factory) -> Path:
    from curation.tokenizer import MEDITRON_SPECIAL_TOKENS, TokenizerParams, train_tokenizer

    out = tmp_path_factory.mktemp("tokenizer")
    params = TokenizerParams(vocab_size=512, special_tokens=MEDITRON_SPECIAL_TOKENS, max_documents=600)
    train_tokenizer([mix_dir / "train"], out, params)
    return out


@pytest.fixture(scope="session")
def one_group_dir(tmp_path_factory) -> Path:
    """One shard written as a single row group (a small mix): fewer row groups than ranks."""
    root = tmp_path_factory.mktemp("one_group")
    write_shards(root, read_abstracts(1100)[:150], n_shards=1, row_group_rows=1000)
    return root
