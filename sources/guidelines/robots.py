"""robots.txt for crawled sites, fetched with the project's client and parsed by Protego.

RFC 9309 semantics: a 4xx robots.txt means "no rules" (crawl anything); a 5xx or a network
failure means "unreachable" (assume everything is disallowed, and say so). Protego, unlike the
standard library's parser, understands `*` and `$` wildcards. The Crawl-delay for our user agent
lowers the site's rate limit, never raises it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from sources.errors import FetchError
from sources.http import USER_AGENT, HttpClient, get_logger

logger = get_logger("medcurate.guidelines.robots")
# RFC 9309 asks crawlers to parse at least 500 KiB; anything beyond that is ignored.
MAX_ROBOTS_BYTES = 512 * 1024
_CLIENT_ERROR = re.compile(r": HTTP 4\d\d$")
AGENT = USER_AGENT.split("/", 1)[0]  # "medcurate": the product token robots.txt groups name


@dataclass
class Robots:
    url: str
    parser: Protego | None  # None: no rules (4xx)
    unreachable: str | None = None  # why everything is disallowed

    def allowed(self, url: str) -> bool:
        if self.unreachable:
            return False
        return self.parser is None or self.parser.can_fetch(url, AGENT)

    def crawl_delay(self) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(AGENT)
        rate = self.parser.request_rate(AGENT)
        seconds = float(delay) if delay is not None else None
        if rate is not None and rate.requests:
            per_request = rate.seconds / rate.requests
            seconds = max(seconds or 0.0, per_request)
        return seconds

    def sitemaps(self) -> list[str]:
        return list(self.parser.sitemaps) if self.parser is not None else []


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def fetch_robots(client: HttpClient, url: str) -> Robots:
    """The robots.txt rules of `url`'s host."""
    target = robots_url(url)
    try:
        result = client.get(target)
    except FetchError as error:
        message = str(error)
        if _CLIENT_ERROR.search(message):  # a plain 4xx; a 429 that never cleared ends "(gave up ...)"
            return Robots(target, None)
        logger.warning("robots.txt unreachable, treating the site as disallowed: %s", message)
        return Robots(target, None, unreachable=message)
    text = result.content[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
    return Robots(target, Protego.parse(text))
