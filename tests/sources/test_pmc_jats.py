"""JATS to training text on every real article we have: coverage, cleanliness, modes, fidelity."""
import json
import re
from functools import lru_cache
from pathlib import Path

import pytest
from lxml import etree

from conftest import CORPORA, FIXTURES
from sources.errors import HostileInputError, InputError
from sources.pmc.jats import ArticleError, JatsOptions, parse_bytes

JATS = FIXTURES / "pmc_jats"
EFETCH = FIXTURES / "eutils" / "efetch_pmc_8435807_correction.xml"
FILES = sorted(JATS.iterdir()) + sorted((CORPORA / "fulltext").rglob("*.*ml")) + [EFETCH]
CORPUS = sorted((CORPORA / "fulltext").rglob("*.*ml"))
# Everything kept: what the fidelity test compares with an independent reading of the XML.
KEEP_ALL = JatsOptions(back_matter=True, abstract_types=frozenset({"all"}))
ESCAPED = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});")
MARKERS = re.compile(r"\[/?(?:fig|table|formula|bib_ref|fig_ref)\]")
PLAIN = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@lru_cache(maxsize=None)
def parsed(path: Path, options: JatsOptions = JatsOptions()) -> tuple:
    return tuple(parse_bytes(path.read_bytes(), str(path), options))


def doc_of(path: Path, options: JatsOptions = JatsOptions()) -> dict:
    (item,) = parsed(path, options)
    return item.doc


def all_items(options: JatsOptions = JatsOptions()):
    return [(path, item) for path in FILES for item in parsed(path, options)]


# --------------------------------------------------------------------------- coverage


def test_every_file_gives_documents_or_ledger_entries():
    items = all_items()
    assert not [i for _, i in items if isinstance(i, ArticleError)]
    assert len(items) == len(FILES)  # one article per file in all of them
    reasons = {p.name: i.drop_reason for p, i in items if i.drop_reason}
    assert reasons == {
        "PMC10000000_oai-pmh-getrecord.xml": "no_text",  # scanned item: no abstract, no body
        "efetch_pmc_8435807_correction.xml": "not_article:correction",
        "journal.pone.0097541.xml": "not_article:correction",
        "journal.pone.0108198.xml": "not_article:correction",
        "journal.pcbi.0030158.xml": "not_article:retraction",
        "journal.ppat.1005207.xml": "not_article:retraction",
        "plos.correction.3155a3e9-5fbe-435c-a07a-e9a4846ec0b6.xml": "not_article:retraction",
    }
    docs = [i.doc for _, i in items if not i.drop_reason]
    assert all(len(d["text"]) > 1000 and d["text"].startswith(d["title"]) for d in docs)


