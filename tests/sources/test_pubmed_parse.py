"""The PubMed parser on real recorded files (../shared) plus a few hand-written edge cases."""
from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from lxml import etree

from curation.schema import DOCUMENT_SCHEMA, dump_meta
from sources.pubmed.parse import Deletion, Record, RecordError, iter_file, parse_bytes
from sources.pubmed.record_scan import scan_records
from sources.safe_io import sha256_file

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FIXTURES = SHARED / "fixtures" / "pubmed_xml"
CORPORA = SHARED / "corpora" / "pubmed_xml"
ALL_FILES = sorted(
    p for root in (FIXTURES, CORPORA) for p in root.rglob("*") if p.name.endswith((".xml", ".xml.gz"))
)
# An independent reading of the same files: plain lxml, whole tree, no code of ours.
_PLAIN = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def plain_tree(path: Path) -> etree._Element:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return etree.fromstring(data, _PLAIN)


def records(path: Path) -> dict[str, Record]:
    out = {item.pmid: item for item in iter_file(path) if isinstance(item, Record)}
    assert out, path
    return out


def meta(record: Record) -> dict:
    return json.loads(record.doc["meta"])


def test_real_files_are_found():
    assert len(ALL_FILES) >= 17, ALL_FILES


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_article_comes_out_and_in_order(path):
    tree = plain_tree(path)
    expected = [el.findtext("MedlineCitation/PMID") or el.findtext("BookDocument/PMID")
                for el in tree.iterfind("*") if el.tag in ("PubmedArticle", "PubmedBookArticle")]
    items = list(iter_file(path))  # must not raise on any real file
    got = [item.pmid if isinstance(item, Record) else item.record for item in items
           if isinstance(item, (Record, RecordError))]
    assert got == expected
    assert not any(isinstance(item, RecordError) for item in items)
    scanned = [(kind, pmid) for kind, pmid, _ in scan_records(path).events]
    from_iter = []
    for item in items:
        if isinstance(item, Record):
            from_iter.append(("record", item.pmid))
        elif isinstance(item, Deletion):
            from_iter.extend(("delete", pmid) for pmid in item.pmids)
    assert scanned == from_iter
    for item in items:
        if isinstance(item, Record):
            doc = item.doc
            assert doc["id"] == f"pubmed:{item.pmid}" and doc["url"] == f"https://pubmed.ncbi.nlm.nih.gov/{item.pmid}/"
            assert doc["text"].startswith(doc["title"])
            assert "<" not in doc["title"] and "&lt;" not in doc["text"] and "&amp;" not in doc["text"]
            assert (item.drop_reason is None) == (doc["text"] != doc["title"])
    # Every document fits the one explicit schema.
    pa.Table.from_pylist([i.doc for i in items if isinstance(i, Record)], schema=DOCUMENT_SCHEMA)


def test_structured_abstract_keeps_labels_and_flattens_markup():
    rec = records(FIXTURES / "efetch_pubmed_27797938_structured_abstract_inline_tags.xml")["27797938"]
    lines = rec.doc["text"].split("\n")
    assert lines[0] == rec.doc["title"]
    assert [line.split(":")[0] for line in lines[1:]] == ["OBJECTIVE", "DESIGN", "RESULTS", "CONCLUSIONS"]
    assert "at TERT (linkage disequilibrium r2<0.25)" in rec.doc["text"]
    assert "<sup>" not in rec.doc["text"] and "  " not in rec.doc["text"]


def test_label_wins_over_nlm_category():
    # pubmed26n1334 holds sections whose Label differs from NlmCategory (e.g. AIM vs OBJECTIVE).
    path = FIXTURES / "baseline" / "pubmed26n1334.xml.gz"
    tree = plain_tree(path)
    differing = [(art.findtext("MedlineCitation/PMID"), el.get("Label"), el.get("NlmCategory"))
                 for art in tree.iterfind("PubmedArticle")
                 for el in art.iterfind("MedlineCitation/Article/Abstract/AbstractText")
                 if el.get("Label") and el.get("NlmCategory") and el.get("Label") != el.get("NlmCategory")]
    assert differing
    docs = records(path)
    for pmid, label, category in differing:
        text = docs[pmid].doc["text"]
        assert f"\n{label}: " in text
        assert f"\n{category}: " not in text


