"""The declarative link crawler: the default adapter, for sites described only by their `Site`.

Discovery is breadth-first from the site's start URLs and sitemaps: a link whose path matches
`index_links` is a listing or pagination page to follow, one matching `page_links` is a guideline
page to store. Links leave the site never (other hosts are ignored, not fetched). A resumed crawl
reads listing pages back from the store, so it rediscovers the same links without requesting
them again, and fetches only the pages still missing.

`guidelines parse` imports this module (its `parse`), so it imports the fetcher, and through it
the HTTP client, for annotations only; `fetch_site` (sources/guidelines/fetcher.py) runs it.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin

import lxml.etree
import lxml.html

from sources.errors import InputError
from sources.guidelines.site import Site
from sources.guidelines.store import HTML_TYPES, PDF_TYPES, XML_TYPES, StoredPage
from sources.safe_xml import parse_bytes_safe

if TYPE_CHECKING:
    from sources.guidelines.fetcher import Fetcher

_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class LinkCrawl:
    """Adapter for sites described only by their `Site` entry."""

    def discover(self, site: Site, fetcher: Fetcher, limit: int) -> None:
        queue: deque[tuple[str, str]] = deque((site.url(p), "index") for p in site.start_urls)
        queue.extend((site.url(p), "sitemap") for p in site.sitemaps)
        seen = {url for url, _ in queue}
        pages = 0
        while queue:
            url, role = queue.popleft()
            if role == "page":
                if pages >= limit:
                    continue
                pages += 1
                fetcher.fetch(url, "page", accept=HTML_TYPES + PDF_TYPES)
                continue
            listing = fetcher.fetch(url, role, accept=XML_TYPES if role == "sitemap" else HTML_TYPES)
            if listing is None:
                continue
            for link, kind in classify_links(site, listing):
                if link not in seen:
                    seen.add(link)
                    queue.append((link, kind))

    def parse(self, site: Site, page: StoredPage, options):
        from sources.guidelines.parse import parse_page

        if page.role == "sitemap":  # a list of URLs, not a page anyone reads
            return iter(())
        return parse_page(site, page, options)


def classify_links(site: Site, listing: StoredPage) -> Iterator[tuple[str, str]]:
    """(absolute URL, role) of the links on a listing page or sitemap that the site wants."""
    body = listing.read()
    links = sitemap_links(body, listing.url) if listing.role == "sitemap" else html_links(body, listing.url)
    for link in links:
        rel = site.relative(link)
        if rel is None:  # another host or outside the site's root: never followed
            continue
        if any(p.search(rel) for p in site.page_res):
            yield link, "page"
        elif any(p.search(rel) for p in site.index_res):
            yield link, "index"


def html_links(body: bytes, base: str) -> list[str]:
    try:
        root = lxml.html.document_fromstring(body)
    except (lxml.etree.ParserError, ValueError):
        return []
    links = []
    for href in root.xpath("//a/@href"):
        url, _ = urldefrag(urljoin(base, href.strip()))
        if url.startswith(("http://", "https://")):
            links.append(url)
    return links


def sitemap_links(body: bytes, name: str) -> list[str]:
    try:
        root = parse_bytes_safe(body, name)
    except InputError:
        return []
    return [loc.text.strip() for loc in root.iter(f"{_SITEMAP_NS}loc") if loc.text]
