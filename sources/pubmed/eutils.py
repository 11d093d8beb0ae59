"""PubMed through NCBI's E-utilities: a query's records as raw efetch XML in the raw store.

    OUT/eutils/efetch-<query hash>-<window>-<retstart>.xml   efetch bodies, exact bytes as served
    OUT/eutils/manifest.jsonl                                 one entry per body (url redacted)

ESearch posts the result set to the history server (usehistory=y); EFetch pages through it in
batches with WebEnv/query_key/retstart. PubMed lets a search reach only its first 9,999 records
("'retstart' cannot be larger than 9998"), so a larger result is split into publication-date
windows, halved recursively down to single days, each under the cap (reference/formats.md §1).
Errors that arrive inside HTTP 200 answers (<ERROR>, JSON {"error": ...}) raise RemoteError; an
ErrorList with zero hits (PhraseNotFound) is an empty result that is reported, not a crash.
NCBI's rules: tool and email on every request, at most 3 requests/s, or 10 with an API key, which
comes from NCBI_API_KEY and is never logged or written. A server may echo the key back (in an
ErrorList, a warning, the body itself): every message, report and manifest entry goes through
`redact`, and a body holding the key is stored with it replaced by REDACTED, its manifest entry
saying `redacted: true` (sha256 and size are those of the stored bytes). Bodies are otherwise
stored exactly as served (`redacted: false`).
"""
from __future__ import annotations

import calendar
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from lxml import etree

from sources.errors import InputError, RemoteError
from sources.http import HttpClient, get_logger, host_of, one_line, redact, redact_bytes, register_secret
from sources.pubmed.settings import EUTILS_URL
from sources.raw_store import MANIFEST, read_manifest, utc_timestamp, write_atomic, write_manifest
from sources.store_lock import holds_store_lock

logger = get_logger("medcurate.pubmed.eutils")

WINDOW_CAP = 9999
RATE_WITHOUT_KEY, RATE_WITH_KEY = 3.0, 10.0
# The default date range when a large result must be split: PubMed's oldest citations are from the
# late 18th century, and "ahead of print" records carry publication dates in the future.
EARLIEST = date(1700, 1, 1)
FUTURE_YEARS = 5
RECORD_TAGS = {"pubmed": ("PubmedArticle", "PubmedBookArticle"), "pmc": ("article",)}
ROOT_TAGS = {"pubmed": "PubmedArticleSet", "pmc": "pmc-articleset"}


def _parser() -> etree.XMLParser:
    # Hardened: no entities, no network, no DTD, libxml2's size limits kept (DESIGN.md "Security").
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_xml(content: bytes, what: str) -> etree._Element:
    try:
        return etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(redact(f"{what}: invalid XML ({one_line(str(exc))})")) from None


def json_error(content: bytes) -> str | None:
    """The message of a JSON error body, the form NCBI answers in even when XML was asked for."""
    stripped = content.lstrip()
    if not stripped.startswith(b"{"):
        return None
    try:
        # strict=False: NCBI's 'retstart' error is reported to hold a raw newline inside a string
        data = json.loads(stripped.decode("utf-8", errors="replace"), strict=False)
    except ValueError:
        return "unreadable JSON body"
    if isinstance(data, dict):
        if "error" in data:
            return one_line(str(data["error"]))
        for value in data.values():
            if isinstance(value, dict) and "ERROR" in value:
                return one_line(str(value["ERROR"]))
    return "unexpected JSON body"


def _error_element(root: etree._Element) -> str | None:
    if root.tag == "ERROR":
        return one_line(root.text or "")
    found = root.find("ERROR")
    return None if found is None else one_line(found.text or "")


def _answer_root(content: bytes, what: str) -> etree._Element:
    """The XML root of an `esearch`/`efetch` answer; RemoteError for an error sent with HTTP 200
    (a JSON error body, or <ERROR> as or under the root)."""
    message = json_error(content)
    if message:
        raise RemoteError(f"{what}: {redact(message)}")
    root = parse_xml(content, what)
    message = _error_element(root)
    if message is not None:
        raise RemoteError(f"{what}: {redact(message)}")
    return root


# --- ESearch ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    count: int
    webenv: str | None
    query_key: str | None
    errors: tuple[str, ...] = ()  # ErrorList entries, e.g. "PhraseNotFound: abcXYZ"
    warnings: tuple[str, ...] = ()


def parse_esearch(content: bytes) -> Found:
    root = _answer_root(content, "esearch")
    if root.tag != "eSearchResult" or not (root.findtext("Count") or "").strip().isdigit():
        raise RemoteError(redact(f"esearch: unexpected answer <{root.tag}> without a Count"))

    def listed(tag: str) -> tuple[str, ...]:
        element = root.find(tag)
        # The server's own words: they may echo the request, key included.
        return () if element is None else tuple(redact(f"{child.tag}: {one_line(child.text or '')}") for child in element)

    return Found(
        int(root.findtext("Count").strip()),
        root.findtext("WebEnv"),
        root.findtext("QueryKey"),
        listed("ErrorList"),
        listed("WarningList"),
    )


