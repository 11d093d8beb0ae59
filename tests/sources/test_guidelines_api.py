"""API adapters (MediaWiki, OAI-PMH, E-utilities) and the HTML-only sites without recorded pages.

Responses are built here from each interface's documented format (see each adapter's docstring)
and served from 127.0.0.1; E-utilities bodies are real PubMed records from ../shared.
"""
from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from conftest import FIXTURES
from guideline_site import Page, Site, html, minimal_pdf, serve

from sources.errors import RemoteError
from sources.guidelines.fetcher import fetch_site
from sources.guidelines.parse import ParseOptions, parse_page
from sources.guidelines.sites import SITES
from sources.guidelines.store import PageStore
from sources.http import HttpClient

ASCII_PROSE = " ".join(f"Line {i} recommends a dose of <5 mg/kg for children and >=2 doses for adults." for i in range(80))
PROSE = " ".join(f"Sentence {i} recommends a dose of <5 mg/kg for children and ≥2 doses for adults." for i in range(30))


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


@pytest.fixture
def local():
    site = Site(routes={"/robots.txt": Page(b"User-agent: *\nAllow: /\n", "text/plain")})
    server = serve(site)
    yield site
    server.shutdown()


def run(entry, tmp_path):
    with HttpClient(retries=0, timeout=5) as client:
        fetch_site(replace(entry, rate=100.0), tmp_path, client=client)
    store = PageStore(tmp_path)
    outcomes = [o for page in store.pages() for o in entry.adapter.parse(entry, page, ParseOptions())]
    return store, outcomes


def test_mediawiki_allpages_then_parse(local, tmp_path):
    entry = SITES["wikidoc"].with_base(local.base)
    api = entry.adapter
    first = api.api_url(entry, action="query", list="allpages", apnamespace="0", apfilterredir="nonredirects", aplimit="500")
    second = api.api_url(entry, action="query", list="allpages", apnamespace="0", apfilterredir="nonredirects", aplimit="500", apcontinue="Measles")
    json_page = lambda data: Page(json.dumps(data).encode(), "application/json")
    article = (f'<div class="mw-parser-output"><div id="toc">Contents 1 Overview</div><h2>Overview</h2><p>{PROSE}</p>'
               '<ul><li>Fever ≥38.5 °C</li><li>Rash</li></ul><table><tr><th>Drug</th><th>Dose</th></tr>'
               '<tr><td>Salbutamol</td><td>2.5 mg</td></tr></table>'
               '<h2>References</h2><ol class="references"><li>Ref</li></ol></div>')
    local.routes.update({
        path_of(first): json_page({"continue": {"apcontinue": "Measles"}, "query": {"allpages": [{"pageid": 1, "title": "Asthma"}]}}),
        path_of(second): json_page({"query": {"allpages": [{"pageid": 2, "title": "Measles"}]}}),
        path_of(api.article_url(entry, "Asthma")): json_page({"parse": {"title": "Asthma", "pageid": 1, "revid": 9, "text": article}}),
        path_of(api.article_url(entry, "Measles")): json_page({"error": {"code": "missingtitle", "info": "The page you specified doesn't exist."}}),
    })
    with HttpClient(retries=0, timeout=5) as client:
        fetch_site(replace(entry, rate=100.0), tmp_path, client=client)
    store = PageStore(tmp_path)
    assert len(store.pages()) == 4  # two allpages listings, two articles
    measles = next(p for p in store.pages() if "Measles" in p.url and "parse" in p.url)
    with pytest.raises(RemoteError, match="missingtitle"):  # becomes this page's error-ledger row
        list(entry.adapter.parse(entry, measles, ParseOptions()))
    asthma = next(p for p in store.pages() if "Asthma" in p.url)
    (doc_outcome,) = list(entry.adapter.parse(entry, asthma, ParseOptions()))
    doc = doc_outcome.doc
    assert doc_outcome.reason is None
    assert doc["url"] == "https://www.wikidoc.org/index.php/Asthma" and doc["license"] == "CC-BY-SA-3.0"
    assert doc["text"].startswith("# Asthma\n\n## Overview\n") and "- Fever ≥38.5 °C" in doc["text"]
    # Its table rows stay: the site's rule against wiki-table debris ("|-", "| key = value") spares them.
    assert "| Drug | Dose |\n| Salbutamol | 2.5 mg |" in doc["text"]
    assert "Contents" not in doc["text"] and "Ref" not in doc["text"].split("\n")[-1]


