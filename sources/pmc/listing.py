"""Which PMC articles exist and may be used: the OA web service and the bulk file lists.

Two routes give the same `OaRecord`s:
- the OA web service (oa.fcgi): `from`/`until` windows paged by `resumptionToken`, or one id at a
  time; errors come inside HTTP 200 bodies (`<error code="idIsNotOpenAccess">`);
- the bulk lists: legacy `oa_file_list.csv` (with or without its header) and `oa_file_list.txt`,
  the per-range `*.filelist.csv` of oa_bulk and the cloud bucket, and the per-version metadata
  JSON of the newer cloud layout (`metadata/PMC<id>.<v>.json`).
Each record keeps the licence exactly as the list states it, next to its normalised code, and
`select` filters by licence family, update date and a PMCID list.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Iterator

from sources.errors import InputError, RemoteError
from sources.http import HttpClient, get_logger, redact
from sources.pmc import licenses
from sources.safe_xml import parse_bytes_safe

logger = get_logger("medcurate.pmc.listing")

_PMCID = re.compile(r"^(?:PMC)?(\d+)$", re.IGNORECASE)
_LEGACY_COLUMNS = ["File", "Article Citation", "Accession ID", "Last Updated", "PMID", "License", "Retracted"]


class OaServiceError(RemoteError):
    """An error the OA service answered inside a 200 body; `code` is its stable code."""

    def __init__(self, code: str, message: str):
        super().__init__(f"OA service error {code}: {message}")
        self.code = code


@dataclass(frozen=True)
class OaRecord:
    pmcid: str
    license: str | None  # as the list states it
    license_code: str | None  # normalised (sources.pmc.licenses)
    citation: str | None = None
    pmid: str | None = None
    updated: str | None = None  # "YYYY-MM-DD HH:MM:SS" as listed
    retracted: bool | None = None
    links: dict = field(default_factory=dict)  # format ("tgz", "pdf", "xml", "txt") -> path or URL

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> "OaRecord":
        return cls(**json.loads(line))


def normalize_pmcid(value: str | int | None) -> str | None:
    """"PMC123", "pmc123", "123" -> "PMC123"; anything else -> None."""
    match = _PMCID.match(str(value or "").strip())
    return f"PMC{int(match.group(1))}" if match else None


def _record(pmcid, license_, **fields) -> OaRecord | None:
    pmcid = normalize_pmcid(pmcid)
    if pmcid is None:
        return None
    license_ = (license_ or "").strip() or None
    pmid = (fields.pop("pmid", None) or "").strip()
    pmid = pmid.removeprefix("PMID:") or None
    return OaRecord(pmcid=pmcid, license=license_, license_code=licenses.from_list_value(license_), pmid=pmid, **fields)


def _retracted(value: str | None) -> bool | None:
    value = (value or "").strip().lower()
    return {"yes": True, "no": False, "true": True, "false": False}.get(value)


# --- the OA web service ------------------------------------------------------------------------------
def parse_oa_response(body: bytes, name: str = "oa.fcgi") -> tuple[list[OaRecord], str | None]:
    """(records, URL of the next page or None) of one oa.fcgi answer; OaServiceError for `<error>`."""
    root = parse_bytes_safe(body, name)
    if root.tag != "OA":
        raise InputError(f"{name}: not an OA service response (root <{root.tag}>)")
    error = root.find("error")
    if error is not None:
        raise OaServiceError(error.get("code") or "unknown", " ".join("".join(error.itertext()).split()))
    records = []
    for node in root.iterfind("records/record"):
        links = {link.get("format"): link.get("href") for link in node.iterfind("link") if link.get("format")}
        updated = max((link.get("updated") or "" for link in node.iterfind("link")), default="") or None
        record = _record(
            node.get("id"), node.get("license"), citation=node.get("citation"),
            updated=updated, retracted=_retracted(node.get("retracted")), links=links,
        )
        if record is not None:
            records.append(record)
    resumption = root.find("records/resumption/link")
    if resumption is None:
        resumption = root.find("resumption/link")
    next_url = resumption.get("href") if resumption is not None else None
    return records, next_url


def iter_oa_service(
    client: HttpClient,
    service_url: str,
    *,
    from_date: str | None = None,
    until: str | None = None,
    fmt: str | None = "tgz",
    max_pages: int | None = None,
) -> Iterator[OaRecord]:
    """Every record updated in [from_date, until], following resumption links (1000 per page).

    A resumption link is followed only on the service's own host and path, so a hostile answer
    cannot send the client elsewhere; its query (the token) is taken over.
    """
    params = {k: v for k, v in (("from", from_date), ("until", until), ("format", fmt)) if v}
    url, pages = service_url, 0
    while url is not None:
        answer = client.get(url, params=params)
        pages += 1
        records, next_url = parse_oa_response(answer.content, redact(url))
        yield from records
        if next_url is None or (max_pages is not None and pages >= max_pages):
            return
        token = _resumption_token(next_url)
        if token is None:
            raise InputError(f"{redact(url)}: resumption link without a token: {redact(next_url)}")
        url, params = service_url, {"resumptionToken": token}


def _resumption_token(href: str) -> str | None:
    from urllib.parse import parse_qs, urlsplit

    return (parse_qs(urlsplit(href).query).get("resumptionToken") or [None])[0]


def lookup_ids(client: HttpClient, service_url: str, pmcids: Iterable[str], fmt: str | None = "tgz") -> tuple[list[OaRecord], dict[str, str]]:
    """Records for given PMCIDs; ids the service refuses come back as {pmcid: error code}."""
    found, refused = [], {}
    for pmcid in pmcids:
        params = {"id": pmcid, **({"format": fmt} if fmt else {})}
        try:
            records, _ = parse_oa_response(client.get(service_url, params=params).content, f"oa.fcgi?id={pmcid}")
        except OaServiceError as error:
            refused[pmcid] = error.code
            continue
        found.extend(records)
    return found, refused


# --- the bulk file lists --------------------------------------------------------------------------------
def parse_file_list(data: bytes, name: str = "file list") -> list[OaRecord]:
    """Records of any bulk list format (detected from its first line), in list order."""
    text = data.decode("utf-8-sig", errors="replace")
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise InputError(f"{name}: empty file list")
    if "\t" in first or (text.count("\t") and "," not in first):
        return list(_txt_rows(text))
    if first.lstrip().startswith("{"):
        return [r for r in (version_metadata(json.loads(line)) for line in text.splitlines() if line.strip()) if r]
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip() for h in rows[0]]
    if any(h.lower().startswith(("file", "article file", "key")) for h in header[:1]) and "License" in header:
        return [r for r in (_csv_row(dict(zip(header, row))) for row in rows[1:] if row) if r]
    # Headerless legacy list (the fixture's source stripped it): legacy column order.
    return [r for r in (_csv_row(dict(zip(_LEGACY_COLUMNS, row))) for row in rows if row) if r]


def _csv_row(row: dict) -> OaRecord | None:
    path = row.get("File") or row.get("Article File") or row.get("Key")
    updated = next((v for k, v in row.items() if k and k.startswith(("Last Updated", "LastUpdated"))), None)
    fmt = "tgz" if (path or "").endswith(".tar.gz") else "xml"
    return _record(
        row.get("Accession ID") or row.get("AccessionID"), row.get("License"),
        citation=row.get("Article Citation"), pmid=row.get("PMID"), updated=(updated or "").strip() or None,
        retracted=_retracted(row.get("Retracted")), links={fmt: path} if path else {},
    )


def _txt_rows(text: str) -> Iterator[OaRecord]:
    """`oa_file_list.txt`: a timestamp line, then path, citation, PMCID, PMID:n, licence (tabs)."""
    for line in text.splitlines():
        cells = line.split("\t")
        if len(cells) < 3:
            continue  # the timestamp line
        path, citation, pmcid = cells[0], cells[1], cells[2]
        record = _record(pmcid, cells[4] if len(cells) > 4 else None, citation=citation,
                         pmid=cells[3] if len(cells) > 3 else None, links={"tgz": path})
        if record is not None:
            yield record


def version_metadata(meta: dict) -> OaRecord | None:
    """One per-version metadata JSON of the cloud layout (`metadata/PMC<id>.<v>.json`)."""
    if meta.get("is_pmc_openaccess") is False:
        return None
    links = {kind: meta[f"{kind}_url"] for kind in ("xml", "txt", "pdf") if meta.get(f"{kind}_url")}
    pmid = meta.get("pmid")
    return _record(
        meta.get("pmcid"), meta.get("license_code"), citation=meta.get("citation"),
        pmid=str(pmid) if pmid else None, retracted=meta.get("is_retracted"), links=links,
    )


# --- selection -------------------------------------------------------------------------------------------
def select(
    records: Iterable[OaRecord],
    *,
    families: Iterable[str] | None = licenses.COMMERCIAL_FAMILIES,
    since: str | None = None,
    until: str | None = None,
    pmcids: Iterable[str] | None = None,
    include_retracted: bool = False,
) -> list[OaRecord]:
    """Records that pass every given filter, one per PMCID (the latest listed), sorted by PMCID.

    `families=None` keeps every licence; dates compare the listed update time's ISO prefix.
    """
    wanted = {normalize_pmcid(p) for p in pmcids} if pmcids is not None else None
    allowed = set(families) if families is not None else None
    chosen: dict[str, OaRecord] = {}
    for record in records:
        if wanted is not None and record.pmcid not in wanted:
            continue
        if allowed is not None and not licenses.allowed(record.license_code, allowed):
            continue
        if record.retracted and not include_retracted:
            continue
        day = (record.updated or "")[:10]
        if (since and (not day or day < since)) or (until and (not day or day > until)):
            continue
        previous = chosen.get(record.pmcid)
        if previous is None or (record.updated or "") >= (previous.updated or ""):
            chosen[record.pmcid] = record
    return [chosen[k] for k in sorted(chosen, key=lambda p: int(p[3:]))]
