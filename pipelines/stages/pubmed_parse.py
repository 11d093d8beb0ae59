"""`medcurate pubmed parse`: PubMed XML files -> documents, with versions and deletions applied.

Files are applied in release order: the baseline before updates, each set by file number
(`pubmedYYnNNNN`), other files (E-utilities batches) last by name. Two passes:
1. scan every file's bytes in parallel for record start tags, their (PMID, version) and the
   DeleteCitation entries, without parsing the XML (sources/pubmed/record_scan.py);
2. decide, per PMID, which record survives: a DeleteCitation removes every earlier record of
   that PMID; among the rest the highest version wins, then the latest file;
3. parse every file in parallel, ledgering superseded and deleted records with their reason.
A record without a usable PMID takes part in neither decision: it is a document in, ledgered
`no_pmid`.

The scan also hashes each file's stored bytes as it reads them and notes the file's size, mtime
and inode; the parse reads the file only if it is still that one (a fetch into the same raw
store replaces a file by rename: another inode), else the file is an input error "changed while
the stage read it", its scanned records `documents_unread`. So the hash in the provenance is
always that of the bytes scanned and parsed, and no file is read a third time to hash it.

The scan's record count is the stage's independent count of documents in. The parse is checked
against the scan record by record: a record whose PMID or version the parser reads differently
is an unreadable record (the decision was made on the scan's reading); a DeleteCitation read
differently stops the file as an input error; records the scan saw after the point where a file
failed are `documents_unread`; a record the scan did not see fails the stage's accounting.
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from curation.task_output import TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import expand_inputs
from sources.errors import InputError
from sources.pubmed.parse import Deletion, Record, RecordError, iter_file
from sources.pubmed.record_scan import RecordScan, scan_records

STAGE = "pubmed.parse"
_RELEASE = re.compile(r"pubmed(\d{2})n(\d{4})")


def is_pubmed_xml(path: Path) -> bool:
    return path.name.endswith((".xml", ".xml.gz"))


def release_order(path: Path) -> tuple:
    """Sort key: (release year, baseline before updates, file number), then anything else."""
    match = _RELEASE.search(path.name)
    if match is None:
        return (1, 0, 0, 0, path.as_posix())
    update = 1 if "updatefiles" in path.parts else 0
    return (0, int(match.group(1)), update, int(match.group(2)), path.as_posix())


def order_inputs(inputs: list[Path | str]) -> list[Path]:
    return sorted(expand_inputs(inputs, is_pubmed_xml), key=release_order)


def plan_supersessions(files: list[str], scans: list[list[tuple[str, str | None, int]]]) -> list[dict[int, tuple[str, str]]]:
    """For each file, {record position: (reason, detail)} for records that do not survive.

    Positions count every record element of the file (as `iter_file` yields them), PMID-less
    ones included, so that they name the same records in both passes.
    """
    records: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)  # pmid -> (file, pos, version, seq)
    deletions: dict[str, list[tuple[int, int]]] = defaultdict(list)  # pmid -> (seq, file)
    seq = 0
    for file_index, events in enumerate(scans):
        position = 0
        for kind, pmid, version in events:
            if kind == "record":
                if pmid is not None:  # a record without a PMID keeps its position, supersedes nothing
                    records[pmid].append((file_index, position, version, seq))
                position += 1
            else:
                deletions[pmid].append((seq, file_index))
            seq += 1
    plan: list[dict[int, tuple[str, str]]] = [dict() for _ in files]
    for pmid, copies in records.items():
        alive = []
        for file_index, position, version, record_seq in copies:
            later = [(s, f) for s, f in deletions.get(pmid, ()) if s > record_seq]
            if later:
                deleter = Path(files[later[0][1]]).name
                plan[file_index][position] = (f"deleted_by_update:{deleter}", f"DeleteCitation in {files[later[0][1]]}")
            else:
                alive.append((version, record_seq, file_index, position))
        if len(alive) < 2:
            continue
        winner = max(alive)
        where = f"{Path(files[winner[2]]).name}#{winner[3]} (version {winner[0]})"
        for version, record_seq, file_index, position in alive:
            if (version, record_seq) != winner[:2]:
                plan[file_index][position] = ("superseded", f"replaced by {where}")
    return plan


def parse_work(payload: tuple[str, dict[int, tuple[str, str]], RecordScan], output: TaskOutput) -> None:
    path, superseded, scan = payload
    scanned_records, scanned_deletions = scan.records, scan.deleted
    position = 0
    deleted = 0
    if scan.snapshot is None:  # the scan could not open it: nothing was counted, nothing is read
        output.input_failed(path, scan.error)
        return
    try:
        for item in iter_file(path, snapshot=scan.snapshot):
            if isinstance(item, Deletion):
                _check_deletion(path, item, scanned_deletions[deleted:deleted + len(item.pmids)])
                deleted += len(item.pmids)
                continue
            disagreement = _disagreement(item, scanned_records, position)
            if isinstance(item, RecordError):
                output.record_failed(path, item.record, item.error)
            elif disagreement:
                output.record_failed(path, item.pmid or f"#{position}", disagreement)
            elif position in superseded:
                output.drop(item.doc, *superseded[position])
            elif item.drop_reason:
                output.drop(item.doc, item.drop_reason)
            else:
                output.emit(item.doc)
            position += 1
    except InputError as error:
        output.input_failed(path, error)
        # Records the scan saw past the failure: counted, never documents in. Never negative,
        # so that records the scan did not see still fail the accounting.
        output.counts.documents_unread += max(0, len(scanned_records) - position)
        return
    output.input_parsed()


def _disagreement(item: Record | RecordError, scanned: list[tuple[str | None, int]], position: int) -> str | None:
    """Why the parser's record differs from the scan's record at the same position, if it does."""
    if position >= len(scanned):
        return "record not counted by the record scan (it saw fewer records in this file)"
    if isinstance(item, RecordError):
        return None
    parsed = (item.pmid, item.version) if item.pmid else (None, 0)
    if parsed == tuple(scanned[position]):
        return None
    return (f"the record scan read PMID {scanned[position][0]} version {scanned[position][1]}, the parser "
            f"PMID {parsed[0]} version {parsed[1]}: which copy of this PMID survives was decided on the scan's reading")


def _check_deletion(path: str, item: Deletion, scanned: list[str]) -> None:
    if list(item.pmids) != scanned:
        raise InputError(f"{path}: a DeleteCitation holds PMIDs {list(item.pmids)[:5]} for the parser and "
                         f"{scanned[:5]} for the record scan; deletions were decided on the scan's reading")


def scan(inputs: list[Path | str], executor: Executor) -> list[tuple[str, dict[int, tuple[str, str]], RecordScan]]:
    """Passes 1 and 2: every file's record scan, and which of its records do not survive; one
    payload of `parse` per file, in release order."""
    files = [str(p) for p in order_inputs(inputs)]
    executor.size_to(files)
    scans: list[RecordScan] = executor.map(scan_records, files, desc=f"{STAGE} (scan)")
    plan = plan_supersessions(files, [scan.events for scan in scans])
    return [(path, superseded, scan) for path, superseded, scan in zip(files, plan, scans)]


def parse(payloads: list[tuple[str, dict[int, tuple[str, str]], RecordScan]], out_dir: Path, executor: Executor,
          shard_bytes: int) -> None:
    """Pass 3: parse every file `scan` planned, checked against its scan."""
    run_stage(
        STAGE, out_dir, payloads, parse_work, executor,
        shard_bytes=shard_bytes, expected_documents_in=sum(len(scan.records) for _, _, scan in payloads),
    )


def run(inputs: list[Path | str], out_dir: Path, executor: Executor, shard_bytes: int) -> None:
    parse(scan(inputs, executor), out_dir, executor, shard_bytes)