def check_efetch(content: bytes, db: str) -> int:
    """The number of records in an efetch body; RemoteError if the body is an error instead."""
    root = _answer_root(content, "efetch")
    expected = ROOT_TAGS.get(db)
    if expected and root.tag != expected:
        raise RemoteError(redact(f"efetch: unexpected answer <{root.tag}>, not <{expected}>"))
    tags = RECORD_TAGS.get(db)
    return sum(1 for child in root if not tags or child.tag in tags)


# --- dates --------------------------------------------------------------------------------------------
def parse_date(text: str, *, end: bool) -> date:
    """`YYYY`, `YYYY/MM` or `YYYY/MM/DD` (or with `-`); a partial date means its first or last day."""
    match = re.fullmatch(r"(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?", text.strip())
    if not match:
        raise InputError(f"not a date: {text!r} (use YYYY, YYYY/MM or YYYY/MM/DD)")
    year, month, day = (int(group) if group else None for group in match.groups())
    try:
        if month is None:
            return date(year, 12, 31) if end else date(year, 1, 1)
        if day is None:
            return date(year, month, calendar.monthrange(year, month)[1] if end else 1)
        return date(year, month, day)
    except ValueError:
        raise InputError(f"not a date: {text!r}") from None


def _fmt(day: date) -> str:
    return day.strftime("%Y/%m/%d")


@dataclass(frozen=True)
class Window:
    start: date | None  # None: the query as given, without a date range
    end: date | None
    found: Found

    @property
    def label(self) -> str:
        return "all" if self.start is None else f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"


# --- the search -------------------------------------------------------------------------------------------
@dataclass
class SearchReport:
    query: str
    count: int = 0  # hits of the whole query
    records: int = 0  # records in the efetch bodies written
    files: list[str] = field(default_factory=list)
    windows: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)  # single days over the cap: first 9,999 only

    def summary(self) -> str:
        text = (
            f"pubmed search: {self.count} hits, {self.records} records in {len(self.files)} files"
            f" ({len(self.windows)} date windows)"
        )
        if self.warnings:
            text += "; " + "; ".join(self.warnings)
        if self.truncated:
            text += f"; over the cap, only the first {WINDOW_CAP} taken: {', '.join(self.truncated)}"
        return text

    def to_dict(self) -> dict:
        return {key: getattr(self, key) for key in ("query", "count", "records", "files", "windows", "warnings", "truncated")}


class _Search:
    def __init__(self, query: str, out_dir: Path, client: HttpClient, base_url: str, common: dict,
                 db: str, datetype: str, batch_size: int, cap: int):
        self.query, self.client, self.db, self.datetype = query, client, db, datetype
        self.base = base_url.rstrip("/") + "/"
        self.common = common
        self.batch_size = max(1, min(batch_size, 10000))
        self.cap = cap
        self.folder = out_dir / "eutils"
        self.query_hash = hashlib.sha256(f"{db}\n{query}".encode()).hexdigest()[:12]

    def esearch(self, start: date | None = None, end: date | None = None) -> Found:
        params = {"term": self.query, "usehistory": "y", "retmax": "0", "retmode": "xml"}
        if start is not None:
            params.update(datetype=self.datetype, mindate=_fmt(start), maxdate=_fmt(end))
        found = parse_esearch(self.client.get(self.base + "esearch.fcgi", params={**self.common, **params}).content)
        logger.info("esearch %s: %d hits", "all dates" if start is None else f"{_fmt(start)}-{_fmt(end)}", found.count)
        return found

    def windows(self, start: date, end: date, found: Found, report: SearchReport) -> Iterator[Window]:
        """Date windows under the cap, in date order, searched lazily (halving as needed)."""
        if found.count <= self.cap or start >= end:
            if found.count > self.cap:
                report.truncated.append(_fmt(start))
                logger.warning("%s alone has %d hits; only the first %d are reachable", _fmt(start), found.count, self.cap)
            yield Window(start, end, found)
            return
        middle = start + (end - start) // 2
        left, right = self.esearch(start, middle), self.esearch(middle + timedelta(days=1), end)
        # Halves of a date range partition it; if they do not, the server ignores dates and splitting
        # would never end. (A record with two publication dates may count twice, hence the slack.)
        if left.count + right.count > 1.5 * found.count:
            raise RemoteError(f"esearch: date windows do not narrow the result ({found.count} hits)")
        yield from self.windows(start, middle, left, report)
        yield from self.windows(middle + timedelta(days=1), end, right, report)

    def efetch(self, window: Window, retstart: int, retmax: int) -> dict:
        """Fetch one batch, write its body as served, and return its manifest entry."""
        params = {"WebEnv": window.found.webenv, "query_key": window.found.query_key,
                  "retstart": str(retstart), "retmax": str(retmax), "retmode": "xml"}
        result = self.client.get(self.base + "efetch.fcgi", params={**self.common, **params})
        records = check_efetch(result.content, self.db)
        body = redact_bytes(result.content)  # an echoed key is never stored
        name = f"efetch-{self.query_hash}-{window.label}-{retstart:05d}.xml"
        write_atomic(self.folder / name, body)
        entry = {
            "url": result.url, "path": f"eutils/{name}", "sha256": hashlib.sha256(body).hexdigest(),
            "size": len(body), "redacted": body != result.content, "status": result.status, "etag": result.etag,
            "last_modified": result.last_modified, "fetched_at": utc_timestamp(), "query": self.query, "db": self.db,
            "window": window.label, "retstart": retstart, "retmax": retmax, "records": records,
        }
        return {key: redact(value) if isinstance(value, str) else value for key, value in entry.items()}


