"""NICE guidance (nice.org.uk): one document per guidance chapter.

Tested on pages built in the tests after the layout MEDITRON's scraper used (the published-guidance
table -> guidance overview -> chapter pages, chapter text in the chapter body); not checked
against the live site here. NICE's pages say "Do not distribute or publish any material from this
site without first obtaining NICE's permission": not redistributable.
"""
from sources.guidelines.site import COPYRIGHTED_MEDITRON_LAYOUT, Sections, Site

NICE = Site(
    name="nice",
    source="nice",
    description="NICE guidelines (NG/CG), one document per chapter",
    base_url="https://www.nice.org.uk",
    **COPYRIGHTED_MEDITRON_LAYOUT,
    start_urls=("/guidance/published?ndt=Guidance&ps=2500",),
    index_links=(r"^/guidance/(ng|cg)\d+$", r"^/guidance/published\?ndt=Guidance&ps=2500(&pa=\d+)?$"),
    page_links=(r"^/guidance/(ng|cg)\d+/chapter/[A-Za-z0-9-]+$",),
    body=("//div[contains(@class,'chapter')]", "//main//article", "//main"),
    remove=(".//nav", ".//div[contains(@class,'in-page-nav')]"),
    # MEDITRON dropped chapters about the committee, implementation and updates.
    sections=Sections(drop=(r"committee", r"^implementation", r"^update information$", r"^finding more information")),
    drop_if=((r"^#? ?(context|finding more information and committee details|update information)$", "not_guidance_chapter"),),
    rate=1.0,
    max_pages=20000,
)

SITES = (NICE,)
