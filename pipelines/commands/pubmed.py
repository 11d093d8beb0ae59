"""`medcurate pubmed fetch|search|parse`: option values win over params.yaml, which wins over the
sections' defaults (sources/pubmed/settings.py)."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, OutOpt, ParamsOpt, StageOutOpt, SchedulerOpt, WorkersOpt, command_group, executor_for, shard_bytes, stage_command,
)
from pipelines.params import param, pick

pubmed_app = command_group("pubmed", "PubMed abstracts: bulk files, E-utilities search, XML parsing.")


@pubmed_app.command("fetch")
def pubmed_fetch(
    out: Path = OutOpt,
    base_url: Optional[str] = typer.Option(None, "--base-url", help="root of the PubMed tree, holding baseline/ and updatefiles/ [params: pubmed.base_url; null: NCBI's live tree]"),
    limit: Optional[int] = typer.Option(None, "--limit", help="fetch at most N data files [params: pubmed.limit]"),
    params_file: Optional[Path] = ParamsOpt,
):
    """Download baseline and update files with their .md5 into a verified raw store.

    A file whose md5 never matched is reported and kept out of the store without failing the run;
    one that stays unreachable after retries fails it (a re-run resumes)."""
    from pipelines.cli_fetch import fetch_command
    from sources.errors import FetchError, InputError
    from sources.pubmed.fetch import fetch_bulk
    from sources.pubmed.settings import LIVE_URL

    with fetch_command(params_file) as frame:
        limit = pick(limit, frame.params, "pubmed.limit")
        if limit is not None and limit < 0:
            raise InputError(f"--limit must be 0 or more, not {limit}")
        root = pick(base_url, frame.params, "pubmed.base_url") or LIVE_URL
        report = fetch_bulk(root, out, limit=limit, client=frame.client())
        frame.report(report.summary())
        if report.unreachable:
            paths = ", ".join(failure["path"] for failure in report.unreachable)
            raise FetchError(f"{len(report.unreachable)} file(s) unreachable after retries: {paths} (a re-run resumes)")
        return report


@pubmed_app.command("search")
def pubmed_search(
    query: str = typer.Argument(..., help="an Entrez query, e.g. 'asthma[mesh] AND 2020[pdat]'"),
    out: Path = OutOpt,
    max_records: Optional[int] = typer.Option(None, "--max", help="fetch at most N records"),
    mindate: Optional[str] = typer.Option(None, "--mindate", help="YYYY[/MM[/DD]] publication date from"),
    maxdate: Optional[str] = typer.Option(None, "--maxdate", help="YYYY[/MM[/DD]] publication date to"),
    params_file: Optional[Path] = ParamsOpt,
):
    """Search PubMed through E-utilities (history server, batched efetch) into a raw store.

    The API key is read from NCBI_API_KEY and never written anywhere.
    """
    from pipelines.cli_fetch import fetch_command
    from sources.errors import InputError
    from sources.pubmed.eutils import search

    with fetch_command(params_file) as frame:
        if max_records is not None and max_records < 0:
            raise InputError(f"--max must be 0 or more, not {max_records}")
        report = search(query, out, max_records=max_records, mindate=mindate, maxdate=maxdate,
                        base_url=param(frame.params, "pubmed.eutils_url"), email=param(frame.params, "pubmed.email"),
                        client=frame.client())
        frame.report(report.summary())
        return report


@pubmed_app.command("parse")
def pubmed_parse(
    inputs: List[Path] = typer.Argument(..., help="PubMed XML files (.xml, .xml.gz) or folders of them"),
    out: str = StageOutOpt,
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Parse PubMed XML into documents: title + abstract, versions and deletions applied."""
    from pipelines.stages import pubmed_parse as stage

    with stage_command(params_file, out, metrics) as params:
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, executor, shard_bytes(params))
