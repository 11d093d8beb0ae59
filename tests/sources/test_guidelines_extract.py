"""Extraction, cleaning and not-a-guideline checks on the recorded guideline pages.

Every page in ../shared/fixtures/guidelines_html must end as a clean document or a ledger entry
with the right reason.
"""
from __future__ import annotations

import re

import pytest
from conftest import FIXTURES
from guideline_site import minimal_pdf

from sources.errors import InputError
from sources.guidelines.classify import classify
from sources.guidelines.clean import clean_text
from sources.guidelines.parse import parse_page
from sources.guidelines.pdf_extract import paragraphs
from sources.guidelines.sections import apply_sections
from sources.guidelines.site import Sections
from sources.guidelines.sites import SITES
from sources.guidelines.store import PageStore

PAGES = FIXTURES / "guidelines_html"

# fixture file -> (site, expected ledger reason or None for a guideline document)
EXPECTED = {
    "cdc_mmwr_2001_v50n42p909_anthrax_interim_guidelines_exposure_antimicrobial.html": ("cdc_mmwr", None),
    "cdc_mmwr_2001_v50n43p941_anthrax_interim_guidelines_clinical_evaluation.html": ("cdc_mmwr", None),
    "cdc_mmwr_2000_v49n02p25_west_nile_virus_guidelines.html": ("cdc_mmwr", None),
    "cdc_pcd_2024_24_0005_status_of_asthma.html": ("cdc_pcd", None),
    "cdc_pcd_2024_TOC_listing_page.html": ("cdc_pcd", "listing_page"),
    "ahrq_ngc_synthesis_51014_pharmacological_management_hypertension.html": ("ahrq_ngc", None),
    "ahrq_ngc_commentary_500_request_timed_out_error_page.html": ("ahrq_ngc", "error_page"),
}

# Text that is navigation, cookie, share or "last reviewed" furniture on these pages.
BOILERPLATE = [
    r"last reviewed", r"skip navigation", r"\bfacebook\b", r"\btwitter\b", r"\blinkedin\b", r"share to",
    r"cookie", r"log into my ngc", r"sign in", r"remember me", r"health topics a-z", r"contact cdc",
    r"home \| about", r"mmwr search", r"return to top", r"expand all", r"view page in",
    r"persons using assistive technology", r"new this week", r"\bsubscribe\b",
]


def _outcome(tmp_path, name):
    site = SITES[EXPECTED[name][0]]
    store = PageStore(tmp_path)
    page = store.save(site.url(f"/recorded/{name}"), "page", 200, "text/html", (PAGES / name).read_bytes())
    outcomes = list(parse_page(site, page))
    assert len(outcomes) == 1
    return outcomes[0]


