"""Licence normaliser and licence selection, on real list spellings and article elements."""
import pytest
from lxml import etree

from conftest import FIXTURES, CORPORA
from sources.pmc import licenses
from sources.pmc.jats import find_articles
from sources.safe_xml import parse_bytes_safe

JATS = FIXTURES / "pmc_jats"


@pytest.mark.parametrize("value, code", [
    ("CC BY", "CC-BY"), ("CC BY-NC", "CC-BY-NC"), ("CC BY-NC-ND", "CC-BY-NC-ND"), ("CC BY-SA", "CC-BY-SA"),
    ("CC BY-ND", "CC-BY-ND"), ("CC0", "CC0"), ("cc by 4.0", "CC-BY-4.0"), ("NO-CC CODE", "other"), ("none", "other"),
    ("", None), (None, None),
])
def test_list_spellings(value, code):
    assert licenses.from_list_value(value) == code


@pytest.mark.parametrize("url, code", [
    ("http://creativecommons.org/licenses/by/2.0", "CC-BY-2.0"),
    ("https://creativecommons.org/licenses/by-nc/4.0/", "CC-BY-NC-4.0"),
    ("https://creativecommons.org/licenses/by-nc-nd/3.0/igo/", "CC-BY-NC-ND-3.0"),
    ("http://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0"),
    ("http://creativecommons.org/publicdomain/mark/1.0/", "public-domain"),
    ("https://CreativeCommons.org/PublicDomain/Zero/1.0/", "CC0-1.0"),  # mixed case once crashed
    ("https://creativecommons.org/Licenses/BY-SA/4.0/", "CC-BY-SA-4.0"),
    ("https://www.elsevier.com/tdm/userlicense/1.0/", None),
])
def test_urls(url, code):
    assert licenses.from_url(url) == code


def test_prose_timebound_and_copyright_only():
    assert licenses.from_prose("distributed under the terms of the Creative Commons Attribution License") == "CC-BY"
    assert licenses.from_prose("Creative Commons Attribution Non-Commercial Licence 4.0") == "CC-BY-NC-4.0"
    assert licenses.from_prose("made available under the Creative Commons CC0 public domain dedication") == "CC0-1.0"
    covid = ("Since January 2020 Elsevier has created a COVID-19 resource centre ... These permissions are granted "
             "for free by Elsevier for as long as the COVID-19 resource centre remains active.")
    assert licenses.from_prose(covid) == "other"
    assert licenses.from_prose("Copyright © 2021 Elsevier Ltd. All rights reserved.") is None
    article = etree.fromstring(
        "<article><front><article-meta><permissions><copyright-statement>© 2021 The Authors</copyright-statement>"
        "</permissions></article-meta></front></article>")
    assert licenses.article_license(article) == ("other", "© 2021 The Authors")


def test_prose_prefilter_finds_what_the_case_insensitive_search_finds():
    """The lowered-ASCII twin only rules out misses: every search gives the case-insensitive result."""
    import random

    rng = random.Random(11)
    pieces = ["Creative", " Commons ", "ATTRIBUTION", "Non-Commercial", " no deriv", "Share Alike", "CC BY-NC", "cc0",
              "Public  Domain", " dedication", "timebound", "COVID-19 resource centre", "creativecommons.org/licenses/by/4.0",
              "free of known copyright", "İ", "ſ", "\u212a", "©", " ", "-"]
    patterns = [licenses._CC_URL_PROSE, licenses._TIMEBOUND, licenses._CC0_PROSE, licenses._PD_PROSE]
    patterns += [pattern for pattern, _ in licenses._PROSE]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        lowered = text.lower() if text.isascii() else None
        for pattern in patterns:
            got, want = pattern.search(text, lowered), pattern.pattern.search(text)
            assert (got and got.span()) == (want and want.span()), (pattern.pattern.pattern, text)


# What each fixture's own <permissions> says (../shared/fixtures/SOURCES.md, checked by hand).
ARTICLE_LICENCES = {
    "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml": "CC-BY-2.0",  # xlink:href
    "PMC2329613_bmc-oral-health_1472-6831-8-11.nxml": "CC-BY-2.0",  # xlink:href + rdf
    "PMC1790863_plos-one_pone.0000217.nxml": "CC-BY",  # no <license>: copyright-statement prose names CC BY
    "PMC3574550_ann-oncol_mds526.nxml": "CC-BY-NC-3.0",  # license-type="creative-commons" + href
    "PMC3585041_plos-ntd_pntd.0002065.nxml": "CC-BY",  # <license-p> prose only
    "PMC2599765_ehp_ehp-116-1694.nxml": "public-domain",  # license-type="public-domain"
    "PMC6500000_oai-pmh-getrecord.xml": "CC-BY-4.0",  # ali:license_ref
    "PMC10200000_oai-pmh-getrecord.xml": "CC-BY-4.0",
    "PMC10000000_oai-pmh-getrecord.xml": "public-domain",  # CC PDM 1.0
    "PMC10777901_oai-pmh-getrecord.xml": "CC-BY-4.0",
    "PMC9500000_oai-pmh-getrecord.xml": "CC-BY-NC-ND-4.0",
}


@pytest.mark.parametrize("name, code", sorted(ARTICLE_LICENCES.items()))
def test_article_licence_elements(name, code):
    articles, _ = find_articles(parse_bytes_safe((JATS / name).read_bytes(), name))
    assert licenses.article_license(articles[0])[0] == code


def test_efetch_correction_ali_licence():
    data = (FIXTURES / "eutils" / "efetch_pmc_8435807_correction.xml").read_bytes()
    articles, wrapper = find_articles(parse_bytes_safe(data))
    assert wrapper == "efetch" and licenses.article_license(articles[0])[0] == "CC-BY-NC-4.0"


def test_every_corpus_article_gets_a_known_code():
    files = sorted((CORPORA / "fulltext").rglob("*.*ml"))
    codes = {}
    for path in files:
        articles, _ = find_articles(parse_bytes_safe(path.read_bytes(), str(path)))
        codes[path.name] = licenses.article_license(articles[0])[0]
    assert None not in codes.values(), [n for n, c in codes.items() if c is None]
    # The PLOS corpus is CC BY (4.0 or unversioned), with a few CC0 and public-domain items.
    assert {licenses.family(c) for c in codes.values()} <= {"CC-BY", "CC0", "public-domain", "CC-BY-NC", "other"}
    assert sum(licenses.family(c) == "CC-BY" for c in codes.values()) >= 0.9 * len(files)


def test_selection_spellings_are_normalised_and_checked():
    assert licenses.normalize_families(["CC BY", "cc-by-4.0", "CC0", "public-domain"]) == {"CC-BY", "CC0", "public-domain"}
    with pytest.raises(ValueError):
        licenses.normalize_families(["MIT"])
    assert licenses.allowed("CC-BY-ND-4.0") and licenses.allowed("CC0-1.0")
    assert not licenses.allowed("CC-BY-NC-4.0") and not licenses.allowed(None) and not licenses.allowed("other")