def test_doi_and_pmcid_from_the_records_own_ids():
    rec = records(FIXTURES / "efetch_pubmed_35123456_structured_nlmcategory.xml")["35123456"]
    assert rec.doc["doi"] == "10.1186/s12891-022-05070-w"
    assert rec.doc["pmcid"] == "PMC8818254"
    assert rec.version == 1 and meta(rec)["version"] == 1
    assert meta(rec)["mesh"][:2] == ["Adolescent", "Adult"] and "Arthrogryposis" in meta(rec)["mesh_major"]
    # 56 cited works carry their own ids; none of them leaks into the record's.
    tree = plain_tree(FIXTURES / "efetch_pubmed_35123456_structured_nlmcategory.xml")
    cited = {a.text.lower() for a in tree.iterfind(".//ReferenceList//ArticleId[@IdType='doi']")}
    assert cited and rec.doc["doi"] not in cited
    copyright_text = tree.findtext(".//CopyrightInformation")
    assert copyright_text and copyright_text not in rec.doc["text"]
    assert rec.drop_reason is None and rec.doc["date"] == "2022-02-05"


def test_sub_tags_and_mathml_are_flattened():
    rec = records(FIXTURES / "efetch_pubmed_30108519_sub_tags.xml")["30108519"]
    text = rec.doc["text"]
    assert "LEmin+1mM" in text and "VMLSS" in text
    assert "mml" not in text and "<" not in text.replace("< ", "")  # only comparison signs remain
    assert "V.O2max" in text  # the MathML formula, without its layout whitespace
    assert rec.doc["date"] == "2018"


# 3He and 129Xe as MDPI and Frontiers write them in MathML: the base, no postscripts, the prescript.
def _isotope(element: str, mass: str) -> str:
    return (f'<mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML"><mml:mmultiscripts><mml:mrow>'
            f'<mml:mi mathvariant="normal">{element}</mml:mi></mml:mrow><mml:mprescripts/><mml:none/>'
            f'<mml:mrow><mml:mn>{mass}</mml:mn></mml:mrow></mml:mmultiscripts></mml:math>')


def _with_title(path: Path, title: str) -> bytes:
    """The real record file with its ArticleTitle replaced by `title` (XML)."""
    data = path.read_bytes()
    start, end = data.index(b"<ArticleTitle>"), data.index(b"</ArticleTitle>") + len(b"</ArticleTitle>")
    return data[:start] + f"<ArticleTitle>{title}</ArticleTitle>".encode() + data[end:]


def test_mathml_reads_as_in_jats_full_text():
    """One MathML reading for MEDLINE and JATS: prescripts before their base, spaced from words only
    where the formula would touch them (it read "He3/Xe129MRI")."""
    path = FIXTURES / "efetch_pubmed_30108519_sub_tags.xml"
    title = f"Hyperpolarized {_isotope('He', '3')}/{_isotope('Xe', '129')}MRI of the lung"
    (rec,) = [item for item in parse_bytes(_with_title(path, title)) if isinstance(item, Record)]
    assert rec.doc["title"] == "Hyperpolarized 3He/129Xe MRI of the lung"
    # Every formula of the real JATS articles reads the same in a MEDLINE title as in the article.
    from sources.pmc.jats.formulas import formula_text

    mml = "{http://www.w3.org/1998/Math/MathML}"
    checked = 0
    for article in sorted((SHARED / "corpora" / "fulltext").rglob("*.xml")):
        for math in plain_tree(article).iter(f"{mml}math"):
            if math.getparent().tag not in ("inline-formula", "disp-formula"):
                continue
            expected = formula_text(math.getparent())
            xml = etree.tostring(math, encoding="unicode", with_tail=False)
            (rec,) = [item for item in parse_bytes(_with_title(path, f"A {xml} B")) if isinstance(item, Record)]
            assert rec.doc["title"] == " ".join(f"A {expected} B".split()), xml
            checked += 1
    assert checked > 900


