"""`medcurate pmc list|fetch|parse`."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, OutOpt, ParamsOpt, SchedulerOpt, WorkersOpt, app, cli_errors, executor_for, shard_bytes, stage_command,
)
from pipelines.params import load_params, param, pick

pmc_app = typer.Typer(no_args_is_help=True, help="PubMed Central Open Access full text: listing, fetching, JATS parsing.")
app.add_typer(pmc_app, name="pmc")

NCBI_HOSTS = ("ftp.ncbi.nlm.nih.gov", "www.ncbi.nlm.nih.gov", "pmc.ncbi.nlm.nih.gov", "eutils.ncbi.nlm.nih.gov")
LicensesOpt = typer.Option(None, "--licenses", help="licence families to keep, comma-separated ('CC BY,CC0'), or 'all' [params: pmc.licenses]")


def _client(params: dict):
    from sources.http import HttpClient

    return HttpClient(timeout=float(param(params, "http.timeout", 30)), retries=int(param(params, "http.retries", 6)),
                      allowed_hosts=NCBI_HOSTS)


def _families(given: Optional[str], params: dict, key: str, default=None):
    """None keeps every licence; otherwise the normalised families."""
    from sources.pmc.licenses import COMMERCIAL_FAMILIES, normalize_families

    value = given if given is not None else param(params, key, default if default is not None else list(COMMERCIAL_FAMILIES))
    if value is None or value == "all" or value == ["all"]:
        return None
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    return sorted(normalize_families(v for v in items if v))


def _read_pmcids(path: Optional[Path]) -> Optional[list]:
    if path is None:
        return None
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]


def _listed_records(params: dict, client, base_url: str, file_list: Optional[str]) -> list:
    """Records of a bulk file list: a local file, a URL, or a name under base_url."""
    from sources.pmc.listing import parse_file_list

    source = file_list or param(params, "pmc.file_list", "oa_file_list.csv")
    local = Path(source)
    if local.is_file():
        return parse_file_list(local.read_bytes(), str(local))
    url = source if "://" in source else base_url.rstrip("/") + "/" + source.lstrip("/")
    return parse_file_list(client.get(url).content, url)


def _write_listing(records: list, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
    tmp.replace(out)


@pmc_app.command("list")
def pmc_list(
    out: Path = typer.Option(..., "--out", help="listing file to write (JSON lines, one article per line, sorted by PMCID)"),
    route: str = typer.Option("file-list", "--route", help="'file-list' (bulk oa_file_list) or 'oa-service' (oa.fcgi)"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="root of the PMC tree holding the file list [params: pmc.base_url]"),
    file_list: Optional[str] = typer.Option(None, "--file-list", help="file list: local path, URL or name under --base-url [params: pmc.file_list]"),
    from_date: Optional[str] = typer.Option(None, "--from", help="updated on or after YYYY-MM-DD"),
    until: Optional[str] = typer.Option(None, "--until", help="updated on or before YYYY-MM-DD"),
    pmcids: Optional[Path] = typer.Option(None, "--pmcids", help="file of PMCIDs to keep, one per line"),
    licenses_: Optional[str] = LicensesOpt,
    include_retracted: bool = typer.Option(False, "--include-retracted", help="keep articles the list marks retracted"),
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """List the OA articles to fetch, selected by licence (commercial-use by default), date and PMCID."""
    from sources.pmc.listing import iter_oa_service, lookup_ids, select

    with cli_errors():
        params = load_params(params_file)
        families = _families(licenses_, params, "pmc.licenses")
        wanted = _read_pmcids(pmcids)
        client = _client(params)
        if route == "oa-service":
            service = param(params, "pmc.oa_service_url", "https://www.ncbi.nlm.nih.gov/pmc/utils/oa/oa.fcgi")
            if wanted is not None:
                records, refused = lookup_ids(client, service, wanted)
                for pmcid, code in sorted(refused.items()):
                    typer.echo(f"pmc list: {pmcid}: {code}", err=True)
            else:
                records = list(iter_oa_service(client, service, from_date=from_date, until=until))
        elif route == "file-list":
            records = _listed_records(params, client, pick(base_url, params, "pmc.base_url"), file_list)
        else:
            raise ValueError(f"--route must be 'file-list' or 'oa-service', not {route!r}")
        chosen = select(records, families=families, since=from_date, until=until, pmcids=wanted,
                        include_retracted=include_retracted)
        _write_listing(chosen, out)
        typer.echo(f"pmc list: {len(chosen)} of {len(records)} listed articles selected -> {out}", err=True)


@pmc_app.command("fetch")
def pmc_fetch(
    out: Path = OutOpt,
    base_url: Optional[str] = typer.Option(None, "--base-url", help="root of the PMC tree holding oa_package/ and the file list [params: pmc.base_url]"),
    listing: Optional[Path] = typer.Option(None, "--listing", help="a `pmc list` output; default: the file list under --base-url, selected by licence"),
    via: str = typer.Option("package", "--via", help="'package' (OA .tar.gz), 'efetch' (E-utilities db=pmc) or 'oai' (OAI-PMH GetRecord)"),
    limit: Optional[int] = typer.Option(None, "--limit", help="fetch at most N articles [params: pmc.limit]"),
    licenses_: Optional[str] = LicensesOpt,
    keep_packages: Optional[bool] = typer.Option(None, "--keep-packages/--no-keep-packages", help="keep the .tar.gz next to the extracted .nxml [params: pmc.keep_packages]"),
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Fetch article XML into a raw store with a manifest; re-running resumes and skips what is verified."""
    from sources.pmc import fetch
    from sources.pmc.listing import OaRecord, select

    with cli_errors():
        params = load_params(params_file)
        client = _client(params)
        root = pick(base_url, params, "pmc.base_url")
        limit = pick(limit, params, "pmc.limit")
        if listing is not None:
            records = [OaRecord.from_json(line) for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
        else:
            records = select(_listed_records(params, client, root, None), families=_families(licenses_, params, "pmc.licenses"))
        records = records[:limit] if limit is not None else records
        if via == "package":
            report = fetch.fetch_packages(records, root, out, client=client,
                                          keep_packages=bool(pick(keep_packages, params, "pmc.keep_packages", False)))
        elif via == "efetch":
            report = fetch.fetch_efetch([r.pmcid for r in records], param(params, "pubmed.eutils_url"), out, client=client,
                                        email=param(params, "pubmed.email"))
        elif via == "oai":
            report = fetch.fetch_oai([r.pmcid for r in records], param(params, "pmc.oai_url"), out, client=client)
        else:
            raise ValueError(f"--via must be 'package', 'efetch' or 'oai', not {via!r}")
        typer.echo(report.summary(), err=True)
        if records and not report.fetched and not report.skipped:
            raise typer.Exit(1)  # nothing reachable at all: the stage could not run


@pmc_app.command("parse")
def pmc_parse(
    inputs: List[Path] = typer.Argument(..., help=".nxml / .xml (efetch, OAI-PMH) / .tar.gz files or folders of them"),
    out: Path = OutOpt,
    citations: Optional[str] = typer.Option(None, help="drop | meditron [params: pmc.parse.citations]"),
    figure_refs: Optional[str] = typer.Option(None, "--figure-refs", help="plain | meditron [params: pmc.parse.figure_refs]"),
    captions: Optional[str] = typer.Option(None, help="tagged | plain | drop [params: pmc.parse.captions]"),
    tables: Optional[str] = typer.Option(None, help="drop | linearize [params: pmc.parse.tables]"),
    formulas: Optional[str] = typer.Option(None, help="tagged | plain | drop [params: pmc.parse.formulas]"),
    abstract_types: Optional[str] = typer.Option(None, "--abstract-types", help="other abstracts to keep, comma-separated (summary,graphical,teaser,…) [params: pmc.parse.abstract_types]"),
    back_matter: Optional[bool] = typer.Option(None, "--back-matter/--no-back-matter", help="keep acknowledgements, funding, … [params: pmc.parse.back_matter]"),
    sub_articles: Optional[bool] = typer.Option(None, "--sub-articles/--no-sub-articles", help="keep reviewer reports and responses [params: pmc.parse.sub_articles]"),
    abstract_only: Optional[bool] = typer.Option(None, "--abstract-only/--no-abstract-only", help="body-less articles become abstract-only documents [params: pmc.parse.abstract_only]"),
    licenses_: Optional[str] = typer.Option(None, "--licenses", help="ledger articles outside these licence families, or 'all' [params: pmc.parse.licenses]"),
    files_per_task: Optional[int] = typer.Option(None, "--files-per-task", help="input files per task [params: pmc.parse.files_per_task]"),
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Parse JATS into documents: title, abstract, sections, captions; notices and empty items to the ledger."""
    from pipelines.stages import pmc_parse as stage
    from sources.pmc.jats import JatsOptions

    with stage_command(params_file, out, metrics) as params:
        given = {"citations": citations, "figure_refs": figure_refs, "captions": captions, "tables": tables,
                 "formulas": formulas, "back_matter": back_matter, "sub_articles": sub_articles, "abstract_only": abstract_only,
                 "abstract_types": [t.strip() for t in abstract_types.split(",") if t.strip()] if abstract_types is not None else None}
        configured = {k: v for k, v in (param(params, "pmc.parse", {}) or {}).items() if k not in ("licenses", "files_per_task")}
        options = JatsOptions.from_mapping({**configured, **{k: v for k, v in given.items() if v is not None}})
        families = _families(licenses_, params, "pmc.parse.licenses", default="all")
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, executor, shard_bytes(params), options=options, license_families=families,
                      files_per_task=int(pick(files_per_task, params, "pmc.parse.files_per_task", 500)))
