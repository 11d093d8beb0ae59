"""Is this page a guideline? Each "no" has a stable reason code for the ledger.

Checked in order, first hit wins:
- error_page: an error page saved with status 200 (title or first heading is "500 - ...",
  "404 Not Found", "Page not found", "The request timed out", "Access denied", ...);
- listing_page: fetched as a listing, or a table of contents / index: mostly links, or mostly
  citation lines ("Prev Chronic Dis 2024;21:240183");
- erratum: errata, corrections, retraction notices (by title);
- the site's own `drop_if` rules (endorsements of other bodies, "in development" stubs);
- too_short: fewer than the site's `min_words` words of text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MIN_WORDS = 150  # a site's default `min_words` (sources.guidelines.site.Site)
_ERROR_TITLE = re.compile(
    r"^\s*(?:(?:http\s*)?(?:error\s*)?[45]\d\d\b|error\s*[45]\d\d\b|page not found\b|not found\b|file not found\b|"
    r"access denied\b|forbidden\b|service (temporarily )?unavailable\b|internal server error\b|bad gateway\b|"
    r"the request timed out\b|runtime error\b|server error\b|sorry,? (the|this) page\b)",
    re.IGNORECASE,
)
_LISTING_TITLE = re.compile(r"\b(table of contents|index of\b|search results|a[-–]z index|all guidelines|browse)\b", re.IGNORECASE)
_CITATION_LINE = re.compile(r"\b(19|20)\d\d\s*;\s*\d+(\(\d+\))?\s*:\s*[\dA-Z]")
_ERRATUM_TITLE = re.compile(r"^\s*(errat(um|a)|corrections?|correction notice|notice of (retraction|correction)|retraction( notice)?|retracted)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    reason: str | None  # None: a guideline
    detail: str | None = None


def first_heading(text: str) -> str:
    for line in text.split("\n"):
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def classify(title: str, text: str, *, raw_text: str | None = None, role: str = "page", link_density: float = 0.0,
             min_words: int = MIN_WORDS, drop_if: tuple[tuple[str, str], ...] = ()) -> Verdict:
    """`text` is the cleaned document; `raw_text` the extraction before section rules (a listing's
    table of contents may be exactly what the rules cut), used for the page-kind checks."""
    raw = text if raw_text is None else raw_text
    heading = first_heading(raw)
    for candidate in (title, heading):
        if candidate and _ERROR_TITLE.search(candidate):
            return Verdict("error_page", f"error page served as a page: {candidate[:120]!r}")
    if role == "index":
        return Verdict("listing_page", "fetched as a listing page")
    lines = [line for line in raw.split("\n") if line.strip() and not line.startswith("#")]
    citations = sum(1 for line in lines if _CITATION_LINE.search(line))
    if link_density > 0.5:
        return Verdict("listing_page", f"{link_density:.0%} of the text is links")
    if lines and citations >= 10 and citations / len(lines) > 0.25:
        return Verdict("listing_page", f"{citations} of {len(lines)} lines are citations of other articles")
    for candidate in (title, heading, *(h.lstrip("#").strip() for h in raw.split("\n")[:40] if h.startswith("# "))):
        if candidate and _LISTING_TITLE.search(candidate):
            return Verdict("listing_page", f"title names a listing: {candidate[:120]!r}")
    for candidate in (title, heading):
        if candidate and _ERRATUM_TITLE.search(candidate):
            return Verdict("erratum", f"erratum or correction notice: {candidate[:120]!r}")
    head = f"{title}\n{text[:2000]}"
    for pattern, reason in drop_if:
        if re.search(pattern, head, re.IGNORECASE | re.MULTILINE):
            return Verdict(reason, f"matches {pattern!r}")
    words = len(text.split())
    if words < min_words:
        return Verdict("too_short", f"{words} words < {min_words}")
    return Verdict(None)