def test_every_fixture_page_is_covered():
    assert sorted(p.name for p in PAGES.glob("*.html")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_page_becomes_document_or_ledger_entry(tmp_path, name):
    outcome = _outcome(tmp_path, name)
    assert outcome.reason == EXPECTED[name][1], outcome.detail
    doc = outcome.doc
    assert doc["id"].startswith(f"guidelines/{SITES[EXPECTED[name][0]].source}:")
    assert doc["subset"] == "guidelines" and doc["title"]
    if outcome.reason is None:
        text = doc["text"]
        assert text.startswith("# ") and len(text.split()) > 900
        for pattern in BOILERPLATE:
            assert not re.search(pattern, text, re.IGNORECASE), f"{name}: boilerplate {pattern!r} left in the text"


def test_headings_and_lists_are_kept(tmp_path):
    anthrax = _outcome(tmp_path, "cdc_mmwr_2001_v50n43p941_anthrax_interim_guidelines_clinical_evaluation.html").doc["text"]
    # h1 > h3 > h4 on the page become # > ## > ###
    assert "\n### New York\n" in anthrax and "\n## Editorial Note:\n" in anthrax
    assert "New York City (Figure 1)." in anthrax and "( Figure" not in anthrax  # MMWR pads its references
    assert "References" not in anthrax.split("\n")  # the reference list is cut
    west_nile = _outcome(tmp_path, "cdc_mmwr_2000_v49n02p25_west_nile_virus_guidelines.html").doc["text"]
    assert "\n- Active bird surveillance to detect" in west_nile
    ngc = _outcome(tmp_path, "ahrq_ngc_synthesis_51014_pharmacological_management_hypertension.html").doc["text"]
    assert "\n## Areas of Agreement and Difference\n" in ngc and "\n#### Diastolic Blood Pressure (DBP) Treatment Thresholds and Goals\n" in ngc
    assert "DBP ≥90 mmHg" in ngc and "goal of <90 mmHg" in ngc  # notation survives extraction and cleaning
    assert "\n- American College of Physicians (ACP)" in ngc
    assert "View Summary" not in ngc and "primary care setting. 2014 Oct 01\n" in ngc  # each compared guideline's link text goes


def test_pcd_article_keeps_sections_and_tables_are_cut(tmp_path):
    text = _outcome(tmp_path, "cdc_pcd_2024_24_0005_status_of_asthma.html").doc["text"]
    for heading in ("## Introduction", "## Methods", "### Data sources", "## Results", "## Discussion"):
        assert f"\n{heading}\n" in text
    assert "Pate CA, Zahran HS. The Status of Asthma" not in text  # suggested citation removed
    assert "\n## References" not in text and "Table 3. Asthma Deaths" not in text


def test_documents_ids_are_stable_and_canonical(tmp_path):
    site = SITES["cdc_mmwr"].with_base("http://127.0.0.1:9/guidelines/cdc_mmwr")
    store = PageStore(tmp_path)
    name = "cdc_mmwr_2000_v49n02p25_west_nile_virus_guidelines.html"
    page = store.save(site.url("/mmwr/preview/mmwrhtml/mm4902a1.htm"), "page", 200, "text/html", (PAGES / name).read_bytes())
    doc = next(parse_page(site, page)).doc
    assert doc["url"] == "https://www.cdc.gov/mmwr/preview/mmwrhtml/mm4902a1.htm"
    live = SITES["cdc_mmwr"]
    page2 = store.save(live.url("/mmwr/preview/mmwrhtml/mm4902a1.htm"), "page", 200, "text/html", (PAGES / name).read_bytes())
    assert next(parse_page(live, page2)).doc["id"] == doc["id"]
    assert doc["license"] == "public-domain" and '"redistributable":true' in doc["meta"]


# --- cleaning: MEDITRON's bugs must not come back ---------------------------------------------------
def test_cleaning_keeps_medical_notation():
    text = ("Children aged <5 years and adults >65 years; ≥2 doses, ≤10 mg/kg.\n"
            "Risk ratio 1.8 [95% CI 1.2-3.4] versus [OR 2.1, 95% CI 1.1–4.0].\n"
            "often prescribed; oral route preferred\n"
            "o not a bullet at top level")
    assert clean_text(text) == text


def test_cleaning_strips_only_numeric_citation_markers():
    assert clean_text("Shown before [1]. Confirmed [2,3] and [4–6]; also [7, 9-11].") == "Shown before. Confirmed and; also."
    assert clean_text("Reported since the last report ( 1 ) and ( 2,3 ).") == "Reported since the last report and."
    assert clean_text("among 21 cases (16 confirmed) and criterion (2)") == "among 21 cases (16 confirmed) and criterion (2)"
    assert clean_text("as in New York City ( Figure 1 ) and (see Box 1 )") == "as in New York City (Figure 1) and (see Box 1)"
    assert clean_text("• first\n* second\n  o nested") == "- first\n- second\n  - nested"


def test_section_rules():
    text = "# Title\n\nIntro\n\n## Key points\n\nKeep\n\n## Committee members\n\nDr X\n\n### Chair\n\nDr Y\n\n## Treatment\n\nDose <5 mg\n\nPage last reviewed: May 2, 2001\n\n## References\n\n1. A"
    rules = Sections(start=(r"^key points$",), stop=(r"^references$",), drop=(r"^committee members$",),
                     remove_lines=(r"^page last reviewed",))
    assert apply_sections(text, rules) == "# Title\n\n## Key points\n\nKeep\n\n## Treatment\n\nDose <5 mg"


@pytest.mark.parametrize("title,text,reason", [
    ("404 Not Found", "# 404 Not Found\n\nThe page you requested", "error_page"),
    ("Erratum: Vol. 50, No. 42", "# Erratum\n\n" + "word " * 300, "erratum"),
    ("Correction notice", "text " * 300, "erratum"),
    ("Short note", "# Short note\n\nOnly a few words here.", "too_short"),
    ("Hypertension in adults", "# Hypertension\n\n" + "Treat adults with stage 2 hypertension. " * 40, None),
    ("Error Prevention in Medication Use", "# Error Prevention\n\n" + "Double-check doses of insulin. " * 60, None),
])
def test_classify_reasons(title, text, reason):
    assert classify(title, text).reason == reason


# --- PDF ----------------------------------------------------------------------------------------------
def test_pdf_page_extracts_text_with_notation(tmp_path):
    site = SITES["cdc_stacks"]
    lines = ["Interim guidance for testing", "Treat children aged <5 years with >=2 doses [95% CI 1.2-3.4]."] + [
        f"Recommendation {i}: offer the vaccine to adults and adolescents at increased risk." for i in range(40)]
    page = PageStore(tmp_path).save(site.url("/view/cdc/1/cdc_1_DS1.pdf"), "page", 200, "application/pdf", minimal_pdf(lines))
    outcome = next(parse_page(site, page))
    assert outcome.reason is None
    assert outcome.doc["text"].startswith("# Interim guidance for testing")
    assert "<5 years with >=2 doses [95% CI 1.2-3.4]." in outcome.doc["text"]


def test_pdf_lines_are_joined_into_paragraphs(tmp_path):
    """A PDF typesets a paragraph over lines; the text is its paragraphs, so that the filter's line
    rules do not judge a short last line ("mg daily.") on its own (C4 removed it)."""
    site = SITES["cdc_stacks"]
    lines = [
        "Treatment of latent infection",
        "Adults with latent infection should receive isoniazid for nine months, or",
        "rifampin for four months when isoniazid cannot be given, at a dose of 10",
        "mg daily.",
        "Monitoring",
        "Liver enzymes are measured at baseline in adults who drink alcohol daily,",
        "who take other hepatotoxic drugs, or who have chronic liver disease of any",
        "cause.",
        "- Repeat the measurement monthly when a baseline result was abnormal and",
        "the patient remains on treatment.",
        "- Stop treatment when symptoms of hepatitis appear.",
    ]
    page = PageStore(tmp_path).save(site.url("/view/cdc/3/cdc_3_DS1.pdf"), "page", 200, "application/pdf", minimal_pdf(lines))
    text = next(parse_page(site, page)).doc["text"]
    assert (
        "Adults with latent infection should receive isoniazid for nine months, or rifampin for four months"
        " when isoniazid cannot be given, at a dose of 10 mg daily.\n\nMonitoring\n\nLiver enzymes"
    ) in text
    assert "\n\n- Repeat the measurement monthly when a baseline result was abnormal and the patient remains on" \
        " treatment.\n\n- Stop treatment" in text
    contents = ["1. Introduction 3", "2. Treatment of latent infection 5", "3. Monitoring 9"]
    assert paragraphs(contents) == contents  # a page of short lines: a line a paragraph


@pytest.mark.parametrize("body", [b"%PDF-1.4\n1 0 obj << /Type /Catalog", b"<html>not a pdf</html>", b"%PDF-1.7\n" + b"\x00" * 50])
def test_malformed_pdf_is_an_input_error(tmp_path, body):
    site = SITES["cdc_stacks"]
    page = PageStore(tmp_path).save(site.url("/view/cdc/2/cdc_2_DS1.pdf"), "page", 200, "application/pdf", body)
    with pytest.raises(InputError):
        list(parse_page(site, page))


def test_a_page_of_millions_of_empty_elements_is_refused_before_it_is_parsed(tmp_path):
    """A real guideline page with 3 million empty elements inserted (21 MB, under the fetch cap of
    20 MiB per page plus a little): parsed whole it took 1.6 GB; now one line, under 500 MB."""
    from peak_rss import run_measured

    page = (FIXTURES / "guidelines_html" / "cdc_pcd_2024_24_0005_status_of_asthma.html").read_bytes()
    at = page.rindex(b"</body>")
    hostile = tmp_path / "page.html"
    hostile.write_bytes(page[:at] + b"<i></i>" * 3_000_000 + page[at:])
    out, peak_mb = run_measured(
        "from sources.guidelines.html_extract import extract_html\n"
        "from sources.errors import HostileInputError\n"
        f"try:\n    extract_html(open({str(hostile)!r}, 'rb').read())\n"
        "except HostileInputError as error:\n    print(error)\n")
    assert out.strip().startswith("HTML: page of 30") and out.strip().endswith("elements, attributes and references (cap 1000000)")
    assert peak_mb < 500, f"peak RSS {peak_mb:.0f} MB"


def test_a_tag_of_millions_of_attributes_is_refused_at_once(tmp_path):
    """libxml2's HTML parser compares each attribute with the ones before it: 2.5 million
    valueless attributes in one tag of a real page ran for more than 10 minutes; now one line."""
    from peak_rss import run_measured

    page = (FIXTURES / "guidelines_html" / "cdc_pcd_2024_24_0005_status_of_asthma.html").read_bytes()
    at = page.rindex(b"</body>")
    hostile = tmp_path / "page.html"
    hostile.write_bytes(page[:at] + b"<i " + b" ".join(b"a%d" % i for i in range(2_500_000)) + b"></i>" + page[at:])
    out, _ = run_measured(
        "from sources.guidelines.html_extract import extract_html\n"
        "from sources.errors import HostileInputError\n"
        f"try:\n    extract_html(open({str(hostile)!r}, 'rb').read())\n"
        "except HostileInputError as error:\n    print(error)\n", timeout=60)
    assert out.strip() == "HTML: a tag of up to 2500000 attributes (cap 10000)"