def test_metadata_of_the_three_wrappers():
    oai = doc_of(JATS / "PMC6500000_oai-pmh-getrecord.xml")
    assert (oai["id"], oai["pmcid"], oai["license"]) == ("pmc:PMC6500000", "PMC6500000", "CC-BY-4.0")
    assert oai["pmid"] and oai["doi"] == oai["doi"].lower() and oai["url"] == "https://pmc.ncbi.nlm.nih.gov/articles/PMC6500000/"
    nxml = doc_of(JATS / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml")
    assert (nxml["pmcid"], nxml["pmid"], nxml["doi"], nxml["date"]) == ("PMC3166277", "21810267", "10.1186/1471-2180-11-174", "2011-08-02")
    assert '"journal":"BMC Microbiology"' in nxml["meta"] and '"article_type":"research-article"' in nxml["meta"]
    (correction,) = parsed(EFETCH)
    assert correction.doc["pmcid"] == "PMC8435807" and correction.doc["date"] == "2021-09-13"
    plos = doc_of(CORPUS[0])  # publisher JATS outside PMC: no PMCID, the DOI identifies it
    assert plos["pmcid"] is None and plos["id"] == f"pmc:doi:{plos['doi']}" and plos["url"].startswith("https://doi.org/")


def _without_prolog(xml: bytes) -> bytes:
    return re.sub(rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!DOCTYPE[^>]*>\s*)?", b"", xml)


@pytest.mark.parametrize("wrapped, wrapper", [
    (b"<pmc-articleset>%s</pmc-articleset>", "efetch"),  # PMC Cloud / efetch with one article
    (b"<pmc-articleset><records><record>%s</record></records></pmc-articleset>", "efetch"),
    (b"<records><record>%s</record></records>", "records"),  # any other wrapper, any depth
], ids=["articleset", "articleset-deep", "other-root"])
def test_an_article_is_found_at_any_depth(wrapped, wrapper):
    path = JATS / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml"
    (bare,) = parse_bytes(path.read_bytes(), "a.xml")
    (item,) = parse_bytes(wrapped % _without_prolog(path.read_bytes()), "a.xml")
    assert json.loads(bare.doc["meta"])["wrapper"] == "nxml" and json.loads(item.doc["meta"])["wrapper"] == wrapper
    assert item.drop_reason is None and item.doc["id"] == "pmc:PMC3166277"
    assert {**item.doc, "meta": None, "provenance": None} == {**bare.doc, "meta": None, "provenance": None}
    assert "record" not in json.loads(item.doc["provenance"])  # one article: no record number


def test_a_set_of_articles_and_an_empty_set():
    one, two = (_without_prolog((JATS / name).read_bytes()) for name in
                ("PMC3166277_bmc-microbiol_1471-2180-11-174.nxml", "PMC2329613_bmc-oral-health_1472-6831-8-11.nxml"))
    items = parse_bytes(b"<pmc-articleset>" + one + two + b"</pmc-articleset>", "set.xml")
    assert [i.doc["id"] for i in items] == ["pmc:PMC3166277", "pmc:PMC2329613"]
    assert [json.loads(i.doc["provenance"])["record"] for i in items] == [0, 1]
    assert parse_bytes(b"<pmc-articleset/>") == []  # an efetch answer with nothing in it
    with pytest.raises(InputError, match="not a JATS document"):
        parse_bytes(b"<records><record><p>no article</p></record></records>")


def test_an_oai_pmh_error_answer_is_an_input_error_with_its_code():
    answer = (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2025-06-24T10:00:00Z</responseDate>'
              b'<request verb="GetRecord">https://pmc.ncbi.nlm.nih.gov/api/oai/v1/mh/</request>'
              b'<error code="cannotDisseminateFormat">The metadata format identified by the value given\n'
              b'for the metadataPrefix argument is not supported.</error></OAI-PMH>')
    with pytest.raises(InputError, match=r"^oai\.xml: OAI-PMH error cannotDisseminateFormat: The metadata format .* not supported\.$"):
        parse_bytes(answer, "oai.xml")


def test_hostile_and_foreign_documents_are_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><article>&b;</article>'
    with pytest.raises(HostileInputError):
        parse_bytes(bomb)
    with pytest.raises(InputError):
        parse_bytes(b"<PubmedArticleSet/>")
    with pytest.raises(InputError):
        parse_bytes(b"<article><front>")


# --------------------------------------------------------------------------- cleanliness


@lru_cache(maxsize=None)
def _debris(path: Path) -> re.Pattern:
    """A start or end tag of any element the source file uses ("0.69<r2>0.39" is real text)."""
    root = etree.fromstring(path.read_bytes(), PLAIN)
    names = {etree.QName(el).localname for el in root.iter() if isinstance(el.tag, str)}
    return re.compile(r"</?(?:[\w-]+:)?(?:%s)(?:[\s/>])" % "|".join(sorted(map(re.escape, names), key=len, reverse=True)))


@pytest.mark.parametrize("options", [JatsOptions(), KEEP_ALL, JatsOptions(citations="meditron", figure_refs="meditron", tables="linearize")],
                         ids=["default", "keep-all", "meditron"])
def test_no_xml_debris_entities_or_mathml(options):
    for path, item in all_items(options):
        text = item.doc["text"]
        assert not _debris(path).search(text), (path.name, _debris(path).search(text).group(0))
        assert not ESCAPED.search(text), (path.name, ESCAPED.search(text).group(0))
        assert "mml:" not in text and "\\documentclass" not in text and not re.search("[\ue000-\ue002]", text), path.name
        assert text.count("[fig]") == text.count("[/fig]") and text.count("[formula]") == text.count("[/formula]")


def test_no_reference_list_text():
    """No cited title (of 6+ words) shows up in a document unless the article's own text names it."""
    for path, item in all_items():
        root = etree.fromstring(path.read_bytes(), PLAIN)
        titles = [" ".join("".join(t.itertext()).split()).lower().rstrip(".") for t in root.iterfind(".//{*}ref//{*}article-title")]
        for ref_list in root.iterfind(".//{*}ref-list"):
            ref_list.getparent().remove(ref_list)
        outside_refs = " ".join(" ".join(root.itertext()).split()).lower()
        text = " ".join(item.doc["text"].split()).lower()
        leaked = [t for t in titles if len(t.split()) >= 6 and t in text and t not in outside_refs]
        assert not leaked, (path.name, leaked[:2])
        assert "\n# references" not in item.doc["text"].lower()


def test_authors_affiliations_and_correspondence_are_removed():
    text = doc_of(JATS / "PMC1790863_plos-one_pone.0000217.nxml")["text"]
    for removed in ("Tenaillon", "INSERM", "To whom correspondence", "Olivier.Tenaillon@bichat.inserm.fr",
                    "Competing Interests", "We would like to thank Art Poon", "McShea"):
        assert removed not in text


# --------------------------------------------------------------------------- modes


def test_citations_removed_by_default_or_meditron_style():
    path = JATS / "PMC1790863_plos-one_pone.0000217.nxml"
    plain = doc_of(path)["text"]
    assert "course of evolution. Although significant progress" in plain  # "[1]–[5]" gone with its dash
    assert "[bib_ref]" not in plain and not re.search(r"\[\d+\]", plain)
    meditron = doc_of(path, JatsOptions(citations="meditron"))["text"]
    assert "[bib_ref] The Genetical Theory of Natural Selection, Fisher [/bib_ref]" in meditron
    assert meditron.count("[bib_ref]") == meditron.count("[/bib_ref]") > 30


def test_narrative_author_year_citations_keep_their_words():
    xml = (b'<article><front><article-meta><title-group><article-title>T</article-title></title-group></article-meta></front>'
           b'<body><p>As <xref ref-type="bibr" rid="r1">Smith et al. (2001)</xref> showed, cells divide '
           b'(<xref ref-type="bibr" rid="r1">Smith et al., 2001</xref>; <xref ref-type="bibr" rid="r2">Lee 2003</xref>).'
           b' Numbers go<sup><xref ref-type="bibr" rid="r1">1</xref>,<xref ref-type="bibr" rid="r2">2</xref></sup> too '
           b'[<xref ref-type="bibr" rid="r1">1</xref>\xe2\x80\x93<xref ref-type="bibr" rid="r2">3</xref>], at 10<sup>5</sup> cells.</p></body></article>')
    (item,) = parse_bytes(xml)
    assert item.doc["text"] == "T\n\nAs Smith et al. (2001) showed, cells divide. Numbers go too, at 10^5 cells."


REFS = (b'<back><ref-list><ref id="r1"><element-citation><person-group><name><surname>Smith</surname></name></person-group>'
        b'<article-title>Cells divide</article-title></element-citation></ref><ref id="r2"><element-citation><person-group>'
        b'<name><surname>Lee</surname></name></person-group><article-title>Cells grow</article-title></element-citation></ref>'
        b'</ref-list></back>')
FIGURE = (b'<fig id="f1"><label>Figure 1</label><caption><title>Division [<xref ref-type="bibr" rid="r1">1</xref>].</title>'
          b'<p>As shown before (<xref ref-type="bibr" rid="r1">1</xref>, <xref ref-type="bibr" rid="r2">2</xref>) and in'
          b' cells<sup><xref ref-type="bibr" rid="r2">2</xref></sup>.</p></caption></fig>')
TABLE = (b'<table-wrap id="t1"><label>Table 1</label><caption><p>Rates from <xref ref-type="bibr" rid="r2">[2]</xref>.</p>'
         b'</caption><table><tr><td>fast <xref ref-type="bibr" rid="r1">1</xref></td></tr></table><table-wrap-foot><fn><p>'
         b'Adapted from <xref ref-type="bibr" rid="r2">2</xref>.</p></fn></table-wrap-foot></table-wrap>')


@pytest.mark.parametrize("where", ["section", "paragraph", "floats-group"])
def test_citations_in_captions_are_handled_as_in_the_body(where):
    text = b'<p>Cells divide [<xref ref-type="bibr" rid="r1">1</xref>] (<xref ref-type="fig" rid="f1">Figure 1</xref>).'
    body = {"section": b"<body><sec><title>R</title>" + text + b"</p>" + FIGURE + TABLE + b"</sec></body>",
            "paragraph": b"<body><sec><title>R</title>" + text + FIGURE + TABLE + b"</p></sec></body>",
            "floats-group": b"<body><sec><title>R</title>" + text + b"</p></sec></body>"}[where]
    floats = b"<floats-group>" + FIGURE + TABLE + b"</floats-group>" if where == "floats-group" else b""
    xml = b'<article><front><article-meta><title-group><article-title>T</article-title></title-group></article-meta></front>'
    xml += body + REFS + floats + b"</article>"
    (dropped,) = parse_bytes(xml, options=JatsOptions(tables="linearize"))
    assert "Cells divide (Figure 1)." in dropped.doc["text"]
    assert "[fig] Figure 1: Division. As shown before and in cells. [/fig]" in dropped.doc["text"]
    assert "[table] Table 1: Rates from.\n| fast |\nAdapted from. [/table]" in dropped.doc["text"]
    (tagged,) = parse_bytes(xml, options=JatsOptions(citations="meditron", figure_refs="meditron", tables="linearize"))
    smith, lee = "[bib_ref] Cells divide, Smith [/bib_ref]", "[bib_ref] Cells grow, Lee [/bib_ref]"
    assert f"[fig] Figure 1: Division {smith}. As shown before {smith} {lee} and in cells {lee}. [/fig]" in tagged.doc["text"]
    assert f"[table] Table 1: Rates from {lee}.\n| fast {smith} |\nAdapted from {lee}. [/table]" in tagged.doc["text"]
    # The caption clause a figure reference quotes holds no citation: no [bib_ref] nested in a [fig_ref].
    assert f"Cells divide {smith} ( [fig_ref] Figure 1: Division. [/fig_ref])." in tagged.doc["text"]


def test_citations_in_real_captions():
    path = JATS / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml"  # Figure 1: "(open arrows) [28,39] hypothesized"
    assert "A previous model (open arrows) hypothesized that" in doc_of(path)["text"]
    tagged = doc_of(path, JatsOptions(citations="meditron"))["text"]
    assert ("A previous model (open arrows) [bib_ref] Sizing the holin lesion with an endolysin-β-galactosidase fusion, "
            "Wang [/bib_ref] [bib_ref] Clocking out: modeling phage-induced lysis of Escherichia coli, Ryan [/bib_ref] "
            "hypothesized") in tagged
    mind_map = [p for p in CORPUS if p.name == "journal.pcbi.1000204.xml"][0]  # caption title cites Buzan
    both = doc_of(mind_map, JatsOptions(citations="meditron", figure_refs="meditron"))["text"]
    assert "(see also [fig_ref] Figure 1: A mind map summarizing the contents of this article in a convenient… [/fig_ref])" in both
    assert not re.search(r"\[fig_ref\][^\[]*\[bib_ref\]", both)


def test_brackets_emptied_by_removed_citations_and_links_go_written_ones_stay():
    def cite(n):
        return b'<xref ref-type="bibr" rid="r%d">%d</xref>' % (n, n)
    fn = b'<xref ref-type="fn" rid="fn1">a</xref>'
    image = b'<inline-formula><inline-graphic xlink:href="e1.gif"/></inline-formula>'
    body = (b'<body><p>Cells divide (e.g., [' + cite(1) + b', ' + cite(2) + b']). Rates (see ' + cite(1) + b' and Text S1) '
            b'and doses (' + cite(1) + b', p. 67) vary (CV, defined as SD/MLT; [' + cite(2) + b']); see (' + fn + b'), '
            b'the ratio (' + image + b') and Smith et al. [' + cite(1) + b']. Written ones stay: f() and [ ] and (, ).</p></body>')
    xml = (b'<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta><title-group><article-title>T'
           b'</article-title></title-group></article-meta></front>' + body + REFS + b"</article>")
    (item,) = parse_bytes(xml)
    assert item.doc["text"] == ("T\n\nCells divide. Rates (see Text S1) and doses (p. 67) vary (CV, defined as SD/MLT); "
                                "see, the ratio and Smith et al. Written ones stay: f() and [] and (,).")
    (tagged,) = parse_bytes(xml.replace(b'rid="r2"', b'rid="unknown"'), options=JatsOptions(citations="meditron"))
    assert "vary (CV, defined as SD/MLT);" in tagged.doc["text"]  # an unresolved reference goes, as MEDITRON did
    assert "Cells divide (e.g., [bib_ref] Cells divide, Smith [/bib_ref]). Rates (see [bib_ref]" in tagged.doc["text"]


@pytest.mark.parametrize("name, before, after", [
    ("journal.pbio.0040088.xml", "phylogenetic inference (e.g., [7, 8]).", "also phylogenetic inference.\n"),
    ("1471-2180-11-174.nxml", "(CV, defined as SD/MLT; [15,25,48,49])", "the coefficient of variation (CV, defined as SD/MLT) (F"),
    ("1471-2180-11-174.nxml", "tKCN [[26], their figure five].", "between tL - tKCN and tKCN [their figure five]."),
    ("journal.pone.0087236.xml", "squamosal ([39], fig. 1N, O; [22], fig. 3H, I, K)", "squamosal (fig. 1N, O; fig. 3H, I, K) or"),
    ("journal.ppat.0020025.xml", "R187 cells ([65]; ATCC: CRL-1912)", "from R187 cells (ATCC: CRL-1912) grown"),
    ("journal.pone.0012262.xml", "(g:Profiler, [156])", "genome signatures (g:Profiler) also reinforces"),
    ("journal.pcbi.1004152.xml", "(see [9] and S1 Text)", "empirical networks under study (see S1 Text)."),
    ("1472-6831-8-11.nxml", "by John et al. [18]. To confirm", "recent study by John et al. To confirm or refute"),
])
def test_removal_remnants_in_real_articles(name, before, after):
    """`before` is what the source says (citations as numbers); `after`, the document text."""
    path = [p for p in CORPUS if p.name == name][0]
    text = doc_of(path)["text"]
    assert after in text, (before, after)
    assert not re.search(r"\((?:e\.g\.|see(?: also)?|but see)?[,;\s]*\)|\([,;:] |[,;:]\)", text.replace("(P6.papl/r and P6.ppal/r,)", ""))


def test_figure_references_plain_or_tagged():
    path = JATS / "PMC1790863_plos-one_pone.0000217.nxml"
    assert "(Fig. 1)" in doc_of(path)["text"]
    tagged = doc_of(path, JatsOptions(figure_refs="meditron"))["text"]
    assert "[fig_ref] Figure 1: Fisher's geometric model in two-dimensional phenotypic space. [/fig_ref]" in tagged


def test_caption_modes():
    path = JATS / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml"
    caption = "Figure 1: Schematic presentation of two models of holin hole formation."
    tagged, plain, dropped = (doc_of(path, JatsOptions(captions=m))["text"] for m in ("tagged", "plain", "drop"))
    # 4 figures and the caption of one supplementary file ("Additional file 1"), 3 tables.
    assert f"[fig] {caption}" in tagged and tagged.count("[fig]") == 5 and tagged.count("[table]") == 3
    assert caption in plain and "[fig]" not in plain and "[table]" not in plain
    assert "Schematic presentation of two models" not in dropped and "[fig]" not in dropped


def test_table_bodies_dropped_by_default_or_linearised():
    path = JATS / "PMC2329613_bmc-oral-health_1472-6831-8-11.nxml"
    row = "| Functional limitation (9) | 10.6 | 7.8 | 1.2 | 0.9 |"
    assert row not in doc_of(path)["text"]
    linear = doc_of(path, JatsOptions(tables="linearize"))["text"]
    assert row in linear and "[table] Table 1: Mean total scores" in linear


def test_formula_modes_tex_mathml_and_image_only():
    tex_path = JATS / "PMC10200000_oai-pmh-getrecord.xml"
    tex = doc_of(tex_path)["text"]
    assert "[formula] E\\left( {{\\text{Li}}} \\right)_{{{\\text{morse}}}} = D_{0}" in tex  # TeX preferred, preamble gone
    assert "\\begin{document}" not in tex and "$$" not in tex
    plain = doc_of(tex_path, JatsOptions(formulas="plain"))["text"]
    assert "E\\left( {{\\text{Li}}}" in plain and "[formula]" not in plain
    assert "E\\left( {{\\text{Li}}}" not in doc_of(tex_path, JatsOptions(formulas="drop"))["text"]
    # MathML only (PLOS): flattened to its tokens.
    mathml = [doc_of(p)["text"] for p in CORPUS if "journal.pcbi.1004082" in p.name][0]
    assert re.search(r"\[formula\] [^\[]*σ[^\[]*\[/formula\]", mathml)
    # MathML read as written by hand (sources/mathml.py): scripts on their base, operators spaced,
    # fractions a/b; it read "S 2 ( A , B ) = 2 a b a + b".
    similarity = [doc_of(p)["text"] for p in CORPUS if "journal.pcbi.1004079" in p.name][0]
    assert "[formula] G = (V, E) [/formula]" in similarity
    assert "[formula] S2(A, B) = 2ab/(a + b) [/formula]" in similarity
    assert "[formula] S3(ABC) = 3/2((ab + ac + bc − abc)/(a + b + c)) [/formula]" in similarity
    # Image-only formulas cannot be recovered: dropped and counted.
    image = doc_of(JATS / "PMC1790863_plos-one_pone.0000217.nxml")
    assert "[formula]" not in image["text"] and '"formulas_image_only":24' in image["meta"]


# 129Xe as MDPI and Frontiers articles write it: the base, no postscripts, the prescript 129.
XE129 = (b'<inline-formula><mml:math id="M1"><mml:mmultiscripts><mml:mrow><mml:mi mathvariant="normal">Xe</mml:mi>'
         b'</mml:mrow><mml:mprescripts/><mml:none/><mml:mrow><mml:mn>129</mml:mn></mml:mrow></mml:mmultiscripts>'
         b'</mml:math></inline-formula>')


@pytest.mark.parametrize("formulas", ["tagged", "plain"])
def test_mathml_prescripts_come_before_their_base_and_formulas_keep_their_spacing(formulas):
    iodine = (b'<mml:math><mml:mmultiscripts><mml:mi>I</mml:mi><mml:mprescripts/><mml:mn>53</mml:mn><mml:mn>131</mml:mn>'
              b'</mml:mmultiscripts></mml:math>')
    tensor = (b'<mml:math><mml:mmultiscripts><mml:mi>R</mml:mi><mml:mi>i</mml:mi><mml:mi>j</mml:mi></mml:mmultiscripts>'
              b'<mml:mo>=</mml:mo><mml:mn>0</mml:mn></mml:math>')
    xml = (b'<article xmlns:mml="http://www.w3.org/1998/Math/MathML"><front><article-meta><title-group><article-title>'
           b'Hyperpolarized ' + XE129 + b' MRI of the lung</article-title></title-group>'
           b'<kwd-group><kwd>' + XE129 + b' MRI</kwd><kwd>' + XE129 + b'MRI</kwd></kwd-group></article-meta></front>'
           b'<body><p>We imaged ' + XE129 + b' MRI ventilation (' + XE129 + b'), then ' + XE129 + b'-weighted maps.</p>'
           b'<disp-formula><label>(1)</label>' + iodine + b'</disp-formula><disp-formula>' + tensor + b'</disp-formula>'
           b'</body></article>')
    (item,) = parse_bytes(xml, options=JatsOptions(formulas=formulas))
    text, meta = item.doc["text"], json.loads(item.doc["meta"])
    assert item.doc["title"] == "Hyperpolarized 129Xe MRI of the lung"
    assert meta["keywords"] == ["129Xe MRI", "129Xe MRI"]  # a keyword's formula no longer runs into its words
    assert "We imaged 129Xe MRI ventilation" in text and "Xe 129" not in text and "Xe129" not in text
    # Spaces only where the formula would touch a word: none inside brackets or before a hyphen.
    assert "ventilation (129Xe), then 129Xe-weighted maps." in text
    tag = (lambda f: f"[formula] {f} [/formula]") if formulas == "tagged" else (lambda f: f)
    assert f"\n\n{tag('53 131I')}\n\n{tag('Rij = 0')}" in text  # postscripts attach after the base


def test_summaries_are_kept_by_default_other_abstract_types_on_request():
    plos = JATS / "PMC3585041_plos-ntd_pntd.0002065.nxml"
    default = doc_of(plos)["text"]
    assert "\n\n# Author Summary\n\nRift Valley fever (RVF) is a mosquito-borne disease" in default
    assert "# Author Summary" not in doc_of(plos, JatsOptions(abstract_types=frozenset()))["text"]
    editors = doc_of(CORPORA / "fulltext" / "plos_allofplos" / "journal.pmed.1001300.xml")["text"]
    assert "\n\n# Editors' Summary\n\n## Background\n\nIn 2010, 8.8 million people developed tuberculosis" in editors
    # Highlights, teasers and graphical abstracts repeat the abstract: opt-in.
    cell = JATS / "PMC9500000_oai-pmh-getrecord.xml"
    assert "[fig]" in doc_of(cell)["text"] and "Huntington" in doc_of(cell)["text"]
    assert "Metzger et al. describe a drug-screening platform" not in doc_of(cell)["text"]
    more = doc_of(cell, JatsOptions(abstract_types=frozenset({"teaser", "graphical"})))["text"]
    assert "\n\n# Teaser\n\nMetzger et al. describe a drug-screening platform" in more
    # An abstract without a title of its own is labelled by its kind.
    xml = _article(b"<body><p>Main text.</p></body>").replace(
        b"</abstract>", b'</abstract><abstract abstract-type="summary"><p>Plain words for readers.</p></abstract>')
    assert "# Abstract\n\nThe abstract says enough.\n\n# Author summary\n\nPlain words for readers." in \
        parse_bytes(xml)[0].doc["text"]


def test_summaries_and_supplementary_captions_come_back_by_default():
    """Every paragraph of a summary abstract and every supplementary file's caption of the real
    articles is in the default document (an independent reading of the XML, as for fidelity)."""
    kept = lost = 0
    for path in CORPUS + sorted(JATS.iterdir()):
        item = parsed(path)[0]
        if item.drop_reason:
            continue
        doc = _shingles(_words(item.doc["text"]))
        article = next(etree.fromstring(path.read_bytes(), PLAIN).iter("{*}article"))
        units = [p for a in article.iter("{*}abstract") if a.get("abstract-type") in ("summary", "editors-summary",
                 "editor", "patient", "synopsis") for p in a.iter("{*}p")]
        units += [c for s in article.iter("{*}supplementary-material") for c in s.iterfind("{*}caption")]
        for unit in units:
            # A caption's file-format note "(PDF)" or "(28 KB DOC)" is not text: not looked for.
            words = _words(re.sub(r"\((?:[\d.]+\s*[KMG]B\s+)?[A-Z0-9]{2,5}\)", " ", " ".join(unit.itertext())))
            if len(words) < 4:
                continue
            wanted = _shingles(words)
            if len(wanted & doc) >= 0.8 * len(wanted):
                kept += 1
            else:
                lost += 1
    assert kept > 600 and lost == 0, (kept, lost)
    supporting = doc_of(CORPORA / "fulltext" / "plos_allofplos" / "journal.pbio.1001473.xml")["text"]
    assert supporting.count("[fig] Figure S") == 30 and "(PDF)" not in supporting and "(TIF)" not in supporting
    assert "\n\n# Supporting Information\n\n[fig] Figure S1:" in supporting


def test_back_matter_dropped_by_default_and_kept_on_request():
    path = JATS / "PMC1790863_plos-one_pone.0000217.nxml"
    assert "We would like to thank Art Poon" not in doc_of(path)["text"]
    assert "We would like to thank Art Poon" in doc_of(path, JatsOptions(back_matter=True))["text"]
    # Metadata footnotes stay out even then.
    assert "The authors have declared that no competing interests exist" not in doc_of(path, JatsOptions(back_matter=True))["text"]


def test_sections_headings_lists():
    text = doc_of(JATS / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml")["text"]
    assert "\n# Abstract\n\n## Background\n\nDespite identical genotypes" in text
    assert "\n# Results\n" in text and "\n## Effect of allelic variation in holin sequence\n" in text
    plos = [doc_of(p)["text"] for p in CORPUS if "journal.pcbi.1004082" in p.name][0]
    assert "\n### Linear readout model\n" in plos
    listed = [t for t in (doc_of(p)["text"] for p in CORPUS if parsed(p)[0].drop_reason is None) if "\n- " in t]
    assert len(listed) >= 5


def _article(body: bytes, extra: bytes = b"") -> bytes:
    return (b'<article article-type="research-article"><front><article-meta><article-id pub-id-type="pmc">1</article-id>'
            b'<title-group><article-title>Title</article-title></title-group>'
            b'<abstract><p>The abstract says enough.</p></abstract></article-meta></front>' + body + extra + b"</article>")


def test_abstract_only_articles_and_sub_articles():
    (item,) = parse_bytes(_article(b""))
    assert item.drop_reason is None and item.doc["text"] == "Title\n\n# Abstract\n\nThe abstract says enough."
    (item,) = parse_bytes(_article(b""), options=JatsOptions(abstract_only=False))
    assert item.drop_reason == "no_body"
    sub = (b'<sub-article article-type="reviewer-report"><front-stub><title-group><article-title>Reviewer report'
           b'</article-title></title-group></front-stub><body><p>The reviewer liked it.</p></body></sub-article>')
    xml = _article(b"<body><p>Main text.</p></body>", sub)
    assert "reviewer" not in parse_bytes(xml)[0].doc["text"]
    assert "# Reviewer report\n\nThe reviewer liked it." in parse_bytes(xml, options=JatsOptions(sub_articles=True))[0].doc["text"]


def test_renderer_mixins_share_only_what_the_protocol_names():
    """Each mixin uses on `self` only its own methods and what RendererParts names, and Renderer
    provides every one of those (an implementation, not the Protocol's stub)."""
    import ast
    import inspect

    from sources.pmc.jats import back_matter, floats, running_text, sections
    from sources.pmc.jats.renderer import Renderer
    from sources.pmc.jats.renderer_parts import RendererParts

    named = set(RendererParts.__annotations__) | {
        name for name, value in vars(RendererParts).items() if inspect.isfunction(value) and not name.startswith("__")}
    assert {"block", "inline_text", "float_", "formula", "o", "citations"} <= named
    for module, mixin in ((sections, sections.Sections), (back_matter, back_matter.BackMatter),
                          (floats, floats.Floats), (running_text, running_text.RunningText)):
        assert RendererParts in mixin.__mro__, mixin
        tree = next(node for node in ast.walk(ast.parse(inspect.getsource(module)))
                    if isinstance(node, ast.ClassDef) and node.name == mixin.__name__)
        own = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name) and node.value.id == "self"}
        assert used - own <= named, (mixin.__name__, sorted(used - own - named))
    renderer = Renderer(etree.fromstring(b"<article/>"), JatsOptions())
    for name in named:
        value = getattr(renderer, name)
        if callable(value) and inspect.ismethod(value):
            assert not value.__func__.__qualname__.startswith("RendererParts."), name


