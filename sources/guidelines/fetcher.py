"""One guarded fetch: robots.txt, resume, caps and the raw store around the project's HTTP client.

Every adapter (the link crawler and the API modules) fetches through `Fetcher.fetch`, so the
rules hold for all of them:
- a URL the store marks done is served from the store and never requested again (resume);
  with `refresh`, stored pages are revalidated with a conditional request instead (304 keeps them);
- robots.txt (per host, cached for the crawl) is obeyed, and its Crawl-delay lowers the rate;
- redirects go only to the site's hosts, bodies are capped at the site's `max_page_bytes`, and
  only the content types an adapter asked for are stored (all enforced by HttpClient or here);
- every failure is a manifest entry with a kind: robots_disallowed, redirect_refused, too_large,
  http_status, content_type, fetch_failed (the last is transient and retried on the next run).

`fetch_site` is the fetch entry point for every site: its adapter (the link crawler by default)
discovers and fetches through one `Fetcher`, under the store's lock.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sources.errors import FetchError
from sources.guidelines.crawl import LinkCrawl
from sources.guidelines.robots import Robots, fetch_robots
from sources.guidelines.site import Site
from sources.guidelines.store import HTML_TYPES, PageStore, StoredPage, media_type, write_site_file
from sources.http import HttpClient, get_logger, host_of, redact
from sources.store_lock import holds_store_lock

logger = get_logger("medcurate.guidelines.fetch")

# FetchError messages of sources.http, mapped to a stable failure kind; None = transient.
_FAILURE_KINDS = (
    (re.compile(r"redirect from .* refused|more than \d+ redirects"), "redirect_refused"),
    (re.compile(r"body larger than"), "too_large"),
    (re.compile(r": HTTP \d{3}$"), "http_status"),
)


def failure_kind(message: str) -> str:
    for pattern, kind in _FAILURE_KINDS:
        if pattern.search(message):
            return kind
    return "fetch_failed"


@dataclass
class FetchReport:
    fetched: int = 0
    revalidated: int = 0
    from_store: int = 0
    failed: dict[str, int] = field(default_factory=dict)

    def summary(self, site: str) -> str:
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items())) or "none"
        return (f"guidelines fetch --site {site}: {self.fetched} fetched, {self.revalidated} revalidated, "
                f"{self.from_store} already stored, failed: {failed}")


class Fetcher:
    def __init__(self, site: Site, store: PageStore, client: HttpClient, *, refresh: bool = False):
        self.site = site
        self.store = store
        self.client = client
        self.refresh = refresh
        self.report = FetchReport()
        self._robots: dict[str, Robots] = {}
        self._interval: dict[str, float] = {}  # seconds between requests per host
        self._finished: dict[str, float] = {}  # when the last request to a host was answered
        # The client is this crawl's own: its caps become the site's.
        client.max_response_bytes = min(client.max_response_bytes, site.max_page_bytes)
        client.allowed_hosts = frozenset(client.allowed_hosts | site.hosts)

    def robots(self, url: str) -> Robots:
        host = host_of(url)
        if host not in self._robots:
            self.client.set_rate(host, self.site.rate)  # robots.txt itself is a request to the site
            robots = fetch_robots(self.client, url)
            delay = robots.crawl_delay()
            rate = min(self.site.rate, 1.0 / delay) if delay else self.site.rate
            self.client.set_rate(host, rate)
            self._interval[host] = 1.0 / rate if rate else 0.0
            self._finished[host] = time.monotonic()
            self._robots[host] = robots
        return self._robots[host]

    def _pace(self, host: str) -> None:
        """Wait a full interval after the previous request to `host` *finished*.

        The client's limiter spaces request *starts* by their reserved slots; a request that left
        late (a slow connect, a busy machine) could then arrive just before the next one. A crawl
        is sequential, so spacing from the previous answer is what Crawl-delay means.
        """
        wait = self._finished.get(host, 0.0) + self._interval.get(host, 0.0) - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def fetch(self, url: str, role: str, accept: Iterable[str] = HTML_TYPES, meta: dict | None = None) -> StoredPage | None:
        """The stored response for `url` (fetched now or by an earlier run), or None after a failure."""
        stored = self.store.page(url)
        if self.store.is_done(url) and not (self.refresh and stored is not None):
            if stored is not None:
                self.report.from_store += 1
            return stored
        robots = self.robots(url)
        if not robots.allowed(url):
            why = robots.unreachable or f"disallowed by {robots.url}"
            return self._fail(url, role, "robots_disallowed", why, done=robots.unreachable is None, meta=meta)
        host = host_of(url)
        try:
            self._pace(host)
            result = self.client.get(
                url,
                etag=stored.etag if stored else None,
                last_modified=stored.last_modified if stored else None,
            )
        except FetchError as error:
            kind = failure_kind(str(error))
            return self._fail(url, role, kind, str(error), done=kind != "fetch_failed", meta=meta)
        finally:
            self._finished[host] = time.monotonic()
        if result.status == 304 and stored is not None:
            self.report.revalidated += 1
            return self.store.touch(stored)
        ctype = result.headers.get("Content-Type", "")
        if media_type(ctype) not in accept:
            return self._fail(url, role, "content_type", f"{redact(url)}: unexpected Content-Type {ctype!r}", done=True, meta=meta)
        self.report.fetched += 1
        return self.store.save(
            url, role, result.status, ctype, result.content,
            etag=result.etag, last_modified=result.last_modified, meta=meta,
        )

    def _fail(self, url: str, role: str, kind: str, message: str, *, done: bool, meta: dict | None) -> None:
        logger.warning("%s %s: %s", kind, redact(url), message)
        self.report.failed[kind] = self.report.failed.get(kind, 0) + 1
        self.store.fail(url, role, kind, redact(message), done=done, meta=meta)


@holds_store_lock("out")
def fetch_site(
    site: Site,
    out: Path | str,
    *,
    client: HttpClient,
    limit: int | None = None,
    refresh: bool = False,
) -> FetchReport:
    """Fetch `site` into the raw store at `out` (resumable); returns what happened."""
    store = PageStore(out)
    write_site_file(out, site)
    fetcher = Fetcher(site, store, client, refresh=refresh)
    adapter = site.adapter or LinkCrawl()
    adapter.discover(site, fetcher, site.max_pages if limit is None else min(limit, site.max_pages))
    return fetcher.report