def test_escaped_markup_reads_as_markup():
    """pubmed:14668030's abstract holds `&lt;PRE&gt;3&lt;/PRE&gt;` (mm³): the tags go, the 3 stays;
    comparison signs stay everywhere."""
    path = CORPORA / "pubmedsample18n0001.xml.gz"
    recs = records(path)
    text = recs["14668030"].doc["text"]
    assert "platelet counts <60,000/mm3 and 37 patients" in text
    assert "(>150,000/mm3)" in text and "PRE" not in text
    assert "constrain the CP-violating charge asymmetry to be -0.170<A(CP)(B-->K(*)gamma)<0.082" in \
        recs["11909345"].doc["text"]
    for rec in recs.values():
        assert not re.search(r"</?(?:i|b|u|sup|sub|pre|em)>", rec.doc["text"], re.IGNORECASE), rec.pmid


def test_german_article_title_without_brackets():
    rec = records(FIXTURES / "efetch_pubmed_25760099_german_vernacular_title.xml")["25760099"]
    assert rec.doc["title"].startswith("Market Concentration in the Statutory Health Insurance")
    assert "[" not in rec.doc["title"] and "]" not in rec.doc["title"]
    m = meta(rec)
    assert m["vernacular_title"].startswith("Marktkonzentration in der Gesetzlichen Krankenversicherung")
    assert m["languages"] == ["ger"]
    assert "\nBackground: The expansion of trust law" in rec.doc["text"]
    assert "Thieme" not in rec.doc["text"]  # CopyrightInformation


def test_no_abstract_goes_to_the_ledger_with_its_metadata():
    rec = records(FIXTURES / "efetch_pubmed_27350240_comment_no_abstract.xml")["27350240"]
    assert rec.drop_reason == "no_abstract"
    assert rec.doc["text"] == rec.doc["title"] != ""
    assert "Comment" in meta(rec)["publication_types"]


def test_other_abstract_is_not_text():
    path = FIXTURES / "baseline" / "pubmed26n1334.xml.gz"
    tree = plain_tree(path)
    docs = records(path)
    checked = 0
    for other in tree.iter("OtherAbstract"):
        pmid = other.getparent().findtext("PMID")
        for section in other.iter("AbstractText"):
            if section.text and len(section.text) > 40:
                assert " ".join(section.text.split())[:40] not in docs[pmid].doc["text"]
                checked += 1
    assert checked


@pytest.mark.parametrize("name, count", [("pubmed26n1335.xml.gz", 6), ("pubmed20n1203_sample.xml.gz", 23)])
def test_delete_citations(name, count):
    path = FIXTURES / "updatefiles" / name
    deletions = [item for item in iter_file(path) if isinstance(item, Deletion)]
    expected = tuple(p.text for p in plain_tree(path).iterfind("DeleteCitation/PMID"))
    assert len(deletions) == 1 and deletions[0].pmids == expected and len(expected) == count


@pytest.mark.parametrize("path, pmid, date", [
    (FIXTURES / "efetch_pubmed_12091962_9997.xml", "12091962", "1990"),            # Year + Season
    (FIXTURES / "efetch_pubmed_12091962_9997.xml", "9997", "1976-09-28"),          # Year Month Day
    (CORPORA / "pubmedsample18n0001.xml.gz", "10188493", "1998-12"),               # "1998 Dec-1999 Jan"
    (CORPORA / "pubmedsample18n0001.xml.gz", "15228064", "2004"),                  # Season Summer
    (CORPORA / "net-synergy_pubmedparser" / "pubmed21n1002.xml.gz", "31449487", "2019-09"),  # "2019 Sep/Oct"
])
def test_dates(path, pmid, date):
    assert records(path)[pmid].doc["date"] == date


def test_provenance_names_file_hash_and_position():
    path = FIXTURES / "efetch_pubmed_12091962_9997.xml"
    docs = [item.doc for item in iter_file(path, provenance="raw/pubmed/x.xml")]
    digest = sha256_file(path)
    assert [d["provenance"] for d in docs] == [
        dump_meta({"file": "raw/pubmed/x.xml", "sha256": digest, "record": i}) for i in range(2)]


# --------------------------------------------------------------------------- hand-written cases