OAI_NS = 'xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/"'


def oai_record(ident: str, title: str, dctype: str, links: list[str], deleted: bool = False) -> str:
    if deleted:
        return f'<record><header status="deleted"><identifier>{ident}</identifier></header></record>'
    ids = "".join(f"<dc:identifier>{link}</dc:identifier>" for link in links)
    return (f"<record><header><identifier>{ident}</identifier><datestamp>2023-01-01</datestamp></header><metadata>"
            f"<oai_dc:dc><dc:title>{title}</dc:title><dc:type>{dctype}</dc:type><dc:language>en</dc:language>"
            f"<dc:date>2023-03-15</dc:date><dc:rights>CC BY-NC-SA 3.0 IGO</dc:rights>{ids}</oai_dc:dc></metadata></record>")


def test_oai_pmh_lists_records_with_resumption_and_fetches_pdfs(local, tmp_path):
    entry = SITES["who_iris"].with_base(local.base)
    api = entry.adapter
    pdf_url = f"{local.base}/bitstreams/10665/1/guideline.pdf"
    page1 = (f'<?xml version="1.0"?><OAI-PMH {OAI_NS}><ListRecords>'
             + oai_record("oai:iris:1", "WHO guideline on malaria", "Guideline", [f"{local.base}/handle/10665/1", pdf_url])
             + oai_record("oai:iris:2", "Annual report 2022", "Report", [f"{local.base}/handle/10665/2"])
             + '<resumptionToken cursor="0">tok-2</resumptionToken></ListRecords></OAI-PMH>')
    page2 = (f'<?xml version="1.0"?><OAI-PMH {OAI_NS}><ListRecords>'
             + oai_record("oai:iris:3", "WHO guideline without a PDF", "Guideline", [f"{local.base}/handle/10665/3"])
             + oai_record("oai:iris:4", "", "", [], deleted=True)
             + '<resumptionToken cursor="2"/></ListRecords></OAI-PMH>')
    local.routes.update({
        path_of(api.list_url(entry, None)): Page(page1.encode(), "text/xml"),
        path_of(api.list_url(entry, "tok-2")): Page(page2.encode(), "text/xml"),
        urlsplit(pdf_url).path: Page(minimal_pdf(["Malaria guideline"] + [ASCII_PROSE[i:i + 90] for i in range(0, len(ASCII_PROSE), 90)]), "application/pdf"),
    })
    _, outcomes = run(entry, tmp_path)
    reasons = sorted((o.doc["title"], o.reason) for o in outcomes)
    assert reasons == [("Annual report 2022", "not_a_guideline_type"), ("WHO guideline on malaria", None),
                       ("WHO guideline without a PDF", "no_fulltext")]
    pdf_doc = next(o.doc for o in outcomes if o.doc["title"] == "WHO guideline on malaria")
    assert pdf_doc["license"] == "CC-BY-NC-SA-3.0-IGO" and pdf_doc["date"] == "2023-03-15"
    assert "<5 mg/kg" in pdf_doc["text"] and pdf_doc["url"] == "https://iris.who.int/bitstreams/10665/1/guideline.pdf"


