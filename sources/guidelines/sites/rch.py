"""Royal Children's Hospital Melbourne clinical practice guidelines (rch.org.au).

Tested on pages built in the tests after the layout MEDITRON's scraper used (text from
`#key-points` on, stopping at "Last updated", References, Additional notes, Parent information);
not checked against the live site. Copyrighted: not redistributable.
"""
from sources.guidelines.site import COPYRIGHTED_MEDITRON_LAYOUT, Sections, Site

RCH = Site(
    name="rch",
    source="rch",
    description="Royal Children's Hospital Melbourne clinical practice guidelines",
    base_url="https://www.rch.org.au",
    **COPYRIGHTED_MEDITRON_LAYOUT,
    start_urls=("/clinicalguide/about_rch_cpgs/guideline_index/",),
    index_links=(r"^/clinicalguide/about_rch_cpgs/guideline_index/$",),
    page_links=(r"^/clinicalguide/guideline_index/[A-Za-z0-9_-]+/$",),
    body=("//div[@id='main-content']", "//main"),
    sections=Sections(
        start=(r"^key points$",),
        stop=(r"^additional notes$", r"^parent information$", r"^last updated\b"),
    ),
    min_words=100,
    rate=0.5,
    max_pages=1000,
)

SITES = (RCH,)
