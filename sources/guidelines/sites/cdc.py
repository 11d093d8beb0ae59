"""CDC: MMWR Recommendations and Reports, Preventing Chronic Disease, and CDC Stacks PDFs.

Tested on recorded pages: ../shared/fixtures/guidelines_html holds three legacy MMWR articles
(2000-2001 table layout), a 2024 PCD article and the 2024 PCD table of contents. The Stacks entry
is tested on a local site built in the tests (its listing layout, with PDFs made there).
CDC content is a US federal work: public domain, redistributable.
"""
from sources.guidelines.site import Sections, Site

_FEDERAL = dict(source="cdc", license="public-domain", redistributable=True)

MMWR = Site(
    name="cdc_mmwr",
    description="CDC MMWR Recommendations and Reports (and MMWR guideline articles), HTML",
    base_url="https://www.cdc.gov",
    tested_on="recorded pages (../shared/fixtures/guidelines_html/cdc_mmwr_*.html)",
    start_urls=("/mmwr/mmwr_rr/rr_pvol.html",),
    index_links=(r"^/mmwr/indrr_?\d{4}\.html?$", r"^/mmwr/mmwr_rr/rr_pvol\.html$"),
    page_links=(r"^/mmwr/preview/mmwrhtml/(rr|mm)\d{4}a\d+\.htm$", r"^/mmwr/volumes/\d+/rr/rr\d{4}a\d+\.htm$"),
    # Legacy pages sit in a layout table: the guideline is the innermost cell holding the <h1>;
    # 2014+ pages have a content column.
    body=("//td[.//h1 and not(.//td//h1)]", "//main//div[contains(@class,'content')]", "//div[@id='content']"),
    remove=(".//div[@id='archivedbox']", ".//div[contains(@class,'dateline')]"),
    sections=Sections(
        stop=(r"^references$", r"^return to top$"),
        remove_lines=(r"^please note: an erratum has been published", r"^figure \d+$", r"^table \d+$", r"^page converted:", r"^disclaimer all mmwr html",
                      r"^use of trade names and commercial sources", r"^\*\*questions or messages regarding errors"),
    ),
    rate=1.0,
    max_pages=2000,
    **_FEDERAL,
)

PCD = Site(
    name="cdc_pcd",
    description="CDC Preventing Chronic Disease articles, HTML",
    base_url="https://www.cdc.gov",
    tested_on="recorded pages (../shared/fixtures/guidelines_html/cdc_pcd_*.html)",
    start_urls=("/pcd/issues/index.htm",),
    index_links=(r"^/pcd/issues/\d{4}/\d{4}_TOC\.htm$", r"^/pcd/issues/index\.htm$"),
    page_links=(r"^/pcd/issues/\d{4}/\d{2}_\d{4}\.htm$",),
    body=("//main//div[contains(@class,'content')]",),
    remove=(".//div[contains(@class,'tp-on-this-page')]", ".//div[contains(@class,'dateline')]",
            ".//p[contains(@class,'float-right')]", ".//div[contains(@class,'page-format')]"),
    sections=Sections(
        stop=(r"^tables?$", r"^figures?$"),
        drop=(r"^summary$",),
        remove_lines=(r"\(view author affiliations\)$", r"^peer reviewed$", r"^suggested citation for this article", r"^error processing ssi file$",
                      r"^the opinions expressed by authors contributing to this journal"),
    ),
    rate=1.0,
    max_pages=2000,
    **_FEDERAL,
)

STACKS = Site(
    name="cdc_stacks",
    description="CDC Stacks guideline PDFs (collection browse pages -> record PDFs)",
    base_url="https://stacks.cdc.gov",
    tested_on="a local site built in the tests (Stacks-style browse pages with next-page links and generated PDFs)",
    start_urls=("/cbrowse?pid=cdc%3A100&parentId=cdc%3A100&maxResults=100",),
    index_links=(r"^/cbrowse\?pid=cdc%3A100&parentId=cdc%3A100&maxResults=100&start=\d+$",),
    page_links=(r"^/view/cdc/\d+/cdc_\d+_DS\d+\.pdf$",),
    min_words=300,
    rate=0.5,
    max_pages=1000,
    **_FEDERAL,
)

SITES = (MMWR, PCD, STACKS)
