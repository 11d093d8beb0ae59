"""Speed and field coverage: our PubMed parser against pubmed_parser.parse_medline_xml.

Builds one gzip file of >= 30,000 PubmedArticle records by replicating the real records of
../shared/corpora/pubmed_xml with new, unique PMIDs (in a temporary folder, never committed),
then, in one process, times both parsers on that same file in CPU seconds (time.process_time),
alternating them over a few rounds and keeping each one's best. Results go to
benchmarks/results/pubmed_parse.json.

    .venv/bin/python benchmarks/bench_pubmed_parse.py [--records 30000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import copy
import gzip
import json
import platform
import tempfile
import time
from pathlib import Path

import lxml
import pubmed_parser
from lxml import etree

from sources.pubmed.parse import Record, RecordError, iter_file
from sources.safe_io import open_input
from sources.safe_xml import iterparse_safe

REPO = Path(__file__).resolve().parents[1]

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


def cpu_time(fn, path: Path) -> tuple[float, int]:
    """CPU seconds to consume every item, keeping none: a stage streams records to shards, and
    holding 30,000 of them would time Python's garbage collector rather than the parser."""
    start = time.process_time()
    count = 0
    for _ in fn(path):
        count += 1
    return time.process_time() - start, count


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
        best = {"pubmed_parser": float("inf"), "medcurate": float("inf")}
        counts = {}
        rounds: dict[str, list[float]] = {name: [] for name in best}
        for _ in range(args.rounds):
            for name, fn in (("pubmed_parser", run_pubmed_parser), ("medcurate", run_ours)):
                seconds, counts[name] = cpu_time(fn, path)
                best[name] = min(best[name], seconds)
                rounds[name].append(round(seconds, 3))
        # Untimed: the outputs themselves, for the counts and the field coverage.
        theirs = list(run_pubmed_parser(path))
        ours = list(run_ours(path))
        size = path.stat().st_size

    n_ours = sum(isinstance(item, (Record, RecordError)) for item in ours)
    if len(theirs) != n or n_ours != n or counts != {"pubmed_parser": n, "medcurate": n}:
        raise SystemExit(f"record counts differ: built {n}, pubmed_parser {len(theirs)}, ours {n_ours}")
    rate = {name: n / seconds for name, seconds in best.items()}
    fields = coverage(ours, theirs)
    missing = [k for k, v in fields.items() if v["ours_filled_too"] < v["pubmed_parser_filled"]]
    result = {
        "records": n,
        "file_bytes_gz": size,
        "rounds": args.rounds,
        "cpu_seconds_best": {k: round(v, 3) for k, v in best.items()},
        "cpu_seconds_every_round": rounds,
        "ratio_per_round": [round(a / b, 2) for a, b in zip(rounds["pubmed_parser"], rounds["medcurate"])],
        "records_per_cpu_second": {k: round(v, 1) for k, v in rate.items()},
        "ratio_medcurate_over_pubmed_parser": round(rate["medcurate"] / rate["pubmed_parser"], 2),
        "goal_ratio": 3.0,
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
    print(json.dumps({k: result[k] for k in ("records", "cpu_seconds_best", "records_per_cpu_second", "ratio_per_round",
                                             "ratio_medcurate_over_pubmed_parser",
                                             "pubmed_parser_fields_we_fill", "fields_short_of_pubmed_parser",
                                             "pubmed_parser_fields_not_carried")}, indent=2))


if __name__ == "__main__":
    main()
