"""`medcurate guidelines parse --site NAME RAW_DIR...`: raw page stores -> guideline documents.

Each raw store (one site, see sources/guidelines/store.py) is read through its manifest: stored
responses are sorted by URL and cut into tasks of `task_pages`, so the mapping from page to task
file is fixed and re-runs write the same files. Fetch failures recorded in the manifest
(robots_disallowed, redirect_refused, too_large, http_status, content_type, fetch_failed) become
error-ledger rows of the first task, so a URL that never made it to the store is still accounted
for. A page that cannot be read (malformed PDF, invalid API JSON) is an error-ledger row; every
document extracted is either emitted or ledgered with its reason.
"""
from __future__ import annotations

from pathlib import Path

from curation.task_output import TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from sources.errors import SourceError
from sources.guidelines.crawl import LinkCrawl
from sources.guidelines.parse import ParseOptions
from sources.guidelines.sites import get_site
from sources.guidelines.store import PageStore, page_from_entry, read_site_file

STAGE = "guidelines.parse"


def plan(site_name: str, roots: list[Path | str], task_pages: int, grobid_url: str | None) -> list[dict]:
    payloads = []
    for root in sorted(str(Path(r)) for r in roots):
        info = read_site_file(root)
        if info["site"] != site_name:
            raise ValueError(f"{root} holds pages of {info['site']!r}, not {site_name!r}")
        store = PageStore(root)
        entries, failures = store.page_entries(), store.failures()
        chunks = [entries[i:i + task_pages] for i in range(0, len(entries), task_pages)] or [[]]
        for index, chunk in enumerate(chunks):
            payloads.append({
                "site": site_name, "base_url": info["base_url"], "root": root, "grobid_url": grobid_url,
                "pages": chunk, "failures": failures if index == 0 else [],
            })
    return payloads


def parse_work(payload: dict, output: TaskOutput) -> None:
    site = get_site(payload["site"]).with_base(payload["base_url"])
    adapter = site.adapter or LinkCrawl()
    options = ParseOptions(grobid_url=payload["grobid_url"])
    for entry in payload["failures"]:
        output.input_failed(entry["url"], f"{entry['error']['kind']}: {entry['error']['message']}")
    for entry in payload["pages"]:
        page = page_from_entry(payload["root"], entry)
        try:
            outcomes = list(adapter.parse(site, page, options))
        except (SourceError, OSError) as error:
            output.input_failed(page.url, error)
            continue
        output.input_parsed()
        for outcome in outcomes:
            if outcome.reason:
                output.drop(outcome.doc, outcome.reason, outcome.detail)
            else:
                output.emit(outcome.doc)


def run(payloads: list[dict], out_dir: Path, executor: Executor, shard_bytes: int) -> None:
    """Run the tasks `plan` made (planned first, so a bad input fails before a cluster starts)."""
    executor.size_to(None, tasks=len(payloads))  # saved pages: the number of tasks decides
    site_name = payloads[0]["site"]
    grobid_url = payloads[0]["grobid_url"]
    run_stage(STAGE, out_dir, payloads, parse_work, executor, shard_bytes=shard_bytes,
              settings={"site": site_name, "grobid_url": grobid_url},
              summary_extra={"site": site_name})