def test_eutils_guideline_subset_reuses_the_pubmed_parser(local, tmp_path):
    entry = SITES["pubmed_guidelines"].with_base(local.base)
    api = entry.adapter
    body = (FIXTURES / "pubmed_xml" / "efetch_pubmed_35123456_structured_nlmcategory.xml").read_bytes()
    search = b"<eSearchResult><Count>1</Count><RetMax>1</RetMax><RetStart>0</RetStart><IdList><Id>35123456</Id></IdList></eSearchResult>"
    local.routes.update({
        path_of(api.search_url(entry, 0, 10)): Page(search, "text/xml"),
        path_of(api.fetch_url(entry, ["35123456"])): Page(body, "text/xml"),
    })
    with HttpClient(retries=0, timeout=5) as client:
        fetch_site(replace(entry, rate=100.0), tmp_path, client=client, limit=10)
    store = PageStore(tmp_path)
    outcomes = [o for p in store.pages() for o in api.parse(entry, p, ParseOptions())]
    (outcome,) = outcomes
    doc = outcome.doc
    assert doc["pmid"] == "35123456" and doc["source"] == "guidelines/pubmed" and doc["subset"] == "guidelines"
    assert doc["url"] == "https://pubmed.ncbi.nlm.nih.gov/35123456/" and doc["text"].startswith("# ")
    assert all("api_key" not in e for e in (tmp_path / "manifest.jsonl").read_text().split("\n"))


# --- HTML sites without recorded pages: pages built after the layout MEDITRON's scrapers relied on ----
LAYOUTS = {
    "nice": ("/guidance/ng1/chapter/Recommendations",
             '<nav>NICE menu</nav><div class="chapter"><h1>1 Recommendations</h1><p>{prose}</p><h2>1.1 Diagnosis</h2>'
             '<ul><li>Offer spirometry to people aged ≥5 years</li></ul><h2>Committee members</h2><p>Dr A</p></div>'
             '<footer>Do not distribute</footer>'),
    "aafp": ("/family-physician/patient-care/clinical-recommendations/all-clinical-recommendations/asthma.html",
             '<main><div class="aem-Grid"><h1>Asthma</h1><p>{prose}</p><div class="share-bar">Share Facebook</div></div></main>'),
    "idsa": ("/practice-guideline/community-acquired-pneumonia/",
             '<header>IDSA menu</header><article><h1>Community-acquired pneumonia</h1><p>{prose}</p>'
             '<h2>Related guidelines</h2><p>See also HAP</p></article>'),
    "cps": ("/en/documents/position/bronchiolitis",
            '<div class="cell main-body"><h1>Bronchiolitis</h1><p>{prose}</p><h2>Acknowledgements</h2><p>Thanks</p></div>'),
    "rch": ("/clinicalguide/guideline_index/Asthma_acute/",
            '<div id="main-content"><h1>Asthma acute</h1><p>See also other guidelines</p><h2>Key points</h2>'
            '<p>{prose}</p><h2>Parent information</h2><p>Leaflet</p><p>Last updated May 2023</p></div>'),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_html_site_entries_on_built_layouts(tmp_path, name):
    entry = SITES[name]
    path, body = LAYOUTS[name]
    assert any(p.search(path) for p in entry.page_res)  # the page pattern recognises its pages
    page = PageStore(tmp_path).save(entry.url(path), "page", 200, "text/html", html("x", body.format(prose=PROSE)))
    (outcome,) = list(parse_page(entry, page))
    text = outcome.doc["text"]
    assert outcome.reason is None, outcome.detail
    assert "<5 mg/kg" in text and text.startswith("# ")
    for furniture in ("NICE menu", "Do not distribute", "Committee", "Dr A", "Share", "IDSA menu", "See also HAP",
                      "Acknowledgements", "Parent information", "Leaflet", "Last updated", "See also other"):
        assert furniture not in text, (name, furniture)


def test_aafp_endorsement_pages_are_ledgered(tmp_path):
    entry = SITES["aafp"]
    body = f'<main><div class="aem-Grid"><h1>Hypertension</h1><p>The AAFP supports the ACC/AHA guideline. {PROSE}</p></div></main>'
    page = PageStore(tmp_path).save(entry.url("/x.html"), "page", 200, "text/html", html("x", body))
    assert next(parse_page(entry, page)).reason == "endorsement"
