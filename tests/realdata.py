"""Real documents for curation tests, built from ../shared/corpora (never copied into the repo)."""
from __future__ import annotations

import csv
import random
from pathlib import Path

import pyarrow as pa

from conftest import CORPORA, FIXTURES
from curation.dedup.keys import normalize_for_hash
from curation.schema import DOCUMENT_SCHEMA, make_document
from curation.shards import write_table_atomic

ASREVIEW = CORPORA / "pubmed_abstracts"
COHEN = ASREVIEW / "asreview_cohen2006"
QA = CORPORA / "medical_qa" / "medagentsbench"


def cohen_files() -> list[Path]:
    return sorted(p for p in COHEN.glob("*.csv") if p.name != "asreview_index.csv")


def pubmed_doc(pmid: str, title: str, abstract: str, year: str = "", source_file: str = "", row: int = 0) -> dict:
    text = f"{title}\n{abstract}" if abstract else title
    return make_document(
        id=f"pubmed:{pmid}", source="pubmed", subset="abstracts", title=title, text=text,
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/", pmid=pmid, date=(year or "").split(".")[0] or None,
        meta={"languages": ["eng"]}, provenance=f"{source_file}#{row}",
    )


def cohen_docs(with_abstract_only: bool = False) -> list[dict]:
    """Every Cohen row as a PubMed document (a PMID in several files gives several rows)."""
    docs = []
    for path in cohen_files():
        with open(path, encoding="utf-8", newline="") as handle:
            for i, row in enumerate(csv.DictReader(handle)):
                if with_abstract_only and not row["abstract"].strip():
                    continue
                if not row["pubmedID"].strip() or not (row["title"].strip() or row["abstract"].strip()):
                    continue
                docs.append(pubmed_doc(row["pubmedID"].strip(), row["title"].strip(), row["abstract"].strip(), row["year"], path.name, i))
    return docs


def distinct_abstracts() -> list[dict]:
    """Real abstracts with distinct normalised text: Cohen, then the other asreview sets."""
    docs = cohen_docs(with_abstract_only=True)
    for path in sorted((ASREVIEW / "asreview_other").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            for i, row in enumerate(csv.DictReader(handle)):
                if (row.get("abstract") or "").strip():
                    ident = f"{path.stem}-{row['record_id']}"
                    doc = pubmed_doc(ident, (row.get("title") or "").strip(), row["abstract"].strip(), "", path.name, i)
                    doc.update(id=f"asreview:{ident}", pmid=None)
                    docs.append(doc)
    seen, out = set(), []
    for doc in docs:
        key = normalize_for_hash(doc["text"])
        if key not in seen and doc["id"] not in {d["id"] for d in out[-1:]}:
            seen.add(key)
            out.append(doc)
    ids = set()
    unique = []
    for doc in out:
        if doc["id"] not in ids:
            ids.add(doc["id"])
            unique.append(doc)
    return unique


def variant(text: str, rng: random.Random) -> str:
    """A planted near copy: formatting changed (whitespace and line breaks, one sentence per line,
    or case), and 1-2% of the words edited (replaced, deleted or duplicated)."""
    kind = rng.choice(["whitespace", "sentences", "case"])
    if kind == "whitespace":
        text = "  ".join(text.split(" ")).replace("\n", "\n\n ")
    elif kind == "sentences":
        text = text.replace(". ", ".\n")
    else:
        text = text.upper() if rng.random() < 0.5 else text.lower()
    words = text.split(" ")
    edits = max(1, round(len(words) * rng.uniform(0.01, 0.02)))
    for _ in range(edits):
        i = rng.randrange(len(words))
        action = rng.choice(["replace", "delete", "duplicate"])
        if action == "replace":
            words[i] = rng.choice(["significantly", "patients", "however", "treatment", "outcome", "was"])
        elif action == "delete" and len(words) > 5:
            del words[i]
        else:
            words.insert(i, words[i])
    return " ".join(words)


def write_shards(docs: list[dict], folder: Path, per_shard: int) -> Path:
    for n, start in enumerate(range(0, len(docs), per_shard)):
        table = pa.Table.from_pylist(docs[start : start + per_shard], schema=DOCUMENT_SCHEMA)
        write_table_atomic(table, folder / f"part-{n:05d}-0000.parquet")
    return folder


def parsed_abstracts_and_articles(out: Path) -> tuple[dict, dict]:
    """Two real PubMed records (by PMID) and two real PMC articles (by PMCID), parsed from the
    fixtures by the parse stages into `out`. No PubMed fixture's PMID has its full text among the
    JATS fixtures: the has_full_text tests align their ids."""
    from curation.shards import list_shards, read_table
    from pipelines.executor import Executor
    from pipelines.stages import pmc_parse, pubmed_parse

    jats = FIXTURES / "pmc_jats"
    with Executor(scheduler="sync") as executor:
        pubmed_parse.run([FIXTURES / "pubmed_xml" / "efetch_pubmed_27797938_structured_abstract_inline_tags.xml",
                          FIXTURES / "pubmed_xml" / "efetch_pubmed_35123456_structured_nlmcategory.xml"],
                         out / "pubmed", executor, 1 << 20)
        pmc_parse.run([jats / "PMC1790863_plos-one_pone.0000217.nxml", jats / "PMC2329613_bmc-oral-health_1472-6831-8-11.nxml"],
                      out / "pmc", executor, 1 << 20)
    abstracts = read_table(list_shards(out / "pubmed"), DOCUMENT_SCHEMA).to_pylist()
    articles = read_table(list_shards(out / "pmc"), DOCUMENT_SCHEMA).to_pylist()
    return {d["pmid"]: d for d in abstracts}, {d["pmcid"]: d for d in articles}
