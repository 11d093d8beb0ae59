"""`medcurate pubmed fetch` and `medcurate pubmed search`: options resolved against params.yaml.

Plain functions, wired into the typer app by pipelines/commands/pubmed.py. A command-line value
wins over params.yaml, which wins over the built-in default. Unrecoverable failures raise a
SourceError subclass, which the CLI turns into one line and exit status 1; a bulk file whose md5
never matched is reported (and kept out of the raw store) without failing the run.
"""
from __future__ import annotations

from pathlib import Path

from pipelines.cli_common import http_client
from pipelines.params import load_params, param, pick
from sources.errors import FetchError, InputError
from sources.http import redact
from sources.pubmed.eutils import SearchReport, search
from sources.pubmed.fetch import FetchReport, fetch_bulk


def fetch_command(base_url: str | None, out: Path, limit: int | None, params_file: Path | None) -> FetchReport:
    params = load_params(params_file)
    base_url = pick(base_url, params, "pubmed.base_url")
    if not base_url:
        raise InputError("no base URL: pass --base-url or set pubmed.base_url in params.yaml")
    limit = pick(limit, params, "pubmed.limit")
    if limit is not None and int(limit) < 0:
        raise InputError(f"--limit must be 0 or more, not {limit}")
    with http_client(params) as client:
        report = fetch_bulk(base_url, Path(out), limit=None if limit is None else int(limit), client=client)
    print(redact(report.summary()))
    if report.unreachable:
        paths = ", ".join(failure["path"] for failure in report.unreachable)
        raise FetchError(f"{len(report.unreachable)} file(s) unreachable after retries: {paths} (a re-run resumes)")
    return report


def search_command(
    query: str,
    out: Path,
    max: int | None,  # noqa: A002 - the name of the --max option
    mindate: str | None,
    maxdate: str | None,
    params_file: Path | None,
) -> SearchReport:
    params = load_params(params_file)  # refuses pubmed.api_key (sources.pubmed.settings)
    if max is not None and max < 0:
        raise InputError(f"--max must be 0 or more, not {max}")
    with http_client(params) as client:
        report = search(
            query,
            Path(out),
            max_records=max,
            mindate=mindate,
            maxdate=maxdate,
            base_url=param(params, "pubmed.eutils_url"),
            email=param(params, "pubmed.email"),
            client=client,
        )
    print(redact(report.summary()))
    return report
