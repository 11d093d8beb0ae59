"""MediaWiki API adapter (WikiDoc): list=allpages, then action=parse for each article.

Discovery pages through `list=allpages` (main namespace, redirects excluded) with `apcontinue`;
each article's rendered HTML comes from `action=parse` (JSON, formatversion=2) and goes through
the same HTML extraction as crawled pages, with WikiDoc's section rules. Every request URL is a
pure function of the previous response, so a resumed run replays the stored list pages and asks
only for the articles still missing.

Tested on responses built from the MediaWiki Action API's documented format
(https://www.mediawiki.org/wiki/API:Allpages, API:Parse), not on recorded WikiDoc responses.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from sources.errors import InputError, RemoteError
from sources.guidelines.html_extract import extract_html
from sources.guidelines.parse import Outcome, ParseOptions, finish
from sources.guidelines.site import Site
from sources.guidelines.store import JSON_TYPES, StoredPage

if TYPE_CHECKING:  # annotations only: `guidelines parse` imports the adapter, not the fetcher and its HTTP client
    from sources.guidelines.fetcher import Fetcher

# Parts of a rendered article that are not prose.
REMOVE = (
    ".//div[@id='toc']", ".//div[contains(@class,'toc')]", ".//table[contains(@class,'navbox')]",
    ".//table[contains(@class,'infobox')]", ".//div[contains(@class,'navbox')]", ".//sup[contains(@class,'reference')]",
    ".//span[contains(@class,'mw-editsection')]", ".//div[contains(@class,'thumb')]", ".//ol[contains(@class,'references')]",
)


def _load(page: StoredPage) -> dict:
    try:
        data = json.loads(page.read())
    except ValueError as exc:
        raise InputError(f"{page.url}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{page.url}: expected a JSON object")
    if "error" in data:
        error = data["error"] if isinstance(data["error"], dict) else {}
        raise RemoteError(f"{page.url}: MediaWiki error {error.get('code')}: {error.get('info')}")
    return data


class MediaWiki:
    def api_url(self, site: Site, **params: str) -> str:
        return site.url(site.option("api", "/api.php")) + "?" + urlencode({**params, "format": "json", "formatversion": "2"})

    def article_url(self, site: Site, title: str) -> str:
        return self.api_url(site, action="parse", page=title, prop="text|revid|displaytitle",
                            disableeditsection="1", disabletoc="1")

    def canonical_url(self, site: Site, title: str) -> str:
        base = (site.canonical_base or site.base_url).rstrip("/")
        return f"{base}{site.option('articles', '/index.php/')}{quote(title.replace(' ', '_'))}"

    def discover(self, site: Site, fetcher: Fetcher, limit: int) -> None:
        cont: str | None = None
        fetched = 0
        while fetched < limit:
            params = dict(action="query", list="allpages", apnamespace="0", apfilterredir="nonredirects",
                          aplimit=str(min(500, limit)))
            if cont:
                params["apcontinue"] = cont
            listing = fetcher.fetch(self.api_url(site, **params), "api", accept=JSON_TYPES)
            if listing is None:
                return
            data = _load(listing)
            for entry in data.get("query", {}).get("allpages", []):
                if fetched >= limit:
                    return
                fetched += 1
                fetcher.fetch(self.article_url(site, entry["title"]), "page", accept=JSON_TYPES,
                              meta={"title": entry["title"], "pageid": entry.get("pageid")})
            cont = data.get("continue", {}).get("apcontinue")
            if not cont:
                return

    def parse(self, site: Site, page: StoredPage, options: ParseOptions) -> Iterator[Outcome]:
        if page.role != "page":  # allpages listings carry titles, not text
            return
        parsed = _load(page).get("parse") or {}
        html = parsed.get("text")
        if isinstance(html, dict):  # formatversion=1 shape: {"*": html}
            html = html.get("*")
        if not isinstance(html, str):
            raise InputError(f"{page.url}: no parse.text in the response")
        title = parsed.get("title") or page.meta.get("title") or ""
        # The title as <h1> inside the body, so the article's own h2 sections rank below it.
        document = f"<html><body><main><h1>{escape(title)}</h1>{html}</main></body></html>".encode()
        extracted = extract_html(document, body=("//main",), remove=REMOVE, encoding="utf-8")
        yield finish(site, page, url=self.canonical_url(site, title), title=title, text=extracted.text,
                     meta={"revid": parsed.get("revid"), "pageid": parsed.get("pageid")},
                     link_density=extracted.link_density)
