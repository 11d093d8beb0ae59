"""Speed and field coverage: `medcurate pubmed parse` against pubmed_parser.parse_medline_xml.

Builds one gzip file of >= 30,000 PubmedArticle records by replicating the real records of
../shared/corpora/pubmed_xml with new, unique PMIDs (in a temporary folder, never committed),
then times, on that same file, in alternating rounds (benchmarks/command_level.py):
- the command as README runs it, `medcurate pubmed parse FILE --out DIR` (CPU of every process it
  starts, cgroup meter): interpreter, imports, the record scan, the parse, the Parquet shards;
- our library alone in this process, `iter_file(path)` (process CPU);
- pubmed_parser's `parse_medline_xml(path)` in this process (process CPU);
- the floor of any parser built on lxml's tree: gunzip (ISA-L, as ours) and lxml building each
  record's tree, freed record by record, reading nothing (process CPU).
Results go to benchmarks/results/pubmed_parse.json.

    .venv/bin/python benchmarks/bench_pubmed_parse.py [--records 30000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import copy
import gzip
import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import lxml
import pubmed_parser
from lxml import etree

from sources.pubmed.parse import Record, RecordError, iter_file
from sources.safe_io import open_input
from sources.safe_xml import iterparse_safe

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.command_level import METHODS, alternate, command_cpu, process_cpu, ratios  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpora" / "pubmed_xml"
RESULTS = REPO / "benchmarks" / "results" / "pubmed_parse.json"
HEADER = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2019//EN" '
    b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd">\n<PubmedArticleSet>\n'
)
FIRST_PMID = 90_000_000  # above any real PMID, so replicated records never collide with real ones

# pubmed_parser's output key -> where the same information is in our document.
COVERAGE = {
    "pmid": "pmid",
    "title": "title",
    "abstract": "text",
    "journal": "meta.journal",
    "medline_ta": "meta.medline_ta",
    "doi": "doi",
    "pmc": "pmcid",
    "pubdate": "date",
    "mesh_terms": "meta.mesh",
    "publication_types": "meta.publication_types",
    "keywords": "meta.keywords",
    "chemical_list": "meta.chemicals",
    "languages": "meta.languages",
    "vernacular_title": "meta.vernacular_title",
    "authors": "meta.authors",
    "affiliations": "meta.affiliations",
    "issue": "meta.volume",  # pubmed_parser: "volume(issue)"; ours: meta.volume and meta.issue
    "pages": "meta.pages",
    "country": "meta.country",
    "nlm_unique_id": "meta.nlm_unique_id",
    "issn_linking": "meta.issn_linking",
    "grant_ids": "meta.grants",
    "other_id": "meta.other_ids",
    "references": "meta.cited_pmids",
}
# What of pubmed_parser's output we do not carry, on purpose, and why.
NOT_CARRIED = {
    "delete": "not a record field: a DeleteCitation is its own item (Deletion), applied by the stage",
    "authors (initials)": "derivable from the fore name; names are 'LastName, ForeName', identifiers in meta.author_ids",
}


def real_records() -> list[etree._Element]:
    """Every PubmedArticle of the corpus, parsed through our hardened layer."""
    records = []
    for path in sorted(CORPUS.rglob("*.xml*")):
        with open_input(path) as stream:
            records.extend(copy.deepcopy(el) for el in iterparse_safe(stream, "PubmedArticle"))
    return records


def build_file(target: Path, n_records: int) -> int:
    """Write >= n_records replicated records with unique PMIDs; returns the count written."""
    originals = real_records()
    written = 0
    with gzip.open(target, "wb", compresslevel=6) as out:
        out.write(HEADER)
        while written < n_records:
            for original in originals:
                record = copy.deepcopy(original)
                pmid = str(FIRST_PMID + written)
                record.find("MedlineCitation/PMID").text = pmid
                for aid in record.iterfind("PubmedData/ArticleIdList/ArticleId"):
                    if aid.get("IdType") == "pubmed":
                        aid.text = pmid
                out.write(etree.tostring(record, encoding="utf-8") + b"\n")
                written += 1
        out.write(b"</PubmedArticleSet>\n")
    return written


def run_pubmed_parser(path: Path):
    return pubmed_parser.parse_medline_xml(str(path))


def run_ours(path: Path):
    return iter_file(path)


def tree_floor(path: Path) -> int:
    """Gunzip and build every record's tree, reading nothing from it: what any lxml parser pays."""
    count = 0
    with open_input(path) as stream:
        for _event, element in etree.iterparse(stream, events=("end",), tag="PubmedArticle", resolve_entities=False, no_network=True):
            count += 1
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    return count


