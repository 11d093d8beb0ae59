"""filter -> dedup on real parsed PubMed documents (mix and card: test_mix_and_card.py)."""
import json
from pathlib import Path

import pyarrow as pa
import pytest

from conftest import CORPORA, FIXTURES
from realdata import parsed_abstracts_and_articles
from curation.schema import DOCUMENT_SCHEMA, LEDGER_SCHEMA
from curation.shards import list_shards, read_table, write_table_atomic
from pipelines.executor import Executor
from pipelines.stages import dedup, filter as filter_stage, pubmed_parse


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parsed")
    with Executor(scheduler="sync") as executor:
        pubmed_parse.run([FIXTURES / "pubmed_xml", CORPORA / "pubmed_xml"], out, executor, shard_bytes=1 << 20)
    return out


def docs_of(folder: Path) -> pa.Table:
    return read_table(list_shards(folder), DOCUMENT_SCHEMA)


def test_filter_ledgers_short_and_non_english_documents(parsed, tmp_path):
    rows = docs_of(parsed).to_pylist()[:20]
    rows[0]["text"] = "Too short."
    german = (CORPORA / "multilingual" / "lingua_sentences" / "de.txt").read_text(errors="replace").splitlines()
    rows[1]["text"] = " ".join(german[:12])
    write_table_atomic(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), tmp_path / "in" / "part-00000-0000.parquet")
    with Executor(scheduler="sync") as executor:
        # Length and language only: the quality rule sets have their own tests (tests/curation).
        settings = filter_stage.FilterSettings({"steps": ["min_length", "language"]})
        filter_stage.run([tmp_path / "in"], tmp_path / "out", settings, executor, 1 << 20)
    ledger = read_table(list_shards(tmp_path / "out" / "ledger"), LEDGER_SCHEMA).to_pylist()
    assert {(r["id"], r["reason"]) for r in ledger} == {(rows[0]["id"], "too_short_chars"), (rows[1]["id"], "lang_not_en:de")}
    kept = docs_of(tmp_path / "out")
    assert kept.num_rows == 18 and set(kept["lang"].to_pylist()) == {"en"}


def test_dedup_exact_text_and_pmid_across_sources_keeps_the_best_copy(parsed, tmp_path):
    real = docs_of(parsed).to_pylist()
    a, b, c = real[0], real[1], real[2]
    copy_text = dict(b, id="replay/test:1", source="replay/test", subset="replay", pmid=None, text=b["text"].upper() + "  ")
    paper = dict(c, id="pmc:PMC0000001", source="pmc", subset="papers", pmcid="PMC0000001", text="Full text of the paper. " + c["text"])
    other = dict(a, id="replay/test:2", source="replay/test", subset="replay", pmid=None)
    write_table_atomic(pa.Table.from_pylist([copy_text, paper, other], schema=DOCUMENT_SCHEMA), tmp_path / "extra" / "b.parquet")
    inputs = [parsed, tmp_path / "extra" / "b.parquet"]
    with Executor(scheduler="sync") as executor:
        dedup.run(inputs, tmp_path / "out", executor, 1 << 20)
    ledger = {r["id"]: r["reason"] for r in read_table(list_shards(tmp_path / "out" / "ledger"), LEDGER_SCHEMA).to_pylist()}
    assert ledger == {
        "replay/test:1": f"exact_duplicate_of:{b['id']}",  # abstract beats replay; case/space-insensitive
        "replay/test:2": f"exact_duplicate_of:{a['id']}",
        c["id"]: "has_full_text:PMC0000001",  # the abstract of a PMID whose full text is in the corpus
        # Real duplicates in the fixtures: two versions of one Cochrane review share a DOI (the
        # newer survives), and an erratum reprints its article's abstract (a near duplicate).
        "pubmed:11034741": "doi_duplicate_of:pubmed:11406024",
        "pubmed:11524736": "near_duplicate_of:pubmed:11748851",
    }
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["documents_in"] == stats["documents_out"] + 5


def test_pubmed_abstract_with_pmc_full_text_goes_to_the_ledger_as_has_full_text(tmp_path):
    """issue 3: a PubMed abstract whose PMID (or PMCID) has a full text in the corpus is ledgered
    `has_full_text:<pmcid>`; an article read twice (same id) survives once (`duplicate_id:`).
    Real records: no PubMed fixture's PMID has its full text among the JATS fixtures, so the test
    aligns the ids of parsed documents (a PMC article without PMID, a PubMed record without PMCID)."""
    abstracts, papers = parsed_abstracts_and_articles(tmp_path)
    assert {"27797938", "35123456"} <= set(abstracts) and {"PMC1790863", "PMC2329613"} <= set(papers)
    by_pmid, by_pmcid = abstracts["27797938"], abstracts["35123456"]
    paper_a, paper_b = papers["PMC1790863"], papers["PMC2329613"]
    # PMID match: the abstract's PMID is the article's; the PubMed record carries no PMCID.
    paper_a["pmid"], by_pmid["pmcid"] = by_pmid["pmid"], None
    # PMCID match: the article has no PMID (some PMC articles lack one); the record names its PMCID.
    paper_b["pmid"], by_pmcid["pmcid"] = None, paper_b["pmcid"]
    tables = {
        "pubmed.parquet": [by_pmid, by_pmcid],
        "pmc.parquet": [paper_a, paper_b],
        "pmc_package.parquet": [dict(paper_a, provenance=paper_a["provenance"] + "#package")],  # the same article again
    }
    for name, rows in tables.items():
        write_table_atomic(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), tmp_path / "in" / name)
    with Executor(scheduler="sync") as executor:
        stats = dedup.run([tmp_path / "in"], tmp_path / "out", executor, 1 << 20)
    ledger = {(r["id"], r["provenance"]): (r["reason"], r["detail"])
              for r in read_table(list_shards(tmp_path / "out" / "ledger"), LEDGER_SCHEMA).to_pylist()}
    assert ledger == {
        (by_pmid["id"], by_pmid["provenance"]): ("has_full_text:PMC1790863", "PMID match"),
        (by_pmcid["id"], by_pmcid["provenance"]): ("has_full_text:PMC2329613", "PMCID match"),
        (paper_a["id"], paper_a["provenance"] + "#package"): (f"duplicate_id:{paper_a['id']}", "same document id"),
    }
    kept = docs_of(tmp_path / "out").to_pylist()
    assert sorted(d["id"] for d in kept) == sorted([paper_a["id"], paper_b["id"]])
    assert stats["documents_in"] == 5 == stats["documents_out"] + stats["ledgered"]
    assert stats["reasons"] == {"duplicate_id": 1, "has_full_text": 2}
