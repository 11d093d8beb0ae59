"""The crawler against a local site on 127.0.0.1, measured from the server's request log."""
from __future__ import annotations

from dataclasses import replace

import pytest
from guideline_site import FIXTURES, Page, Site, html, serve

from sources.guidelines.fetcher import fetch_site
from sources.guidelines.sites import SITES
from sources.guidelines.store import PageStore
from sources.http import HttpClient

CRAWL_DELAY = 0.1
ARTICLES = {
    "/mmwr/preview/mmwrhtml/mm5042a1.htm": "cdc_mmwr_2001_v50n42p909_anthrax_interim_guidelines_exposure_antimicrobial.html",
    "/mmwr/preview/mmwrhtml/mm5043a1.htm": "cdc_mmwr_2001_v50n43p941_anthrax_interim_guidelines_clinical_evaluation.html",
    "/mmwr/preview/mmwrhtml/mm4902a1.htm": "cdc_mmwr_2000_v49n02p25_west_nile_virus_guidelines.html",
}
DISALLOWED = "/mmwr/preview/mmwrhtml/mm5099a1.htm"
REDIRECTED = "/mmwr/preview/mmwrhtml/rr5001a1.htm"
OVERSIZED = "/mmwr/preview/mmwrhtml/rr5002a1.htm"
MISSING = "/mmwr/preview/mmwrhtml/mm5044a1.htm"


def mmwr_site() -> Site:
    """An MMWR-shaped site: volume list -> year index -> articles (recorded pages) and hostile links."""
    site = Site()
    links = list(ARTICLES) + [DISALLOWED, REDIRECTED, OVERSIZED, MISSING, "/mmwr/about.html"]
    site.routes = {
        "/robots.txt": Page(f"User-agent: *\nDisallow: {DISALLOWED}\nCrawl-delay: {CRAWL_DELAY}\n".encode(), "text/plain"),
        "/mmwr/mmwr_rr/rr_pvol.html": Page(html("MMWR R&R", '<a href="/mmwr/indrr_2001.html">2001</a>'
                                                '<a href="http://example.invalid/mmwr/indrr_2001.html">elsewhere</a>')),
        "/mmwr/indrr_2001.html": Page(html("2001", "".join(f'<a href="{link}">x</a>' for link in links))),
        DISALLOWED: Page(html("secret", "<p>never fetched</p>")),
        OVERSIZED: Page(html("huge", "<p>" + "x" * 300_000 + "</p>")),
        **{path: Page((FIXTURES / name).read_bytes()) for path, name in ARTICLES.items()},
    }
    return site


@pytest.fixture
def local():
    site = mmwr_site()
    server = serve(site)
    # The redirect goes to "localhost": the same server under another host name, so following it
    # would show up in the log.
    site.routes[REDIRECTED] = Page(status=302, location=f"http://localhost:{server.server_address[1]}/elsewhere.htm")
    yield site
    server.shutdown()


def crawl(local: Site, out, **kwargs):
    entry = replace(SITES["cdc_mmwr"].with_base(local.base), rate=50.0, max_page_bytes=100_000)
    with HttpClient(retries=0, timeout=5) as client:
        return fetch_site(entry, out, client=client, **kwargs)


def test_crawl_obeys_robots_txt_and_rate_limit(local, tmp_path):
    report = crawl(local, tmp_path)
    paths = local.paths()
    assert paths[0] == "/robots.txt"
    assert DISALLOWED not in paths
    assert set(ARTICLES) <= set(paths)
    assert "/mmwr/about.html" not in paths  # matches no link pattern
    # Crawl-delay 0.1 s beats the site's own 50/s: consecutive requests at least 0.1 s apart.
    times = [t for t, _, _ in local.log]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Measured where the requests arrive, so allow for thread-scheduling jitter on single gaps;
    # without the limit the gaps would be a few milliseconds.
    assert len(gaps) >= 8 and min(gaps) >= CRAWL_DELAY * 0.6, gaps
    assert sum(gaps) / len(gaps) >= CRAWL_DELAY * 0.95, gaps
    store = PageStore(tmp_path)
    assert store.entry(local.base + DISALLOWED)["error"]["kind"] == "robots_disallowed"
    assert report.fetched == 2 + len(ARTICLES)  # two listing pages and the articles


def test_hostile_responses_are_recorded_with_their_kind(local, tmp_path):
    crawl(local, tmp_path)
    store = PageStore(tmp_path)
    kinds = {e["url"][len(local.base):]: e["error"]["kind"] for e in store.failures()}
    assert kinds == {DISALLOWED: "robots_disallowed", REDIRECTED: "redirect_refused",
                     OVERSIZED: "too_large", MISSING: "http_status"}
    assert "/elsewhere.htm" not in local.paths()  # the redirect was never followed
    assert "localhost" in store.entry(local.base + REDIRECTED)["error"]["message"]
    assert all(store.is_done(local.base + path) for path in kinds)  # permanent: not retried


def test_interrupted_crawl_resumes_with_only_missing_pages(local, tmp_path, monkeypatch):
    saved = []
    original = PageStore.save

    def save_then_die(self, url, *args, **kwargs):
        if len(saved) == 3:  # two listings and one article are in; the process dies
            raise KeyboardInterrupt
        saved.append(url)
        return original(self, url, *args, **kwargs)

    monkeypatch.setattr(PageStore, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        crawl(local, tmp_path)
    monkeypatch.setattr(PageStore, "save", original)
    first = set(local.paths())
    local.log.clear()
    report = crawl(local, tmp_path)
    second = [p for p in local.paths() if p != "/robots.txt"]
    already = {url[len(local.base):] for url in saved}
    assert not already & set(second)  # nothing stored is fetched again, listings included
    assert set(second) == (set(ARTICLES) | {REDIRECTED, OVERSIZED, MISSING}) - already
    assert len(second) == len(set(second)) and report.from_store == 3
    assert {p for p in first if p in ARTICLES} | set(second) >= set(ARTICLES)
    # A third run has nothing left to fetch: not even robots.txt is requested.
    local.log.clear()
    crawl(local, tmp_path)
    assert local.paths() == []


def test_refresh_revalidates_with_conditional_requests(local, tmp_path):
    crawl(local, tmp_path)
    before = (tmp_path / "manifest.jsonl").read_text().count("\n")
    local.log.clear()
    report = crawl(local, tmp_path, refresh=True)
    article_requests = [h for _, p, h in local.log if p in ARTICLES]
    assert len(article_requests) == len(ARTICLES) and all("If-None-Match" in h for h in article_requests)
    assert report.revalidated == 2 + len(ARTICLES) and report.fetched == 0
    assert (tmp_path / "manifest.jsonl").read_text().count("\n") == before + report.revalidated


def test_page_cap_limits_guideline_pages(local, tmp_path):
    crawl(local, tmp_path, limit=2)
    fetched = [p for p in local.paths() if p.startswith("/mmwr/preview/")]
    assert len(fetched) == 2


def test_unreachable_robots_txt_disallows_everything(tmp_path):
    site = Site(routes={"/robots.txt": Page(b"down", "text/plain", status=503)})
    server = serve(site)
    try:
        crawl(site, tmp_path)
    finally:
        server.shutdown()
    assert site.paths() == ["/robots.txt"]  # RFC 9309: 5xx means assume complete disallow
    assert PageStore(tmp_path).failures()[0]["error"]["kind"] == "robots_disallowed"
