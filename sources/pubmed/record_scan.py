"""Counting the records of a PubMed XML file from its bytes, without parsing the XML.

`pubmed parse` needs, before it parses anything, every file's (PMID, version) per record and the
PMIDs of its DeleteCitations, to decide which copy of a PMID survives; and it needs the number of
records counted apart from the parser, so that a record the parser loses shows up in the
accounting. Parsing every file twice cost a fifth of the stage. This scan reads the
(decompressed) bytes once and looks for the record start tags only:

- `<PubmedArticle` and `<PubmedBookArticle` followed by a space, `>` or `/` start a record; its
  PMID and Version are those of the `<PMID>` that is the first child of its MedlineCitation /
  BookDocument, itself the record's first child (both DTDs); a record without one has none (a
  CommentsCorrections PMID further in is not its own); `<DeleteCitation` starts a deletion, whose
  `<PMID>` texts up to `</DeleteCitation` are the deleted PMIDs;
- comments, CDATA sections and processing instructions are skipped, so a record start tag
  written inside one is not counted (libxml2 does not see it either);
- a tag cut by the end of a read block is completed with the next block; what is kept between
  blocks is bounded (a record's head `_HEAD_BYTES`, a deletion `_MAX_DELETE`, otherwise a few
  bytes), so a hostile file cannot make it grow without end;
- UTF-16 and UTF-32 files are transcoded to UTF-8 first (every other encoding libxml2 reads
  writes markup in ASCII bytes).

The same read hashes the stored bytes and notes the file's size, mtime and inode
(sources/snapshot.py `FileSnapshot`): the parse checks that it reads that same file and puts
this hash in its provenance, so neither a second read nor a fetch that replaces the file between
the two passes can make the hash describe other bytes than those scanned and parsed.

It does not check well-formedness: the parse does. Where the two disagree the stage says so
(pipelines/stages/pubmed_parse.py): records the scan saw after the point where the parser
stopped are `documents_unread` of a file in the error ledger; a record whose PMID or version the
parser reads differently is an unreadable record; a record the scan missed fails the accounting.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

from sources.errors import InputError
from sources.safe_io import DEFAULT_MAX_BYTES, open_stream
from sources.snapshot import FileSnapshot, HashingReader, open_raw

_BLOCK = 1 << 20
# Markup that matters outside records: record and deletion start tags, and the openings of
# comments, CDATA sections, processing instructions and declarations (one regex pass, in C).
_MARKUP = re.compile(rb"<(?:(PubmedArticle|PubmedBookArticle|DeleteCitation)[\s>/]|!--|!\[CDATA\[|!|\?)")
_CLOSING = {b"<!--": b"-->", b"<![CDATA[": b"]]>", b"<?": b"?>"}  # skipped whole, up to these
_TAIL = len(b"<PubmedBookArticle ") - 1  # an unmatched tail this long may be a cut start tag
# A record's own PMID is the first child of its MedlineCitation / BookDocument, which is the
# record's first child: rest of the record tag, that tag, then <PMID ...>text<.
_RECORD_HEAD = re.compile(
    rb"[^>]*>\s*<(?:MedlineCitation|BookDocument)(?:\s[^>]*)?>\s*<PMID(\s[^>]*)?>([^<]*)<"
)
_HEAD_BYTES = 1 << 12  # where a record's PMID must have appeared
_PMID = re.compile(rb"<PMID(\s[^>]*)?>([^<]*)<")
_DELETE_END = b"</DeleteCitation"
_MAX_DELETE = 1 << 24  # a DeleteCitation longer than this is read up to there
_VERSION = re.compile(rb"""\sVersion\s*=\s*(["'])(.*?)\1""")


@dataclass
class RecordScan:
    """What one file holds, in file order.

    `events`: ("record", pmid, version) per record (pmid None when the scan cannot read a clean
    one: ("record", None, 0)) and ("delete", pmid, 0) per deleted PMID; `error`: the file-level
    failure (corrupt or truncated gzip, too large) after which the scan stopped, if any;
    `snapshot`: the file scanned, None when it could not be opened.
    """

    events: list[tuple[str, str | None, int]] = field(default_factory=list)
    error: str | None = None
    snapshot: FileSnapshot | None = None

    @property
    def records(self) -> list[tuple[str | None, int]]:
        return [(pmid, version) for kind, pmid, version in self.events if kind == "record"]

    @property
    def deleted(self) -> list[str]:
        return [pmid for kind, pmid, _ in self.events if kind == "delete"]


def scan_records(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> RecordScan:
    """Scan one PubMed XML file (plain or gzip); a file-level failure keeps what was read before it."""
    scan = RecordScan()
    try:
        raw = open_raw(path)
    except InputError as error:
        scan.error = f"{type(error).__name__}: {error}"
        return scan
    with raw:
        stat = FileSnapshot.stat_of(raw)
        hashed = HashingReader(raw)  # the stored (compressed) bytes, hashed as the scan reads them
        try:
            with open_stream(hashed, str(path), max_bytes) as stream:
                scan.events.extend(_Scanner().events(_utf8_blocks(stream)))
        except InputError as error:  # HostileInputError included
            scan.error = f"{type(error).__name__}: {error}"
        scan.snapshot = FileSnapshot(hashed.hexdigest_to_end(), *stat)
    return scan


def scan_bytes(data: bytes) -> list[tuple[str, str | None, int]]:
    """The events of an in-memory document (tests)."""
    return list(_Scanner().events(iter([data])))


def _utf8_blocks(stream: BinaryIO) -> Iterator[bytes]:
    """The stream in blocks, transcoded to UTF-8 when it is UTF-16 or UTF-32 (BOM or `<` bytes)."""
    first = stream.read(_BLOCK)
    codec = _wide_codec(first[:4])
    decoder = codecs.getincrementaldecoder(codec)("replace") if codec else None
    block = first
    while block:
        yield decoder.decode(block).encode("utf-8") if decoder else block
        block = stream.read(_BLOCK)


def _wide_codec(head: bytes) -> str | None:
    for prefix, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (b"<\0\0\0", "utf-32-le"), (b"\0\0\0<", "utf-32-be"),
                          (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
                          (b"<\0", "utf-16-le"), (b"\0<", "utf-16-be")):
        if head.startswith(prefix):
            return codec
    return None


class _Scanner:
    """Record and deletion start tags over blocks; the one state kept between blocks is being
    inside a comment, CDATA section or processing instruction."""

    def __init__(self):
        self._closing: bytes | None = None

    def events(self, blocks: Iterator[bytes]) -> Iterator[tuple[str, str | None, int]]:
        carry = b""
        for block in blocks:
            buffer = carry + block
            position = yield from self._scan(buffer, final=False)
            carry = buffer[position:]
        yield from self._scan(carry, final=True)

    def _scan(self, buffer: bytes, final: bool):
        """Events of `buffer`; returns where the unfinished part starts (kept for the next block)."""
        position = 0
        while True:
            if self._closing is not None:
                end = buffer.find(self._closing, position)
                if end < 0:  # keep only what could be the start of the closing string
                    return max(position, len(buffer) - len(self._closing) + 1)
                position, self._closing = end + len(self._closing), None
            match = _MARKUP.search(buffer, position)
            if match is None:
                return max(position, len(buffer) - _TAIL)
            start, name = match.start(), match.group(1)
            if name is None:  # <!-- <![CDATA[ <? skipped to their end; <!DOCTYPE and the like read on
                self._closing = _CLOSING.get(match.group())
                position = match.end()
            elif name == b"DeleteCitation":
                end = buffer.find(_DELETE_END, start)
                if end < 0 and not final and len(buffer) - start < _MAX_DELETE:
                    return start
                end = len(buffer) if end < 0 else end
                for found in _PMID.finditer(buffer, start, end):
                    pmid, _version = _clean(found)
                    if pmid:
                        yield ("delete", pmid, 0)
                position = end
            else:
                head = _RECORD_HEAD.match(buffer, match.end() - 1)
                if head is None and not final and len(buffer) - start < _HEAD_BYTES:
                    return start  # the head may be cut by the end of the block
                pmid, version = _clean(head) if head else (None, 0)
                yield ("record", pmid, version) if pmid else ("record", None, 0)
                position = match.end()


def _clean(match: re.Match) -> tuple[str | None, int]:
    """PMID and Version as the parser cleans them: the digits after stripping; version 1 by default."""
    text = match.group(2).decode("utf-8", "replace").strip()
    if not text.isdigit():
        return None, 0
    version = _VERSION.search(match.group(1) or b"")
    raw = version.group(2).decode("utf-8", "replace") if version else ""
    return text, int(raw) if raw.isdigit() else 1
