"""The byte scan that counts PubMed records for `pubmed parse`, against an XML parse of real files."""
import gzip
import hashlib
import random

import pytest
from lxml import etree

from conftest import CORPORA, FIXTURES
from sources.pubmed.record_scan import _Scanner, scan_bytes, scan_records

ALL_FILES = sorted(p for folder in (FIXTURES / "pubmed_xml", CORPORA / "pubmed_xml")
                   for p in folder.rglob("*") if p.name.endswith((".xml", ".xml.gz")))


def xml_bytes(path):
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def parsed_events(data: bytes):
    """The same events read by a plain lxml parse (not the scan, not our parser)."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True))
    events = []
    for element in root.iter("PubmedArticle", "PubmedBookArticle", "DeleteCitation"):
        if element.tag == "DeleteCitation":
            events += [("delete", p.text.strip(), 0) for p in element.iterfind("PMID")]
            continue
        pmid = element.find("MedlineCitation/PMID" if element.tag == "PubmedArticle" else "BookDocument/PMID")
        version = int(pmid.get("Version", "1")) if pmid is not None else 0
        events.append(("record", pmid.text.strip(), version) if pmid is not None else ("record", None, 0))
    return events


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_scan_reads_what_an_xml_parse_reads_on_every_real_file(path):
    expected = parsed_events(xml_bytes(path))
    assert expected and scan_records(path).events == expected


@pytest.mark.parametrize("block", [3, 19, 4096])
def test_tags_cut_by_the_end_of_a_block_are_completed(block):
    """Every real file fed in small blocks, then in random cuts: the same events as in one block."""
    rng = random.Random(block)
    for path in ALL_FILES:
        data = xml_bytes(path)
        whole = scan_bytes(data)
        blocks = [data[i:i + block] for i in range(0, len(data), block)]
        assert list(_Scanner().events(iter(blocks))) == whole, path.name
        cuts = sorted(rng.sample(range(1, len(data)), 40))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        assert list(_Scanner().events(iter(pieces))) == whole, path.name


def test_tags_inside_comments_cdata_and_instructions_are_not_records_and_names_must_end():
    hidden = (b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD x//EN" "x.dtd">\n'
              b"<PubmedArticleSet><!-- <PubmedArticle><MedlineCitation><PMID>1</PMID> -->"
              b"<PubmedArticle><MedlineCitation Status='MEDLINE'>\n  <PMID Version='2'> 7 </PMID>"
              b"<Article><Abstract><AbstractText><![CDATA[ <PubmedArticle> <DeleteCitation> ]]></AbstractText>"
              b"</Abstract></Article></MedlineCitation></PubmedArticle>"
              b"<?pi <PubmedBookArticle> ?><PubmedArticleX/><PubmedBookArticle><BookDocument><PMID>8</PMID>"
              b"</BookDocument></PubmedBookArticle>"
              b"<DeleteCitation><PMID Version='1'>9</PMID><PMID>x</PMID><PMID>10</PMID></DeleteCitation>"
              b"</PubmedArticleSet>")
    assert scan_bytes(hidden) == [("record", "7", 2), ("record", "8", 1), ("delete", "9", 0), ("delete", "10", 0)]
    assert scan_bytes(hidden) == [e for e in parsed_events(hidden) if e[1] != "x"]


def test_a_record_whose_pmid_is_not_its_first_child_has_none():
    """The PMID of a CommentsCorrections is not the record's: without its own, the record has none."""
    data = (b"<PubmedArticleSet><PubmedArticle><MedlineCitation><Article/><CommentsCorrectionsList>"
            b"<CommentsCorrections><PMID Version='1'>5</PMID></CommentsCorrections></CommentsCorrectionsList>"
            b"</MedlineCitation></PubmedArticle><PubmedArticle><MedlineCitation><PMID>6</PMID>"
            b"</MedlineCitation></PubmedArticle></PubmedArticleSet>")
    assert scan_bytes(data) == [("record", None, 0), ("record", "6", 1)]


def test_utf16_file_is_scanned_like_its_utf8_original(tmp_path):
    original = FIXTURES / "pubmed_xml" / "efetch_pubmed_11748933_11700088.xml"
    text = xml_bytes(original).decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    wide = tmp_path / "utf16.xml"
    wide.write_bytes(text.encode("utf-16"))
    assert scan_records(wide).events == scan_records(original).events == parsed_events(xml_bytes(original))


def test_truncated_gzip_keeps_the_records_before_the_damage(tmp_path):
    source = FIXTURES / "pubmed_xml" / "baseline" / "pubmed26n1334.xml.gz"
    data = source.read_bytes()
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(data[: len(data) // 2])
    scan = scan_records(cut)
    whole = scan_records(source).events
    assert "truncated gzip" in scan.error
    assert 0 < len(scan.events) < len(whole) and scan.events == whole[: len(scan.events)]
    # the hash for the provenance is of the whole stored file, also past the point the scan stopped
    assert scan.snapshot.sha256 == hashlib.sha256(cut.read_bytes()).hexdigest()
    assert (scan.snapshot.size, scan.snapshot.inode) == (cut.stat().st_size, cut.stat().st_ino)