def test_options_are_checked():
    with pytest.raises(ValueError):
        JatsOptions(citations="keep")
    with pytest.raises(ValueError):
        JatsOptions.from_mapping({"caption": "tagged"})
    assert JatsOptions.from_mapping({"abstract_types": ["Teaser"], "tables": None}).abstract_types == {"teaser"}


# --------------------------------------------------------------------------- fidelity


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", MARKERS.sub(" ", text).lower())


def _shingles(words: list[str], n: int = 12) -> set:
    """Runs of `n` letters of the words written together: how a formula is spaced ("R i j" or "Rij",
    "a b" or "a/b") does not change them, a lost or invented word does."""
    letters = "".join(words)
    return {letters[i:i + n] for i in range(max(1, len(letters) - n + 1))}


def _text_without_nested(el, skip=("p",)) -> str:
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and etree.QName(child).localname not in skip:
            parts.append(_text_without_nested(child, skip))
        parts.append(child.tail or "")
    return " ".join(parts)


@lru_cache(maxsize=None)
def independent_reading(path: Path) -> tuple[list[str], set]:
    """(every <p> of the abstracts and body plus every figure/table caption, shingles of the whole article).

    Plain lxml and itertext: nothing of the parser under test is used.
    """
    root = etree.fromstring(path.read_bytes(), PLAIN)
    article = next(el for el in root.iter("{*}article"))
    units: list[str] = []

    def walk(el, in_scope: bool, in_table: bool) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname
            if name in ("sub-article", "back", "ref-list"):
                continue
            if in_scope and name == "p" and not in_table:
                units.append(_text_without_nested(child, skip=("p", "fig", "table-wrap", "caption")))
            if in_scope and name == "caption" and etree.QName(el).localname in ("fig", "table-wrap"):
                units.append(" ".join(child.itertext()))
                continue
            walk(child, in_scope or name in ("abstract", "body", "floats-group"),
                 in_table or name in ("table", "table-wrap-foot"))

    walk(article, False, False)
    return units, _shingles(_words(" ".join(article.itertext())))


