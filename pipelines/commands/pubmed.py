"""`medcurate pubmed fetch|search|parse`."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, OutOpt, ParamsOpt, SchedulerOpt, WorkersOpt, command_group, cli_errors, executor_for, shard_bytes, stage_command,
)

pubmed_app = command_group("pubmed", "PubMed abstracts: bulk files, E-utilities search, XML parsing.")


@pubmed_app.command("fetch")
def pubmed_fetch(
    out: Path = OutOpt,
    base_url: Optional[str] = typer.Option(None, "--base-url", help="root of the PubMed tree, holding baseline/ and updatefiles/ [params: pubmed.base_url]"),
    limit: Optional[int] = typer.Option(None, "--limit", help="fetch at most N data files [params: pubmed.limit]"),
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Download baseline and update files with their .md5 into a verified raw store."""
    from pipelines.cli_pubmed_remote import fetch_command

    with cli_errors():
        fetch_command(base_url, out, limit, params_file)


@pubmed_app.command("search")
def pubmed_search(
    query: str = typer.Argument(..., help="an Entrez query, e.g. 'asthma[mesh] AND 2020[pdat]'"),
    out: Path = OutOpt,
    max_records: Optional[int] = typer.Option(None, "--max", help="fetch at most N records"),
    mindate: Optional[str] = typer.Option(None, "--mindate", help="YYYY[/MM[/DD]] publication date from"),
    maxdate: Optional[str] = typer.Option(None, "--maxdate", help="YYYY[/MM[/DD]] publication date to"),
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Search PubMed through E-utilities (history server, batched efetch) into a raw store.

    The API key is read from NCBI_API_KEY and never written anywhere.
    """
    from pipelines.cli_pubmed_remote import search_command

    with cli_errors():
        search_command(query, out, max_records, mindate, maxdate, params_file)


@pubmed_app.command("parse")
def pubmed_parse(
    inputs: List[Path] = typer.Argument(..., help="PubMed XML files (.xml, .xml.gz) or folders of them"),
    out: Path = OutOpt,
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
