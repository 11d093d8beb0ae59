"""Hostile files at the parse stages cost bounded memory (peak RSS of the stage in a fresh Python,
under 500 MB) and become error-ledger entries: JATS files of 60 and 76 MB of empty elements, a
PubMed record holding 19 million of them, an OA package of ten 60 MiB article members."""
from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from conftest import FIXTURES
from curation.schema import DOCUMENT_SCHEMA, ERROR_SCHEMA
from curation.shards import list_shards, read_table
from peak_rss import run_measured
from sources.safe_xml import MAX_NODES

NXML = (FIXTURES / "pmc_jats" / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml").read_bytes()
PUBMED = (FIXTURES / "pubmed_xml" / "efetch_pubmed_11748933_11700088.xml").read_bytes()
EMPTY_ELEMENT = b"<a/>"  # 19 million of them (76 MB) parse into a 2.5 GB tree
LIMIT_MB = 500

RUN_STAGE = """
import json
from pathlib import Path
from pipelines.executor import Executor
from pipelines.stages import {stage}
with Executor(scheduler="sync") as executor:
    {stage}.run([Path({inputs!r})], Path({out!r}), executor, shard_bytes=1 << 20)
print(Path({out!r}, "stats.json").read_text())
"""


def run_stage(stage: str, inputs: Path, out: Path) -> tuple[dict, float]:
    stdout, peak_mb = run_measured(RUN_STAGE.format(stage=stage, inputs=str(inputs), out=str(out)))
    return json.loads(stdout), peak_mb


def outputs(out: Path):
    return read_table(list_shards(out), DOCUMENT_SCHEMA), read_table(list_shards(out / "errors"), ERROR_SCHEMA).to_pylist()


def with_empty_elements(document: bytes, before: bytes, count: int = 19_000_000) -> bytes:
    """`document` with `count` empty elements inserted before the last `before` tag."""
    at = document.rindex(before)
    return document[:at] + EMPTY_ELEMENT * count + document[at:]


@pytest.mark.parametrize("count, refusal", [
    (19_000_000, "decompressed size exceeds 67108864 bytes"),  # 76 MB: over pmc.parse.max_file_bytes
    (15_000_000, f"elements, attributes and references (cap {MAX_NODES})"),  # 60 MB: over max_xml_nodes
])
def test_a_jats_file_of_millions_of_empty_elements_is_refused_before_it_is_parsed(tmp_path, count, refusal):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "PMC3166277.nxml").write_bytes(NXML)
    hostile = inputs / "empty-elements.nxml"
    hostile.write_bytes(with_empty_elements(NXML, b"</body>", count))
    stats, peak_mb = run_stage("pmc_parse", inputs, tmp_path / "out")
    docs, errors = outputs(tmp_path / "out")
    assert docs["pmcid"].to_pylist() == ["PMC3166277"]
    assert [e["input"] for e in errors] == [str(hostile)]
    assert errors[0]["error"].endswith(refusal)
    assert (stats["inputs"], stats["inputs_parsed"], stats["input_errors"]) == (2, 1, 1)
    assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"


def test_a_pubmed_record_of_millions_of_empty_elements_is_refused_while_it_streams(tmp_path):
    """The file's first record is kept; the second, which the streaming parser must hold whole,
    is refused once the markup fed for it passes the cap, long before 76 MB of it are parsed."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    hostile = inputs / "pubmed-empty-elements.xml"
    hostile.write_bytes(with_empty_elements(PUBMED, b"</Article>"))
    stats, peak_mb = run_stage("pubmed_parse", inputs, tmp_path / "out")
    docs, errors = outputs(tmp_path / "out")
    assert docs["pmid"].to_pylist() == ["11748933"]
    assert [e["input"] for e in errors] == [str(hostile)]
    assert f"record of more than {MAX_NODES} elements, attributes and references" in errors[0]["error"]
    assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"


def write_package(path: Path, members: list[tuple[str, bytes]]) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=1) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_package_of_ten_60_mib_article_members_is_refused_one_member_at_a_time(tmp_path):
    """Read whole, the members took 600 MiB at once. Streamed, the first is read alone and refused
    for the nodes its ~600 articles would build (the package with it, none of its articles kept);
    a genuine package with two articles next to it gives both. (The cap on a package's article
    XML in all, which a member's header can take past pmc.parse.max_file_bytes, is in
    tests/sources/test_pmc_packages.py.)"""
    inputs = tmp_path / "in"
    inputs.mkdir()
    article = NXML[NXML.index(b"<article "):]
    copies = (60 << 20) // len(article)
    big = b"<pmc-articleset>" + article * copies + b"</pmc-articleset>"  # an efetch batch of one article
    big += b" " * ((60 << 20) - len(big))
    blank = b" " * (60 << 20)  # the other nine: quick to gzip
    hostile = inputs / "PMC1-huge-members.tar.gz"
    write_package(hostile, [("PMC1/s0.nxml", big)] + [(f"PMC1/s{i}.nxml", blank) for i in range(1, 10)])
    del big, blank
    second = (FIXTURES / "pmc_jats" / "PMC2329613_bmc-oral-health_1472-6831-8-11.nxml").read_bytes()
    write_package(inputs / "PMC2.tar.gz", [("PMC2/a.nxml", NXML), ("PMC2/f1.jpg", b"\xff\xd8" * 500), ("PMC2/b.nxml", second)])
    stats, peak_mb = run_stage("pmc_parse", inputs, tmp_path / "out")
    docs, errors = outputs(tmp_path / "out")
    assert sorted(docs["pmcid"].to_pylist()) == ["PMC2329613", "PMC3166277"]
    assert [e["input"] for e in errors] == [str(hostile)]
    assert errors[0]["error"].startswith(f"HostileInputError: {hostile}:PMC1/s0.nxml: document of ")
    assert errors[0]["error"].endswith(f"(cap {MAX_NODES})")
    assert (stats["inputs"], stats["input_errors"], stats["documents_out"]) == (2, 1, 2)
    assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"
