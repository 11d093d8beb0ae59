"""`medcurate pmc list|fetch|parse`."""
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, OutOpt, ParamsOpt, SchedulerOpt, StageOutOpt, WorkersOpt, command_group, executor_for, option_group, shard_bytes,
    stage_command,
)
from pipelines.params import param, pick

pmc_app = command_group("pmc", "PubMed Central Open Access full text: listing, fetching, JATS parsing.")

LicensesOpt = typer.Option(None, "--licenses", help="licence families to keep, comma-separated ('CC BY,CC0'), or 'all' [params: pmc.licenses]")
BaseUrlOpt = typer.Option(None, "--base-url", help="root of the PMC Cloud bucket [params: pmc.base_url; null: the live bucket, https://pmc-oa-opendata.s3.amazonaws.com]")
EnumerateOpt = typer.Option(None, "--enumerate", help="'inventory' (the newest daily inventory) or 'list' (ListObjectsV2) [params: pmc.enumerate]")
PmcidsOpt = typer.Option(None, "--pmcids", help="file of PMCIDs, one per line: only these articles")
DenyOpt = typer.Option(None, "--deny-list", help="file of PMCIDs never to use, e.g. expired COVID-19 licences [params: pmc.deny_list]")
RetractedOpt = typer.Option(None, "--include-retracted/--no-include-retracted", help="keep retracted articles [params: pmc.include_retracted]")
ManuscriptsOpt = typer.Option(None, "--manuscripts/--no-manuscripts", help="allow author manuscripts [params: pmc.manuscripts]")
OcrOpt = typer.Option(None, "--historical-ocr/--no-historical-ocr", help="allow back-scanned (OCR) articles [params: pmc.historical_ocr]")
ConcurrencyOpt = typer.Option(None, "--concurrency", help="parallel downloads [params: pmc.concurrency]")


@dataclass(frozen=True)
class Selection:
    """The options `pmc list` and `pmc fetch` share: the bucket, how to enumerate it, which articles
    to select and how many downloads run at once; each defaults to params.yaml `pmc:`."""

    base_url: Optional[str] = BaseUrlOpt
    enumerate_: Optional[str] = EnumerateOpt
    pmcids: Optional[Path] = PmcidsOpt
    licenses_: Optional[str] = LicensesOpt
    deny_list: Optional[Path] = DenyOpt
    include_retracted: Optional[bool] = RetractedOpt
    manuscripts: Optional[bool] = ManuscriptsOpt
    historical_ocr: Optional[bool] = OcrOpt
    concurrency: Optional[int] = ConcurrencyOpt
    params_file: Optional[Path] = ParamsOpt

    def workers(self, params: dict) -> int:
        return int(pick(self.concurrency, params, "pmc.concurrency"))

    def route(self, params: dict) -> str:
        return pick(self.enumerate_, params, "pmc.enumerate")

    def bucket_url(self, params: dict) -> str:
        return _bucket_url(self.base_url, params)


def _bucket_url(given: Optional[str], params: dict) -> str:
    """--base-url, else pmc.base_url, else (null) the live bucket."""
    from sources.pmc.cloud import LIVE_BUCKET_URL

    return pick(given, params, "pmc.base_url") or LIVE_BUCKET_URL


def _client(frame, bucket_url: str, concurrency: int):
    from sources.pmc.cloud import ALLOWED_HOSTS

    client = frame.client(allowed_hosts=ALLOWED_HOSTS, max_connections=max(10, concurrency))
    rate = param(frame.params, "pmc.rate")
    if rate:  # requests/s to the bucket's host, on top of the concurrency bound
        from urllib.parse import urlsplit

        client.set_rate(urlsplit(bucket_url).hostname or "", float(rate))
    return client


def _limits(params: dict):
    """sources.pmc.cloud.limits.Limits from the pmc.max_* keys of params.yaml."""
    from sources.pmc.cloud.limits import Limits

    return Limits(
        list_pages=param(params, "pmc.max_list_pages"),
        list_page_bytes=param(params, "pmc.max_list_page_bytes"),
        metadata_bytes=param(params, "pmc.max_metadata_bytes"),
        object_bytes=param(params, "pmc.max_object_bytes"),
        run_bytes=param(params, "pmc.max_run_bytes"),
        failed_share=param(params, "pmc.max_failed_share"),
    )


