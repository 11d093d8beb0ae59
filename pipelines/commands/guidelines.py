"""`medcurate guidelines list-sites|fetch|parse`."""
from dataclasses import replace
from pathlib import Path

import typer

from pipelines.cli_common import (
    MetricsOpt,
    OutOpt,
    StageOutOpt,
    ParamsOpt,
    SchedulerOpt,
    WorkersOpt,
    command_group,
    executor_for,
    shard_bytes,
    stage_command,
)
from pipelines.params import param, pick

guidelines_app = command_group("guidelines", "Clinical practice guidelines: polite crawling, per-site adapters, extraction.")

SiteOpt = typer.Option(..., "--site", help="site name (see `medcurate guidelines list-sites`)")


def site_base_url(params: dict, site_name: str, given: str | None) -> str | None:
    """--base-url, else guidelines.base_url (a root: the site is served under ROOT/<site>), else live."""
    if given:
        return given
    root = param(params, "guidelines.base_url")
    return f"{root.rstrip('/')}/{site_name}" if root else None


@guidelines_app.command("list-sites")
def list_sites() -> None:
    """The supported sites (name, licence, redistributable, how tested) and the unsupported ones."""
    from sources.guidelines.sites import SITES, UNSUPPORTED

    for site in SITES.values():
        flag = "redistributable" if site.redistributable else "not redistributable"
        typer.echo(f"{site.name:18} {site.base_url:32} {site.license:20} {flag:20} {site.description}")
        typer.echo(f"{'':18} tested on: {site.tested_on}")
    typer.echo("\nunsupported:")
    for name, why in UNSUPPORTED.items():
        typer.echo(f"{name:18} {why}")


@guidelines_app.command("fetch")
def guidelines_fetch(
    site: str = SiteOpt,
    out: Path = OutOpt,
    base_url: str | None = typer.Option(None, "--base-url", help="serve the site from this root (a mirror or the demo) [params: guidelines.base_url + /<site>]"),
    limit: int | None = typer.Option(None, "--limit", help="fetch at most N guideline pages [params: guidelines.limit; default: the site's page cap]"),
    rate: float | None = typer.Option(None, "--rate", help="requests per second per host, instead of the site's own (robots.txt Crawl-delay still caps it) [params: guidelines.rate]"),
    refresh: bool = typer.Option(False, "--refresh", help="revalidate stored pages with conditional requests (ETag / Last-Modified)"),
    params_file: Path | None = ParamsOpt,
) -> None:
    """Crawl one site politely (robots.txt, rate limit, retries) into a resumable raw page store."""
    from pipelines.cli_fetch import fetch_command
    from sources.errors import FetchError
    from sources.guidelines.fetcher import fetch_site
    from sources.guidelines.sites import get_site

    with fetch_command(params_file) as frame:
        chosen = get_site(site).with_base(site_base_url(frame.params, site, base_url))
        rate = pick(rate, frame.params, "guidelines.rate")
        if rate:
            chosen = replace(chosen, rate=float(rate))
        report = fetch_site(chosen, out, client=frame.client(), limit=pick(limit, frame.params, "guidelines.limit"), refresh=refresh)
        frame.report(report.summary(site))
        if report.fetched + report.from_store + report.revalidated == 0 and report.failed:
            raise FetchError(f"nothing could be fetched from {chosen.base_url}: {report.summary(site)}")


@guidelines_app.command("parse")
def guidelines_parse(
    inputs: list[Path] = typer.Argument(..., help="raw page stores written by `guidelines fetch`"),
    site: str = SiteOpt,
    out: str = StageOutOpt,
    grobid_url: str | None = typer.Option(None, "--grobid-url", help="GROBID server for PDFs [params: guidelines.grobid_url; default: pypdf]"),
    workers: int | None = WorkersOpt,
    scheduler: str | None = SchedulerOpt,
    metrics: Path | None = MetricsOpt,
    params_file: Path | None = ParamsOpt,
) -> None:
    """Extract guideline documents from raw pages; not-guidelines go to the ledger with a reason."""
    from pipelines.stages import guidelines_parse as stage
    from sources.guidelines.sites import get_site

    with stage_command(params_file, out, metrics) as params:
        get_site(site)
        payloads = stage.plan(site, inputs, int(param(params, "guidelines.task_pages")),
                              pick(grobid_url, params, "guidelines.grobid_url"))
        with executor_for(params, workers, scheduler) as executor:
            stage.run(payloads, out, executor, shard_bytes(params))