def consume(fn, path: Path) -> int:
    """Consume every item, keeping none: a stage streams records to shards, and holding 30,000 of
    them would time Python's garbage collector rather than the parser."""
    return sum(1 for _ in fn(path))


def command(path: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    return command_cpu(["pubmed", "parse", str(path), "--out", str(out)])


def coverage(ours: list, theirs: list[dict]) -> dict:
    """Per pubmed_parser field: how many records it fills, and how many of those we fill too."""
    docs = {item.pmid: item.doc for item in ours if isinstance(item, Record)}
    report = {}
    for key, where in COVERAGE.items():
        filled = both = 0
        for row in theirs:
            value = row.get(key)
            if not value:
                continue
            filled += 1
            doc = docs.get(str(row["pmid"]))
            if doc is not None and _ours(doc, where):
                both += 1
        report[key] = {"ours": where, "pubmed_parser_filled": filled, "ours_filled_too": both}
    return report


def _ours(doc: dict, where: str):
    if where.startswith("meta."):
        return json.loads(doc["meta"]).get(where[5:])
    return doc.get(where)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replicated.xml.gz"
        n = build_file(path, args.records)
        seconds = alternate({
            "pubmed_parser": lambda: process_cpu(lambda: consume(run_pubmed_parser, path)),
            "medcurate_library": lambda: process_cpu(lambda: consume(run_ours, path)),
            "medcurate_command": lambda: command(path, Path(tmp) / "out"),
            "lxml_tree_floor": lambda: process_cpu(lambda: tree_floor(path)),
        }, args.rounds)
        stats = json.loads((Path(tmp) / "out" / "stats.json").read_text())
        # Untimed: the outputs themselves, for the counts and the field coverage.
        theirs = list(run_pubmed_parser(path))
        ours = list(run_ours(path))
        size = path.stat().st_size

    n_ours = sum(isinstance(item, (Record, RecordError)) for item in ours)
    if len(theirs) != n or n_ours != n or stats["documents_in"] != n:
        raise SystemExit(f"record counts differ: built {n}, pubmed_parser {len(theirs)}, ours {n_ours}, command {stats['documents_in']}")
    measured = ratios(seconds, "pubmed_parser", n)
    fields = coverage(ours, theirs)
    missing = [k for k, v in fields.items() if v["ours_filled_too"] < v["pubmed_parser_filled"]]
    result = {
        "records": n,
        "file_bytes_gz": size,
        "rounds": args.rounds,
        "measured": measured,
        "command_ratio_vs_pubmed_parser": measured["medcurate_command"]["vs_pubmed_parser"],
        "command_ratio_per_round": measured["medcurate_command"]["vs_pubmed_parser_per_round"],
        "library_ratio_vs_pubmed_parser": measured["medcurate_library"]["vs_pubmed_parser"],
        # The most any lxml-tree parser could reach: pubmed_parser's CPU over gunzip + tree alone.
        "ceiling_ratio_lxml_tree": measured["lxml_tree_floor"]["vs_pubmed_parser"],
        "goal_ratio": 3.0,
        "command_cpu_measured_by": sorted(METHODS),
        "record_errors": sum(isinstance(item, RecordError) for item in ours),
        "field_coverage": fields,
        "pubmed_parser_fields_we_fill": [k for k in fields if k not in missing],
        "fields_short_of_pubmed_parser": missing,
        "pubmed_parser_fields_not_carried": NOT_CARRIED,
        "field_map": COVERAGE,
        "versions": {"python": platform.python_version(), "lxml": lxml.__version__,
                     "pubmed_parser": getattr(pubmed_parser, "__version__", "unknown")},
        "machine": {"processor": platform.processor() or platform.machine(), "system": platform.platform()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("records", "measured", "command_ratio_vs_pubmed_parser", "command_ratio_per_round",
                                             "library_ratio_vs_pubmed_parser", "ceiling_ratio_lxml_tree", "command_cpu_measured_by",
                                             "pubmed_parser_fields_we_fill", "fields_short_of_pubmed_parser",
                                             "pubmed_parser_fields_not_carried")}, indent=2))


if __name__ == "__main__":
    main()
