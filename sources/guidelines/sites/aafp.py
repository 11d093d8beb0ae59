"""AAFP clinical recommendations (aafp.org).

Tested on pages built in the tests after the layout MEDITRON's scraper used (topic pages linking
`all-clinical-recommendations/...` pages, text in `div.aem-Grid`); not checked against the live
site. AAFP content is copyrighted: not redistributable. Pages where AAFP only endorses another
body's guideline ("The AAFP supports ...") are ledgered as `endorsement`, as MEDITRON did.
"""
from sources.guidelines.site import COPYRIGHTED_MEDITRON_LAYOUT, Sections, Site

AAFP = Site(
    name="aafp",
    source="aafp",
    description="American Academy of Family Physicians clinical recommendations",
    base_url="https://www.aafp.org",
    **COPYRIGHTED_MEDITRON_LAYOUT,
    start_urls=("/family-physician/patient-care/clinical-recommendations/recommendations-by-topic.html",),
    index_links=(r"^/family-physician/patient-care/clinical-recommendations/recommendations-by-topic(/[a-z0-9-]+)?\.html$",),
    page_links=(r"^/family-physician/patient-care/clinical-recommendations/all-clinical-recommendations/[a-z0-9-]+\.html$",),
    body=("//main//div[contains(@class,'aem-Grid')]", "//main"),
    sections=Sections(stop=(r"^(these|this) recommendations? (is|are) provided only as assistance",)),
    drop_if=((r"^the aafp (supports|endorses|accepts)\b", "endorsement"),),
    min_words=80,
    rate=0.5,
    max_pages=500,
)

SITES = (AAFP,)
