"""The PubMed guideline subset through E-utilities. See sources/guidelines/api/eutils.py.

Tested on responses built from the E-utilities documented formats with real PubMed records as
EFetch bodies. Abstracts are NLM/publisher material (see formats.md, "Disclaimer and
Copyright"): not marked redistributable; full texts come from PMC's open-access subset through
the PMC source, joined by PMID/PMCID in dedup.
"""
from sources.guidelines.api.eutils import EUtils
from sources.guidelines.site import Site

PUBMED = Site(
    name="pubmed_guidelines",
    source="pubmed",
    description="PubMed records with publication type Guideline or Practice Guideline (E-utilities)",
    base_url="https://eutils.ncbi.nlm.nih.gov",
    license="other",
    redistributable=False,
    tested_on="responses built from the E-utilities documentation (ESearch, EFetch) with real PubMed records",
    min_words=40,
    rate=3.0,
    max_pages=50000,
    adapter=EUtils(),
    options=(("term", '"guideline"[Publication Type] OR "practice guideline"[Publication Type]'),
             ("eutils", "/entrez/eutils"), ("email", "medcurate@example.org")),
)

SITES = (PUBMED,)