def fidelity(options: JatsOptions) -> tuple[float, float, int]:
    """(share of XML paragraphs found in the documents, share of document text found in the XML, paragraphs)."""
    found = total = doc_hits = doc_total = 0
    for path in CORPUS:
        item = parsed(path, options)[0]
        if item.drop_reason:
            continue
        doc_shingles = _shingles(_words(item.doc["text"]))
        units, xml_shingles = independent_reading(path)
        for unit in units:
            words = _words(unit)
            if len(words) < 4:
                continue  # "Fig 1" and the like say nothing about fidelity
            wanted = _shingles(words)
            total += 1
            found += len(wanted & doc_shingles) >= 0.8 * len(wanted)
        doc_total += len(doc_shingles)
        doc_hits += len(doc_shingles & xml_shingles)
    return found / total, doc_hits / doc_total, total


def test_fidelity_against_an_independent_reading(capsys):
    recall, precision, paragraphs = fidelity(KEEP_ALL)
    default_recall, default_precision, _ = fidelity(JatsOptions())
    with capsys.disabled():
        print(f"\n[pmc fidelity] {paragraphs} XML paragraphs+captions in {len(CORPUS)} articles: "
              f"found in documents {recall:.4f} (keep-all) / {default_recall:.4f} (defaults); "
              f"document 12-letter runs found in the XML {precision:.4f} / {default_precision:.4f}")
    assert recall >= 0.99, recall  # nearly every paragraph appears
    assert precision >= 0.99, precision  # almost nothing is invented
    assert default_precision >= 0.99


def test_finishing_a_run_of_text():
    """Whitespace collapsed, entities escaped twice unescaped once, no space before closing marks."""
    from sources.pmc.jats.text import finish_text
    from sources.xml_text import clean_text

    assert finish_text(" Cells\n\tdivide ( fast ) , 10\xa0% &amp;lt; 20 . ") == "Cells divide ( fast), 10 % &lt; 20."
    for code in range(0x110000):  # clean_text's shortcut for already-clean text is exact
        if not 0xD800 <= code <= 0xDFFF:
            text = f"a{chr(code)}b"
            assert clean_text(text) == " ".join(text.split()), hex(code)