HEADER = ('<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January '
          '2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>')


def parse(body: str) -> list:
    return parse_bytes((HEADER + body + "</PubmedArticleSet>").encode())


def article(pmid: str, version: str = "1", title: str = "T.", abstract: str = "", extra: str = "",
            pubdate: str = "<Year>2020</Year>") -> str:
    abstract_xml = f"<Abstract>{abstract}</Abstract>" if abstract else ""
    pmid_xml = f'<PMID Version="{version}">{pmid}</PMID>' if pmid else ""
    return (f'<PubmedArticle><MedlineCitation Status="MEDLINE">{pmid_xml}<Article>'
            f"<Journal><JournalIssue><PubDate>{pubdate}</PubDate></JournalIssue><Title>J</Title></Journal>"
            f"<ArticleTitle>{title}</ArticleTitle>{abstract_xml}<Language>eng</Language>{extra}</Article>"
            f"<MedlineJournalInfo/></MedlineCitation><PubmedData><ArticleIdList>"
            f'<ArticleId IdType="pmc">7906746</ArticleId><ArticleId IdType="doi">10.1/ABC</ArticleId>'
            f"</ArticleIdList></PubmedData></PubmedArticle>")


def test_version_attribute_and_record_errors_do_not_stop_the_file():
    items = parse(article("41000001", version="3", abstract="<AbstractText>A.</AbstractText>")
                  + article("") + article("41000002", abstract="<AbstractText>B.</AbstractText>")
                  + "<PubmedArticle><PubmedData/></PubmedArticle>")
    assert [type(i) for i in items] == [Record, Record, Record, RecordError]
    assert items[0].version == 3 and meta(items[0])["version"] == 3
    assert items[1].pmid is None and items[1].drop_reason == "no_pmid"
    assert items[3].record == "#3" and "MedlineCitation" in items[3].error
    assert items[2].doc["provenance"].endswith('"record":2,"sha256":"' + json.loads(items[2].doc["provenance"])["sha256"] + '"}')
    assert items[0].doc["pmcid"] == "PMC7906746" and items[0].doc["doi"] == "10.1/abc"


def test_article_without_pmid_is_a_no_pmid_record_that_the_scan_counts(tmp_path):
    """A real efetch file with the <PMID> of one article removed: the scan and the full parse see
    the same number of records in the same positions, and the PMID-less one is a `no_pmid` drop
    with a stable id (the file's hash and its position), its fields still read."""
    source = FIXTURES / "efetch_pubmed_11748933_11700088.xml"
    root = plain_tree(source)
    articles = root.findall("PubmedArticle")
    assert len(articles) == 2
    pmid_el = articles[0].find("MedlineCitation/PMID")
    pmid_el.getparent().remove(pmid_el)
    path = tmp_path / "no_pmid.xml"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    events = scan_records(path).events
    items = list(iter_file(path))
    assert [kind for kind, _, _ in events] == ["record", "record"]
    assert [pmid for _, pmid, _ in events] == [None, "11700088"] == [item.pmid for item in items]
    orphan = items[0]
    assert isinstance(orphan, Record) and orphan.drop_reason == "no_pmid"
    assert orphan.doc["id"] == f"pubmed:no_pmid:{sha256_file(path)[:16]}:0"
    assert orphan.doc["pmid"] is None and orphan.doc["url"] == ""
    assert orphan.doc["title"] == articles[0].findtext("MedlineCitation/Article/ArticleTitle").strip()
    assert pa.Table.from_pylist([orphan.doc], schema=DOCUMENT_SCHEMA).num_rows == 1
    assert list(iter_file(path))[0].doc == orphan.doc  # the same id and row on every run


def test_text_cleaning_rules():
    items = parse(article(
        "41000003",
        title="CO<sub>2</sub> &amp;lt; <i>in  vivo</i>\n   levels",
        abstract=('<AbstractText Label="BACKGROUND" NlmCategory="OBJECTIVE">R&amp;D at AT&amp;T &amp;amp; '
                  "x<sup>2</sup></AbstractText><AbstractText>No label.</AbstractText>"
                  "<CopyrightInformation>Copyright X</CopyrightInformation>"),
    ))
    doc = items[0].doc
    assert doc["title"] == "CO2 < in vivo levels"
    assert doc["text"] == "CO2 < in vivo levels\nBACKGROUND: R&D at AT&T & x2\nNo label."


