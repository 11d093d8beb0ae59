"""`medcurate pmc parse`: JATS articles (.nxml, efetch/OAI .xml, OA .tar.gz packages) -> documents.

Inputs are sorted and cut into tasks of `files_per_task` files (a million one-article files must
not become a million tasks and marker files); the mapping is fixed, so a re-run writes the same
shards. Every article becomes a document or a ledger entry (not an article, no text, licence not
selected); a file that cannot be read (an OAI-PMH error answer included) is an
error-ledger entry, an unreadable article inside an efetch batch a record error.

What one file may cost is capped (`ReadLimits`, params pmc.parse.max_*): its article XML in bytes
(a package's members all together), the XML nodes it could build, a package's members and their
decompressed size. A file over a cap is an error-ledger entry; a package is parsed member by
member, so only one member's bytes and tree are held at a time.

A cloud raw store's `articles/removed.jsonl` (sources/pmc/cloud/tombstones.py) is an input too: each tombstone,
an article version the sync took out of the store, becomes a ledger entry `removed:<why>` with id
`pmc:PMC<n>.<v>` (never the id of the live document a newer version gives), so a release says
what left the corpus and why. The file grows with every sync and is read line by line, whatever
its size.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from curation.schema import make_document
from curation.task_output import TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import expand_inputs
from sources.errors import InputError, RemoteError
from sources.pmc import licenses
from sources.pmc.cloud import tombstones
from sources.pmc.jats import URL, Article, ArticleError, JatsOptions, parse_bytes
from sources.pmc import packages
from sources.pmc.settings import ReadLimits
from sources.safe_io import read_input_hashed
from sources.snapshot import HashingReader, open_raw, sha256_handle

STAGE = "pmc.parse"
TOMBSTONES = Path(tombstones.TOMBSTONES).name  # articles/removed.jsonl of a cloud raw store
SUFFIXES = (".nxml", ".xml", ".xml.gz", ".nxml.gz", ".tar.gz", ".tgz")
PACKAGE_SUFFIXES = (".tar.gz", ".tgz")

def is_pmc_input(path: Path) -> bool:
    return path.name.lower().endswith(SUFFIXES) or path.name == TOMBSTONES


def tombstone_articles(path: str) -> Iterator[Article]:
    """The versions a cloud sync removed, as documents for the ledger, read line by line. The file
    is one input, ledgered whole or refused whole: a first pass checks every line and hashes the
    file for the provenance, so a damaged line refuses it before any tombstone is ledgered.

    Both passes read one handle (sources/snapshot.py): a sync that replaces the file meanwhile
    (by rename) changes neither, so the tombstones ledgered are those checked and hashed."""
    handle = open_raw(path)
    try:
        hashed = HashingReader(handle)  # an empty file is a sync that removed nothing
        for _ in tombstones.iter_tombstones(hashed, path):
            pass
        digest = hashed.hexdigest_to_end()
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return _tombstone_items(handle, path, digest)


def _tombstone_items(handle: BinaryIO, path: str, digest: str) -> Iterator[Article]:
    with handle:
        for number, stone in tombstones.iter_tombstones(handle, path):
            pmcid, version, why = stone["pmcid"], stone["version"], stone["reason"]
            doc = make_document(  # the version in the id: the live document of a newer version is `pmc:<pmcid>`
                id=f"pmc:{pmcid}.{version}", source="pmc", subset="papers", title="", text="", url=URL.format(pmcid),
                pmcid=pmcid, license=stone.get("license"), meta={"version": version},
                provenance=json.dumps({"file": path, "sha256": digest, "line": number, "key": stone.get("key"),
                                       "removed_sha256": stone.get("sha256")}, sort_keys=True),
            )
            yield Article(doc, f"removed:{why}", f"{pmcid}.{version} taken out of the raw store at {stone.get('removed_at')}")


def parse_file(path: str, options: JatsOptions, limits: ReadLimits = ReadLimits()) -> Iterable[Article | ArticleError]:
    """Every article of one raw file; InputError when the file itself cannot be read."""
    if Path(path).name == TOMBSTONES:
        return tombstone_articles(path)
    if path.lower().endswith(PACKAGE_SUFFIXES):
        return parse_package(path, options, limits)
    data, digest = read_input_hashed(path, max_bytes=limits.max_file_bytes)
    return parse_bytes(data, {"file": path, "sha256": digest}, options, max_nodes=limits.max_xml_nodes)


def parse_package(path: str, options: JatsOptions, limits: ReadLimits) -> list[Article | ArticleError]:
    """The articles of an OA package, parsed member by member: each member's bytes and tree are
    released before the next is read. A package refused on a later member gives no article."""
    items: list[Article | ArticleError] = []
    with packages.open_package(path) as handle:
        digest = sha256_handle(handle)  # the handle read next: a package replaced meanwhile changes neither
        members = packages.iter_articles(
            handle, path, max_members=limits.max_package_members, max_nxml_bytes=limits.max_file_bytes,
            max_total_bytes=limits.max_package_bytes)
        for member in members:
            prov = {"file": path, "member": member.name, "sha256": digest}
            items.extend(parse_bytes(member.data, prov, options, name=f"{path}:{member.name}",
                                     max_nodes=limits.max_xml_nodes))
            del member  # not held while the generator reads the next one
    return items


def parse_work(payload: tuple[list[str], dict, list[str] | None, dict], output: TaskOutput) -> None:
    paths, option_values, families, limit_values = payload
    options = JatsOptions.from_mapping(option_values)
    limits = ReadLimits.from_mapping(limit_values)
    for path in paths:
        try:
            items = parse_file(path, options, limits)
        # HostileInputError included: refused, recorded, run goes on. A stored answer that holds
        # the remote's error (an OAI-PMH <error>) is an input with no article either.
        except (InputError, RemoteError) as error:
            output.input_failed(path, error)
            continue
        for item in items:
            if isinstance(item, ArticleError):
                output.record_failed(path, item.record, item.error)
            elif item.drop_reason:
                output.drop(item.doc, item.drop_reason, item.detail)
            elif families is not None and not licenses.allowed(item.doc["license"], families):
                output.drop(item.doc, f"license_not_selected:{item.doc['license']}", "pmc.parse.licenses")
            else:
                output.emit(item.doc)
        output.input_parsed()


def plan(inputs: Iterable[Path | str], files_per_task: int) -> list[list[str]]:
    files = [str(p) for p in expand_inputs(inputs, is_pmc_input)]
    size = max(1, int(files_per_task))
    return [files[i:i + size] for i in range(0, len(files), size)]


def run(
    inputs: Iterable[Path | str],
    out_dir: Path,
    executor: Executor,
    shard_bytes: int,
    *,
    options: JatsOptions | None = None,
    license_families: Iterable[str] | None = None,
    files_per_task: int = 500,
    limits: ReadLimits | None = None,
) -> None:
    """Parse every input; `license_families` (e.g. ["CC BY", "CC0"]) ledgers other licences."""
    options = options or JatsOptions()
    limits = limits or ReadLimits()
    families = sorted(licenses.normalize_families(license_families)) if license_families is not None else None
    chunks = plan(inputs, files_per_task)
    executor.size_to([f for chunk in chunks for f in chunk], tasks=len(chunks))
    payloads = [(chunk, options.to_dict(), families, asdict(limits)) for chunk in chunks]
    run_stage(STAGE, out_dir, payloads, parse_work, executor, shard_bytes=shard_bytes,
              settings={"options": options.to_dict(), "licenses": families, "limits": asdict(limits)},
              inputs=[f for chunk in chunks for f in chunk])
