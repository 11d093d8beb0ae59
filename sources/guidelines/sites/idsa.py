"""IDSA practice guidelines (idsociety.org).

Tested on pages built in the tests after the layout MEDITRON's scraper used (the alphabetical
list's `.rtln_body_content` links, guideline text in `<article>`); not checked against the live
site. Copyrighted: not redistributable. "Currently in development" stubs are ledgered.
"""
from sources.guidelines.site import COPYRIGHTED_MEDITRON_LAYOUT, Sections, Site

IDSA = Site(
    name="idsa",
    source="idsa",
    description="Infectious Diseases Society of America practice guidelines",
    base_url="https://www.idsociety.org",
    **COPYRIGHTED_MEDITRON_LAYOUT,
    start_urls=("/practice-guideline/alphabetical-guidelines/",),
    index_links=(r"^/practice-guideline/alphabetical-guidelines/$",),
    page_links=(r"^/practice-guideline/(?!alphabetical-guidelines/)[a-z0-9-]+/$",),
    body=("//article", "//main"),
    sections=Sections(drop=(r"^(guideline )?panel$", r"^related (guidelines|resources)$")),
    drop_if=((r"currently in development", "in_development"),),
    rate=0.5,
    max_pages=500,
)

SITES = (IDSA,)
