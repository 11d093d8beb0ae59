"""Numeric citation markers are removed, and the bracketed numbers of results are not
(curation/citations.py): every case below is a real text of ../shared."""
from __future__ import annotations

import pytest
import yaml
from conftest import CORPORA, FIXTURES, REPO

from curation.citations import remove_citation_markers
from curation.filters.c4 import remove_citations
from curation.filters.chain import build_chain, config_for_source
from realdata import cohen_docs
from sources.guidelines.clean import clean_text as clean_guideline
from sources.pmc.jats import parse_bytes

FILTER = yaml.safe_load((REPO / "params.yaml").read_text())["filter"]

KEPT = [  # what only looks like a citation marker, as written in the sources
    "the systolic value by 16 [6-22] and the diastolic value by 11 [4-22] mmHg",  # pubmed:10968237, IQR
    "coronary heart disease (20% [11-28]), and major cardiovascular events (21% [14-27])",  # pubmed:11130523, CI
    "from 1,764 mg/24 h [1,225-2,540] to 1,334 mg/24 h [890-1,998])",  # pubmed:11772908, thousands
    "Callopistria Hübner, [1821]), nor among genera",  # pubmed:31388326, an author's year
    "spike probability λ in the range [0, 1]. The probability",  # corpora/fulltext, an interval
    "number of infected cells are n̂0,−(α) ∈ [80] in the HIV-negative cohort",
    "over a time interval [140, 160] (in hours)",
    "(F[1,12] = 8.42, p = 0.0133)",  # PMC3166277, degrees of freedom
    "differed significantly (F [1, 17] = 14.87, p",  # pubmed:12826992
    "(CK, 91 U [60, 157]; CK-MB, 3 U [2, 4])",  # pubmed:11723019, units after a number
    "(230 mL [140-282] vs. 204 [135-270] mL)",  # pubmed:10960201
    "interval of [15, 30] mm translation and [15, 30] degrees rotation",  # journal.pone.0117688
    "area = 0.5 * ( ( x[0] * y[1] ) + ( x[1] * y[2] )",  # comp.graphics: indices
    "This article includes the following sections:\n[1] What is JPEG?\n[2] Why use JPEG?",  # a list's labels
]
REMOVED = [  # (source text, after)
    ("of the adult population in the US are hypertensive [1]. This has", "of the adult population in the US are hypertensive. This has"),
    ("adopted from many sources [1, 5, 8, 9, 17-19, 22, 23, 26], and we", "adopted from many sources, and we"),
    ("previously published data [5, 6] for felodipine", "previously published data for felodipine"),
    ("Salinibacter ruber [28]. Xanthorhodopsin", "Salinibacter ruber. Xanthorhodopsin"),
    ("according to Spalding et al. [25]. Subregions", "according to Spalding et al. Subregions"),
    ("shown before.[3][4] Then", "shown before. Then"),
]


@pytest.mark.parametrize("text", KEPT)
def test_what_only_looks_like_a_citation_stays(text):
    assert remove_citation_markers(text) == text
    assert "".join(clean_guideline(text).split()) == "".join(text.split())  # the guideline cleaner reads the same rule (and tidies spaces)
    assert remove_citations(text, medical=True) == text  # and C4's line pass


@pytest.mark.parametrize("text, after", REMOVED)
def test_citation_markers_go(text, after):
    assert remove_citation_markers(text) == after


def test_real_results_survive_the_shipped_chain():
    """Before, cleaning (and C4's `[\\d*]`) took 105 bracketed results out of the Cohen abstracts
    and 14 degrees of freedom out of PMC3166277; the decisions did not change, the facts did."""
    docs = {d["id"]: d for d in cohen_docs(with_abstract_only=True)}
    chain = build_chain(config_for_source(FILTER, "pubmed"))
    cleaned = chain.cleaner(docs["pubmed:11130523"]["text"])
    assert "stroke (39% [15-56]) and major cardiovascular events (28% [13-41])" in cleaned
    c4 = next(step for step in chain.filters if step.name == "c4")
    assert "(39% [15-56])" in c4.apply(cleaned)[0]

    path = FIXTURES / "pmc_jats" / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml"
    (article,) = parse_bytes(path.read_bytes(), str(path))
    chain = build_chain(config_for_source(FILTER, "pmc"))
    text = chain.cleaner(article.doc["text"])
    assert text.count("(F[1,") >= 10 and "(F = " not in text


def test_datatrove_rule_without_the_medical_overrides():
    assert remove_citations("x[1] and [edit] and [] and [12]", medical=False) == "x and  and  and "
    assert remove_citations("x[1] and [edit] and shown [12]", medical=True) == "x[1] and  and shown"