def _families(given: Optional[str], params: dict, key: str):
    """None keeps every licence; otherwise the normalised families."""
    from sources.pmc.licenses import normalize_families

    value = given if given is not None else param(params, key)
    if value is None or value == "all" or value == ["all"]:
        return None
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    return sorted(normalize_families(v for v in items if v))


def _read_pmcids(path: Optional[Path]) -> Optional[list]:
    """PMCIDs of a file, one per line (# comments allowed); a line that is not one is an error."""
    from sources.pmc.ids import normalize_pmcid

    if path is None:
        return None
    lines = [line.split("#", 1)[0].strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    pmcids = []
    for number, line in enumerate(lines, 1):
        if line:
            pmcid = normalize_pmcid(line)
            if pmcid is None:
                raise ValueError(f"{path}:{number}: not a PMCID: {line!r}")
            pmcids.append(pmcid)
    return pmcids


def _policy(params: dict, selection: Selection):
    from sources.pmc.cloud.versions import SelectionPolicy

    families = _families(selection.licenses_, params, "pmc.licenses")
    deny_list = selection.deny_list if selection.deny_list is not None else param(params, "pmc.deny_list")
    return SelectionPolicy(
        families=frozenset(families) if families is not None else None,
        open_access_only=bool(param(params, "pmc.open_access_only")),
        manuscripts=bool(pick(selection.manuscripts, params, "pmc.manuscripts")),
        historical_ocr=bool(pick(selection.historical_ocr, params, "pmc.historical_ocr")),
        retracted=bool(pick(selection.include_retracted, params, "pmc.include_retracted")),
        deny=frozenset(_read_pmcids(deny_list) or []),
    )


def _write_listing(versions: list, out: Path) -> None:
    from sources.raw_store import write_atomic

    write_atomic(out, "".join(v.to_json() + "\n" for v in versions).encode("utf-8"))


def _read_listing(path: Path) -> list:
    from sources.pmc.cloud.versions import ArticleVersion

    lines = path.read_text(encoding="utf-8").splitlines()
    return [ArticleVersion.from_json(line, f"{path}:{number}") for number, line in enumerate(lines, 1) if line.strip()]


@pmc_app.command("list")
@option_group
def pmc_list(
    out: Path = typer.Option(..., "--out", help="listing to write: JSON lines, one article version per line, by PMCID"),
    store: Optional[Path] = typer.Option(None, "--store", help="raw store to keep the metadata JSONs in (e.g. the fetch --out); default: not kept"),
    selection: Selection = None,
) -> None:
    """List the article versions to fetch from the PMC Cloud bucket: one per article, by licence and flags."""
    import tempfile

    from pipelines.cli_fetch import fetch_command
    from sources.pmc.cloud.sync import list_versions

    with fetch_command(selection.params_file) as frame:
        params = frame.params
        root = selection.bucket_url(params)
        workers = selection.workers(params)
        with tempfile.TemporaryDirectory(prefix="medcurate-pmc-") as scratch:
            chosen, report = list_versions(
                _client(frame, root, workers), root, store or scratch, _policy(params, selection),
                route=selection.route(params), pmcids=_read_pmcids(selection.pmcids), workers=workers,
                limits=_limits(params))
        _write_listing(chosen, out)
        frame.report(f"pmc list: {len(chosen)} articles selected of {report.listed} versions listed -> {out}")
        if report.failed:
            frame.report(f"pmc list: {report.failed_count} metadata object(s) failed: " +
                         "; ".join(f"{f['id']}: {f['reason']}" for f in report.failed[:10]))


@pmc_app.command("fetch")
@option_group
def pmc_fetch(
    out: Path = OutOpt,
    via: str = typer.Option("cloud", "--via", help="'cloud' (the bucket's article XML), 'efetch' (E-utilities db=pmc) or 'oai' (OAI-PMH GetRecord)"),
    listing: Optional[Path] = typer.Option(None, "--listing", help="a `pmc list` output: fetch exactly these versions (nothing is removed)"),
    limit: Optional[int] = typer.Option(None, "--limit", help="fetch at most N articles [params: pmc.limit]"),
    selection: Selection = None,
    allow_mass_removal: bool = typer.Option(False, "--allow-mass-removal", help="remove what the bucket no longer holds even past pmc.max_removed / pmc.max_removed_share"),
) -> None:
    """Sync article XML into a raw store: what changed is fetched, what is no longer selected is removed (tombstoned)."""
    from pipelines.cli_fetch import fetch_command
    from sources.errors import FetchError
    from sources.pmc import fetch
    from sources.pmc.cloud import sync

    with fetch_command(selection.params_file) as frame:
        params = frame.params
        root = selection.bucket_url(params)
        limit = pick(limit, params, "pmc.limit")
        workers = selection.workers(params)
        client = _client(frame, root, workers)
        wanted = _read_pmcids(selection.pmcids)
        if via == "cloud":
            if listing is not None:
                report = sync.fetch_versions(client, root, out, _read_listing(listing)[:limit], workers=workers,
                                             limits=_limits(params))
            else:
                removals = None if allow_mass_removal else sync.RemovalLimit(
                    share=param(params, "pmc.max_removed_share"), count=param(params, "pmc.max_removed"))
                report = sync.sync(client, root, out, _policy(params, selection), route=selection.route(params),
                                   pmcids=wanted, limit=limit, workers=workers, removal_limit=removals, limits=_limits(params))
            wanted_any = report.selected
        elif via in ("efetch", "oai"):
            if listing is None and wanted is None:
                raise ValueError(f"--via {via} needs --listing or --pmcids")
            ids = [v.pmcid for v in _read_listing(listing)] if listing is not None else wanted
            ids = ids[:limit] if limit is not None else ids
            if via == "efetch":
                report = fetch.fetch_efetch(ids, param(params, "pubmed.eutils_url"), out, client=client,
                                            email=param(params, "pubmed.email"))
            else:
                report = fetch.fetch_oai(ids, param(params, "pmc.oai_url"), out, client=client)
            wanted_any = len(ids)
        else:
            raise ValueError(f"--via must be 'cloud', 'efetch' or 'oai', not {via!r}")
        frame.report(report.summary())
        if wanted_any and not report.fetched and not report.skipped:
            raise FetchError(f"nothing could be fetched of {wanted_any} selected (see above)")


@pmc_app.command("parse")
def pmc_parse(
    inputs: List[Path] = typer.Argument(..., help=".nxml / .xml (efetch, OAI-PMH) / .tar.gz files or folders of them"),
    out: str = StageOutOpt,
    citations: Optional[str] = typer.Option(None, help="drop | meditron [params: pmc.parse.citations]"),
    figure_refs: Optional[str] = typer.Option(None, "--figure-refs", help="plain | meditron [params: pmc.parse.figure_refs]"),
    captions: Optional[str] = typer.Option(None, help="tagged | plain | drop [params: pmc.parse.captions]"),
    tables: Optional[str] = typer.Option(None, help="drop | linearize [params: pmc.parse.tables]"),
    formulas: Optional[str] = typer.Option(None, help="tagged | plain | drop [params: pmc.parse.formulas]"),
    abstract_types: Optional[str] = typer.Option(None, "--abstract-types", help="other abstracts to keep, comma-separated (default the plain-language summaries: summary,editor,editors-summary,patient,synopsis; also highlights,teaser,toc,graphical,…, all; '' for none) [params: pmc.parse.abstract_types]"),
    back_matter: Optional[bool] = typer.Option(None, "--back-matter/--no-back-matter", help="keep acknowledgements, funding, … (supplementary-file captions are kept either way) [params: pmc.parse.back_matter]"),
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
    from dataclasses import asdict

    from pipelines.stages import pmc_parse as stage
    from sources.pmc.jats import JatsOptions

    with stage_command(params_file, out, metrics) as params:
        given = {"citations": citations, "figure_refs": figure_refs, "captions": captions, "tables": tables,
                 "formulas": formulas, "back_matter": back_matter, "sub_articles": sub_articles, "abstract_only": abstract_only,
                 "abstract_types": [t.strip() for t in abstract_types.split(",") if t.strip()] if abstract_types is not None else None}
        parse_params = param(params, "pmc.parse") or {}
        limits = stage.ReadLimits.from_mapping(parse_params)
        not_render = {"licenses", "files_per_task"} | set(asdict(limits))
        configured = {k: v for k, v in parse_params.items() if k not in not_render}
        options = JatsOptions.from_mapping({**configured, **{k: v for k, v in given.items() if v is not None}})
        families = _families(licenses_, params, "pmc.parse.licenses")
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, executor, shard_bytes(params), options=options, license_families=families,
                      files_per_task=int(pick(files_per_task, params, "pmc.parse.files_per_task")), limits=limits)
