"""PMC article XML by API into a raw store: efetch db=pmc batches and OAI-PMH GetRecord.

The bulk route is the cloud bucket (sources/pmc/cloud); these serve given PMCIDs, e.g. articles
the bucket lacks. Raw store layout (what `pmc parse` reads):
    OUT/efetch/pmc-<first>-<last>.xml   one efetch batch (<pmc-articleset>)
    OUT/oai/PMCnnn.xml            one OAI-PMH GetRecord answer
    OUT/manifest.jsonl            one JSON object per remote resource, sorted by url

An entry that the manifest vouches for, with its files in place, is skipped without any request,
so a re-run on a complete store changes no byte.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from sources.errors import FetchError, InputError, RemoteError
from sources.http import HttpClient, get_logger, redact, redact_bytes, register_secret
from sources.pmc.ids import normalize_pmcid
from sources.raw_store import MANIFEST, read_manifest, utc_timestamp, write_atomic, write_manifest
from sources.safe_xml import parse_bytes_safe
from sources.store_lock import holds_store_lock

logger = get_logger("medcurate.pmc.fetch")

OAI_NS = "{http://www.openarchives.org/OAI/2.0/}"


@dataclass
class FetchReport:
    manifest: Path
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # {"id", "reason"}

    def summary(self) -> str:
        text = f"pmc fetch: {len(self.fetched)} fetched, {len(self.skipped)} skipped, {len(self.failed)} failed"
        if self.failed:
            text += " (" + "; ".join(f"{f['id']}: {f['reason']}" for f in self.failed[:10]) + ")"
        return redact(text)  # reasons quote remote answers


def _vouched(entry: dict | None, out_dir: Path) -> bool:
    return bool(entry) and not entry.get("error") and all((out_dir / p).is_file() for p in entry.get("paths") or [None])


class _Run:
    """One fetch run: the manifest, the report, the after-each-item manifest write."""

    def __init__(self, out_dir: Path | str):
        self.out_dir = Path(out_dir)
        self.report = FetchReport(self.out_dir / MANIFEST)
        self.entries = {entry["url"]: entry for entry in read_manifest(self.report.manifest)}

    def done(self, key: str, label: str) -> bool:
        if _vouched(self.entries.get(key), self.out_dir):
            self.report.skipped.append(label)
            return True
        return False

    def record(self, key: str, label: str, entry: dict) -> None:
        if entry.get("error"):
            entry = {**entry, "error": redact(entry["error"])}  # a reason may quote the answer
        self.entries[key] = {"url": key, "fetched_at": utc_timestamp(), **entry}
        if entry.get("error"):
            self.report.failed.append({"id": label, "reason": entry["error"]})
            logger.error("%s: FAILED: %s", label, entry["error"])
        else:
            self.report.fetched.append(label)
        write_manifest(self.report.manifest, self.entries.values())  # after each item: a killed run loses nothing

    def finish(self) -> FetchReport:
        write_manifest(self.report.manifest, self.entries.values())
        logger.info("%s", self.report.summary())
        return self.report


# --- efetch db=pmc -----------------------------------------------------------------------------------------
def _api_params(api_key: str | None) -> dict:
    api_key = api_key or os.environ.get("NCBI_API_KEY")
    if api_key:
        register_secret(api_key)
        return {"api_key": api_key}
    return {}


@holds_store_lock("out_dir")
def fetch_efetch(
    pmcids: Iterable[str],
    eutils_url: str,
    out_dir: Path | str,
    *,
    client: HttpClient | None = None,
    batch_size: int = 100,
    email: str | None = None,
    api_key: str | None = None,
) -> FetchReport:
    """efetch db=pmc in batches of numeric ids; an answer without `<pmc-articleset>` is a failure."""
    client = client or HttpClient()
    run = _Run(out_dir)
    numbers = sorted({int(p[3:]) for p in (normalize_pmcid(x) for x in pmcids) if p})
    url = eutils_url.rstrip("/") + "/efetch.fcgi"
    extra = {**_api_params(api_key), **({"email": email} if email else {}), "tool": "medcurate"}
    for start in range(0, len(numbers), max(1, batch_size)):
        batch = numbers[start:start + batch_size]
        name = f"efetch/pmc-{batch[0]}-{batch[-1]}.xml"
        key = redact(f"{url}?db=pmc&id={','.join(map(str, batch))}")
        if run.done(key, name):
            continue
        try:
            answer = client.post(url, data={"db": "pmc", "id": ",".join(map(str, batch)), "retmode": "xml", **extra})
            root = parse_bytes_safe(answer.content, name)
            if root.tag != "pmc-articleset":  # a server may echo the key, even as the root's name
                message = " ".join("".join(root.itertext()).split())[:200]
                raise RemoteError(redact(f"efetch answered <{root.tag}>: {message}"))
        except (FetchError, InputError, RemoteError) as exc:
            run.record(key, name, {"paths": None, "error": str(exc)})
            continue
        body = redact_bytes(answer.content)  # a server that echoes the key must not make us store it
        write_atomic(run.out_dir / name, body)
        run.record(key, name, {"paths": [name], "ids": len(batch), "articles": len(root.findall("article")),
                               "sha256": hashlib.sha256(body).hexdigest(), "size": len(body),
                               "redacted": body != answer.content, "status": answer.status})
    return run.finish()


# --- OAI-PMH GetRecord -------------------------------------------------------------------------------------
@holds_store_lock("out_dir")
def fetch_oai(
    pmcids: Iterable[str],
    oai_url: str,
    out_dir: Path | str,
    *,
    client: HttpClient | None = None,
    metadata_prefix: str = "pmc",
) -> FetchReport:
    """One GetRecord per article; OAI errors (idDoesNotExist, cannotDisseminateFormat) are failures."""
    client = client or HttpClient()
    run = _Run(out_dir)
    for pmcid in sorted({p for p in (normalize_pmcid(x) for x in pmcids) if p}, key=lambda p: int(p[3:])):
        params = {"verb": "GetRecord", "identifier": f"oai:pubmedcentral.nih.gov:{pmcid[3:]}", "metadataPrefix": metadata_prefix}
        name = f"oai/{pmcid}.xml"
        key = redact(f"{oai_url}?verb=GetRecord&identifier={params['identifier']}&metadataPrefix={metadata_prefix}")
        if run.done(key, pmcid):
            continue
        try:
            answer = client.get(oai_url, params=params)
            root = parse_bytes_safe(answer.content, name)
            error = root.find(f"{OAI_NS}error")
            if error is not None:
                raise RemoteError(f"OAI-PMH error {error.get('code')}: {redact(' '.join((error.text or '').split()))}")
        except (FetchError, InputError, RemoteError) as exc:
            run.record(key, pmcid, {"paths": None, "error": str(exc)})
            continue
        write_atomic(run.out_dir / name, answer.content)
        run.record(key, pmcid, {"paths": [name], "sha256": hashlib.sha256(answer.content).hexdigest(),
                                "size": len(answer.content), "status": answer.status})
    return run.finish()
