"""WikiDoc through the MediaWiki API (allpages, then parse). See sources/guidelines/api/mediawiki.py.

Tested on responses built from the MediaWiki API's documented format. WikiDoc's text is
CC BY-SA 3.0 (redistributable with attribution and share-alike). MEDITRON stopped at References
and "See also" and dropped template debris; the API's rendered HTML has no template syntax left.
"""
from sources.guidelines.api.mediawiki import MediaWiki
from sources.guidelines.site import Sections, Site

WIKIDOC = Site(
    name="wikidoc",
    source="wikidoc",
    description="WikiDoc articles via the MediaWiki API",
    base_url="https://www.wikidoc.org",
    license="CC-BY-SA-3.0",
    redistributable=True,
    tested_on="responses built from the MediaWiki Action API documentation (allpages, parse)",
    # Template and wiki-table debris ("{{...}}", "|-", "| key = value"); not the table rows the
    # renderer writes, which end as they start ("| cell | cell |").
    sections=Sections(stop=(r"^see also$", r"^external links$", r"^further reading$", r"^sources$"),
                      remove_lines=(r"^\{\{.*\}\}$", r"^\|(?!.* \|$)")),
    min_words=100,
    rate=1.0,
    max_pages=50000,
    adapter=MediaWiki(),
    options=(("api", "/api.php"), ("articles", "/index.php/")),
)

SITES = (WIKIDOC,)