def test_no_title_and_no_abstract_is_no_text():
    (rec,) = parse(article("41000004", title=""))
    assert rec.drop_reason == "no_text" and rec.doc["text"] == ""


@pytest.mark.parametrize("pubdate, expected", [
    ("<Year>2001</Year><Month>Feb</Month><Day>30</Day>", "2001-02"),
    ("<Year>2001</Year><Month>11</Month><Day>5</Day>", "2001-11-05"),
    ("<Year>2001</Year><Season>Winter</Season>", "2001"),
    ("<MedlineDate>2025 Mar-Apr</MedlineDate>", "2025-03"),
    ("<MedlineDate>1944-1945</MedlineDate>", "1944"),
    ("<MedlineDate>Winter 2019</MedlineDate>", "2019"),
    ("<MedlineDate>undated</MedlineDate>", None),
])
def test_date_forms(pubdate, expected):
    (rec,) = parse(article("41000005", pubdate=pubdate))
    assert rec.doc["date"] == expected


BOOK = """<PubmedBookArticle><BookDocument><PMID Version="1">41000006</PMID>
<ArticleIdList><ArticleId IdType="bookaccession">NBK000001</ArticleId></ArticleIdList>
<Book><Publisher><PublisherName>StatPearls Publishing</PublisherName></Publisher>
<BookTitle book="statpearls">StatPearls</BookTitle><PubDate><Year>2025</Year><Month>Jan</Month></PubDate>
<AuthorList Type="editors"><Author><LastName>Editor</LastName><ForeName>Ed</ForeName></Author></AuthorList></Book>
<ArticleTitle book="statpearls" part="article-1">Hypertension</ArticleTitle><Language>eng</Language>
<AuthorList Type="authors"><Author><LastName>Doe</LastName><ForeName>Jane</ForeName></Author></AuthorList>
<PublicationType UI="D000072643">Study Guide</PublicationType>
<Abstract><AbstractText Label="CONTINUING EDUCATION ACTIVITY">Blood pressure and CO<sub>2</sub>.</AbstractText>
<CopyrightInformation>Copyright StatPearls</CopyrightInformation></Abstract></BookDocument>
<PubmedBookData><PublicationStatus>ppublish</PublicationStatus><ArticleIdList>
<ArticleId IdType="pubmed">41000006</ArticleId></ArticleIdList></PubmedBookData></PubmedBookArticle>"""


def test_book_article():
    (rec,) = parse(BOOK)
    assert rec.doc["text"] == "Hypertension\nCONTINUING EDUCATION ACTIVITY: Blood pressure and CO2."
    assert rec.doc["date"] == "2025-01" and rec.drop_reason is None
    m = meta(rec)
    assert m["kind"] == "book" and m["book_title"] == "StatPearls" and m["authors"] == ["Doe, Jane"]
    assert m["publication_types"] == ["Study Guide"] and m["publisher"] == "StatPearls Publishing"


# --------------------------------------------------------------------------- pubmed_parser's fields


def test_bibliographic_fields_match_pubmed_parser():
    """Every field pubmed_parser fills, we fill with the same value (benchmarks/bench_pubmed_parse.py)."""
    pubmed_parser = pytest.importorskip("pubmed_parser")
    path = CORPORA / "net-synergy_pubmedparser" / "pubmed21n1000.xml.gz"
    ours = records(path)
    checked = 0
    for row in pubmed_parser.parse_medline_xml(str(path)):
        if row.get("delete"):
            continue
        m = meta(ours[str(row["pmid"])])
        for key, mine in (("country", "country"), ("nlm_unique_id", "nlm_unique_id"),
                          ("issn_linking", "issn_linking"), ("medline_ta", "medline_ta"), ("pages", "pages")):
            assert (row[key] or "").strip() == m.get(mine, ""), (row["pmid"], key)
        volume_issue = f"{m['volume']}({m.get('issue', '')})" if m.get("volume") else ""
        assert row["issue"] == volume_issue
        assert set(filter(None, row["affiliations"].split(";"))) <= set(";".join(m.get("affiliations", [])).split(";"))
        assert row["references"].split(";") == (m.get("cited_pmids") or [""])[: len(row["references"].split(";"))]
        assert [g["grant_id"] for g in row["grant_ids"]] == [g.get("id") for g in m.get("grants", [])]
        assert [o for o in row["other_id"].split("; ") if o] == m.get("other_ids", [])
        checked += 1
    assert checked > 20


