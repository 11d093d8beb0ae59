"""AHRQ National Guideline Clearinghouse (guideline.gov) archive.

Tested on recorded pages: the hypertension guideline synthesis and a saved HTTP-500 error page in
../shared/fixtures/guidelines_html. guideline.gov closed in July 2018: point --base-url at a
mirror of the archive (the recorded pages come from one). The pages are federal, but syntheses
and summaries quote third-party guideline developers' recommendations, so the entry is marked
not redistributable until someone reviews it.
"""
from sources.guidelines.site import Sections, Site

NGC = Site(
    name="ahrq_ngc",
    source="ahrq_ngc",
    description="AHRQ National Guideline Clearinghouse archive: syntheses, summaries, commentaries",
    base_url="https://www.guideline.gov",
    license="other",
    redistributable=False,
    tested_on="recorded pages (../shared/fixtures/guidelines_html/ahrq_ngc_*.html)",
    start_urls=("/syntheses/index", "/summaries/index"),
    index_links=(r"^/(syntheses|summaries|commentaries)/index(\?page=\d+)?$",),
    page_links=(r"^/syntheses/(synthesis/\d+|[a-z-]+/\d+\.htm)$", r"^/summaries/(summary/\d+|[a-z-]+/\d+\.htm)$",
                r"^/commentaries/(commentary/\d+|[a-z0-9-]+\.htm)$"),
    body=("//main//div[@class='content']", "//div[@id='article']"),
    remove=(".//div[contains(@class,'content-toolbar')]", ".//div[contains(@class,'aside')]",
            ".//ul[contains(@class,'content-header-meta')]",
            ".//a[normalize-space()='View Summary']"),  # link text after each compared guideline
    sections=Sections(stop=(r"^status$", r"^about ngc\b", r"^new on ngc$"), drop=(r"^abbreviations$",)),
    rate=0.5,
    max_pages=3000,
)

SITES = (NGC,)