@holds_store_lock("out_dir")
def search(
    query: str,
    out_dir: Path | str,
    *,
    max_records: int | None = None,
    mindate: str | None = None,
    maxdate: str | None = None,
    base_url: str = EUTILS_URL,
    client: HttpClient | None = None,
    batch_size: int = 500,
    email: str | None = None,
    tool: str = "medcurate",
    api_key: str | None = None,
    db: str = "pubmed",
    datetype: str = "pdat",
    requests_per_second: float | None = None,
    window_cap: int = WINDOW_CAP,
) -> SearchReport:
    """Search `db` for `query` and write the matching records' efetch XML under `out_dir/eutils/`.

    `api_key` defaults to the NCBI_API_KEY environment variable; `requests_per_second` to NCBI's
    limit for it (3, or 10 with a key). Re-running the same query replaces its earlier files.
    """
    api_key = api_key if api_key is not None else (os.environ.get("NCBI_API_KEY") or None)
    register_secret(api_key)  # from here on, the key is masked wherever it might be printed
    client = client or HttpClient()
    client.set_rate(host_of(base_url), requests_per_second or (RATE_WITH_KEY if api_key else RATE_WITHOUT_KEY))
    common = {"db": db, "tool": tool}
    if email:
        common["email"] = email
    if api_key:
        common["api_key"] = api_key
    out_dir = Path(out_dir)
    run = _Search(query, out_dir, client, base_url, common, db, datetype, batch_size, window_cap)
    report = SearchReport(redact(query))

    # NCBI needs mindate and maxdate together: one alone gets the other end of all time.
    start = parse_date(mindate, end=False) if mindate else None
    end = parse_date(maxdate, end=True) if maxdate else None
    if (start or end) and not (start and end):
        start = start or EARLIEST
        end = end or date(datetime.now(timezone.utc).year + FUTURE_YEARS, 12, 31)
    if start and end and start > end:
        raise InputError(f"mindate {mindate} is after maxdate {maxdate}")

    first = run.esearch(start, end)
    report.count = first.count
    report.warnings.extend(first.errors + first.warnings)
    wanted = first.count if max_records is None else min(first.count, max_records)
    if wanted <= window_cap:
        windows: Iterator[Window] = iter([Window(start, end, first)])
    else:
        start = start or EARLIEST
        end = end or date(datetime.now(timezone.utc).year + FUTURE_YEARS, 12, 31)
        windows = run.windows(start, end, first, report)

    entries = {entry["path"]: entry for entry in read_manifest(run.folder / MANIFEST)}
    written: set[str] = set()
    requested = 0
    for window in windows:
        if requested >= wanted:
            break
        report.windows.append({"mindate": window.start and _fmt(window.start),
                               "maxdate": window.end and _fmt(window.end), "count": window.found.count})
        reachable = min(window.found.count, window_cap)
        for retstart in range(0, reachable, run.batch_size):
            retmax = min(run.batch_size, reachable - retstart, wanted - requested)
            if retmax <= 0:
                break
            entry = run.efetch(window, retstart, retmax)
            requested += retmax
            entries[entry["path"]] = entry
            written.add(entry["path"])
            report.files.append(entry["path"])
            report.records += entry["records"]
            logger.info("efetch %s retstart %d: %d records (%d/%d)", window.label, retstart, entry["records"],
                        requested, wanted)

    # What an earlier run of this query wrote and this one did not is stale: remove it.
    for path in [p for p, e in entries.items() if e.get("query") == report.query and e.get("db") == db and p not in written]:
        (out_dir / path).unlink(missing_ok=True)
        del entries[path]
    if entries or (run.folder / MANIFEST).exists():
        write_manifest(run.folder / MANIFEST, entries.values())
    for warning in report.warnings:
        logger.warning("esearch: %s", warning)
    logger.info("%s", report.summary())
    return report