def test_author_identifiers_are_the_authors_not_the_affiliations():
    data = ('<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID Version="1">7</PMID><Article>'
            '<ArticleTitle>T</ArticleTitle><Abstract><AbstractText>A.</AbstractText></Abstract><AuthorList>'
            '<Author><LastName>Doe</LastName><ForeName>Jane</ForeName><Identifier Source="ORCID">0000-0001</Identifier>'
            '<AffiliationInfo><Affiliation>Uni A</Affiliation><Identifier Source="GRID">grid.1</Identifier></AffiliationInfo></Author>'
            '<Author><LastName></LastName><ForeName>Nobody</ForeName><Identifier Source="ORCID">x</Identifier></Author>'
            '<Author><CollectiveName>The Group</CollectiveName><AffiliationInfo><Affiliation>Uni A</Affiliation>'
            '</AffiliationInfo></Author></AuthorList></Article><MedlineJournalInfo><Country>France</Country>'
            '</MedlineJournalInfo></MedlineCitation></PubmedArticle></PubmedArticleSet>').encode()
    (rec,) = parse_bytes(data)
    m = meta(rec)
    assert m["authors"] == ["Doe, Jane", "The Group"]
    assert m["author_ids"] == [["Doe, Jane", "ORCID", "0000-0001"]]
    assert m["affiliations"] == ["Uni A"] and m["country"] == "France"


def test_documents_are_schema_rows_with_canonical_meta():
    from curation.schema import make_document
    for path in ALL_FILES:
        for item in iter_file(path):
            if isinstance(item, Record):
                assert item.doc == make_document(**item.doc)
                assert item.doc["meta"] == dump_meta(json.loads(item.doc["meta"]))


def test_fast_whitespace_check_agrees_with_split_join_on_every_code_point():
    from sources.xml_text import clean_text as _clean
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        for text in (f"a{chr(code)}b", f"{chr(code)}b", f"a{chr(code)}"):
            assert _clean(text) == " ".join(text.split()), hex(code)


def test_dump_meta_fast_path_writes_the_json_bytes_for_every_code_point():
    from curation.schema import _json_dump_meta
    for code in range(0x110000):
        value = {"b": f"a{chr(code)}z", "a": [chr(code), None, 3, True], "c": {"y": 1, "x": chr(code)}}
        assert dump_meta(value) == _json_dump_meta(value), hex(code)


def revised(data: bytes) -> bytes:
    """The same records with their titles changed, as a corrected file of the same name would be."""
    xml = gzip.decompress(data).replace(b"<ArticleTitle>", b"<ArticleTitle>REVISED ")
    return gzip.compress(xml.replace(b"<VernacularTitle>", b"<VernacularTitle>REVISED "), mtime=0)


def test_a_file_replaced_by_a_fetch_while_parsed_gives_records_and_hash_of_one_version(tmp_path):
    """The file was hashed by its path, then opened again to be parsed."""
    from renaming_writer import RenamingWriter, slow_to_hash, versions_seen

    original = (FIXTURES / "baseline" / "pubmed26n1334.xml.gz").read_bytes()
    writer = RenamingWriter(tmp_path / "pubmed26n1334.xml.gz", [slow_to_hash(original), slow_to_hash(revised(original))])
    seen = versions_seen(writer, lambda p: [i for i in iter_file(p) if isinstance(i, Record) and i.doc["title"]], 20,
                         lambda record: int(record.doc["title"].startswith("REVISED")))
    assert {hashed for hashed, content in seen if hashed != content} == set()
    assert {content for _, content in seen} == {0, 1}
