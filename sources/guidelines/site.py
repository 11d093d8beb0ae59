"""What a guideline site is: a declarative entry, plus the adapter that knows its interface.

A simple site needs no code: `Site` names where to start (start URLs, sitemaps), which links are
guideline pages and which are listing/pagination pages to follow, where the guideline body sits
in the page, which sections to keep, and the rules of the house (licence, redistribution, rate,
page cap). Sites with an API (MediaWiki, OAI-PMH, E-utilities) set `adapter` to a small module
object with the same two methods as the link crawler: `discover` fills the raw store, `parse`
turns one stored response into documents.

URLs: `base_url` is where requests go (config can point it at a local mirror or test server);
`canonical_base` is the public site, used for document URLs and ids, so a page fetched from a
mirror gets the same id as the live page.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from sources.guidelines.classify import MIN_WORDS
from sources.origins import host_entry

if TYPE_CHECKING:  # imported for annotations only: adapters import this module
    from sources.guidelines.fetcher import Fetcher
    from sources.guidelines.parse import Outcome, ParseOptions
    from sources.guidelines.store import StoredPage


@dataclass(frozen=True)
class Sections:
    """Line/heading rules applied to the extracted markdown (case-insensitive regexes).

    - start: drop everything before the first heading matching one of these (title kept);
      no match keeps everything (a missing start heading must not empty a guideline);
    - stop: cut at the first heading matching one of these (references, disclaimers...);
    - drop: remove each section whose heading matches, down to the next heading of the same or a
      higher level (committee lists, "related content");
    - remove_lines: remove single lines matching ("Page last reviewed", "Return to top").
    """

    start: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    remove_lines: tuple[str, ...] = ()

    def merged(self, other: Sections) -> Sections:
        return Sections(*(getattr(self, f) + getattr(other, f) for f in ("start", "stop", "drop", "remove_lines")))


# The house rules shared by the crawled sites whose pages are copyrighted (licence `other`, not
# redistributable) and whose entries are tested only on pages built in the tests after the layout
# MEDITRON's scraper recorded, never on live pages: aafp, cps, idsa, nice, rch. `Site(...,
# **COPYRIGHTED_MEDITRON_LAYOUT)`, so each site file states only what is its own.
COPYRIGHTED_MEDITRON_LAYOUT = dict(
    license="other",
    redistributable=False,
    tested_on="pages built in the tests after MEDITRON's recorded layout (not live pages)",
)


class Adapter(Protocol):
    def discover(self, site: Site, fetcher: Fetcher, limit: int) -> None:
        """Fetch the site's listing/API responses and guideline pages into the raw store."""

    def parse(self, site: Site, page: StoredPage, options: ParseOptions) -> Iterator[Outcome]:
        """Documents (kept or with a drop reason) from one stored response."""


@dataclass(frozen=True)
class Site:
    name: str  # the CLI's --site NAME
    source: str  # documents get source `guidelines/<source>` (CDC's three entries share "cdc")
    description: str
    base_url: str
    license: str  # normalised licence of the pages (schema `license`)
    redistributable: bool  # may the text be shipped in a released corpus?
    tested_on: str  # "recorded pages" or "responses built from the documented API format"
    start_urls: tuple[str, ...] = ()  # paths under base_url (listing pages)
    sitemaps: tuple[str, ...] = ()  # paths of sitemap.xml files
    page_links: tuple[str, ...] = ()  # regexes on a link's path(+query): guideline pages
    index_links: tuple[str, ...] = ()  # regexes: listing and pagination pages to follow
    body: tuple[str, ...] = ()  # XPaths of the guideline body, first match wins
    remove: tuple[str, ...] = ()  # XPaths removed before extraction
    sections: Sections = Sections()
    drop_if: tuple[tuple[str, str], ...] = ()  # (regex on title+text start, reason): not a guideline
    min_words: int = MIN_WORDS
    rate: float = 1.0  # requests per second per host (robots.txt crawl-delay may lower it)
    max_pages: int = 5000  # guideline pages per crawl
    max_page_bytes: int = 20 << 20
    extra_hosts: tuple[str, ...] = ()  # other hosts of the site (PDF servers) redirects may go to: host or host:port
    canonical_base: str = ""  # defaults to base_url
    adapter: Adapter | None = field(default=None, compare=False)  # None: the declarative link crawler
    options: tuple[tuple[str, str], ...] = ()  # adapter settings (API query, set, ...)

    # -- derived -------------------------------------------------------------------------------------
    @cached_property
    def page_res(self) -> tuple[re.Pattern, ...]:
        return tuple(re.compile(p) for p in self.page_links)

    @cached_property
    def index_res(self) -> tuple[re.Pattern, ...]:
        return tuple(re.compile(p) for p in self.index_links)

    @property
    def hosts(self) -> frozenset[str]:
        """Allow-list entries for redirects (sources.origins, sources.http.redirects): base_url's host, with its port if not the default."""
        return frozenset({host_entry(self.base_url), *self.extra_hosts})

    @property
    def id_prefix(self) -> str:
        return f"guidelines/{self.source}"

    def option(self, key: str, default: str = "") -> str:
        return dict(self.options).get(key, default)

    def url(self, path: str) -> str:
        """An absolute request URL for a path under base_url (absolute URLs pass through)."""
        if re.match(r"^[a-z][a-z0-9+.-]*://", path, re.IGNORECASE):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def relative(self, url: str) -> str | None:
        """The part of `url` under base_url (path and query), or None for another site."""
        base = self.base_url.rstrip("/")
        if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
            return url[len(base):] or "/"
        return None

    def canonical_url(self, url: str) -> str:
        rel = self.relative(url)
        if rel is None:
            return url
        return (self.canonical_base or self.base_url).rstrip("/") + rel

    def with_base(self, base_url: str | None) -> Site:
        """The same site served from another root (a mirror, the demo server, a test server)."""
        if not base_url:
            return self
        return replace(self, base_url=base_url.rstrip("/"), canonical_base=self.canonical_base or self.base_url)
