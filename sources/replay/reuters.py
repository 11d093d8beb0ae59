"""Reuters-21578 newswire (SGML, 1987): one `<REUTERS>` element per story, about 1,000 per file.

The files are not XML (no root element, bare `&` in places, numeric references to control
characters such as `&#3;`), so stories are cut out with a regular expression over bytes and each
is decoded on its own: the feed is 7-bit ASCII but reut2-017.sgm carries stray high bytes, and
decoding story by story keeps one bad byte from changing how any other story reads.

A story's paragraphs (and the rows of its earnings tables) start on an indented line, with the
lines between wrapped at about 70 columns; they are written as the other sources write paragraphs,
a blank line before each, since cleaning takes the indentation off every line.
"""
from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Iterator, Union

from sources.replay.document import BadRecord, Skipped, decode_text, replay_document
from sources.safe_io import read_input_hashed

_STORY = re.compile(rb"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.DOTALL)
_OPEN = re.compile(rb"<REUTERS\b")
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_TRAILER = re.compile(r"\s*\bReuter\s*$", re.IGNORECASE)  # every story ends with its sign-off
_PARAGRAPH = re.compile(r"\n[ \t]+(?=\S)")  # an indented line starts a paragraph
MAX_FILE_BYTES = 64 * 1024 * 1024  # the real files are ~1.3 MB

Item = Union[dict, Skipped, BadRecord]


def _field(story: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", story, re.DOTALL)
    return match.group(1) if match else ""


def _iso_date(raw: str) -> str | None:
    try:
        return datetime.strptime(raw.strip().split(" ")[0], "%d-%b-%Y").date().isoformat()
    except ValueError:
        return None


def _unescape(text: str) -> str:
    return html.unescape(text)


def iter_file(path: str | Path, name: str, license: str | None = None) -> Iterator[Item]:
    """Stories of one reut2-NNN.sgm file; a story cut off by the end of the file is a BadRecord."""
    path = Path(path)
    data, sha256 = read_input_hashed(path, max_bytes=MAX_FILE_BYTES)  # one read: the hash is of these bytes
    complete = 0
    for match in _STORY.finditer(data):
        complete += 1
        attrs = dict(_ATTR.findall(match.group(1).decode("ascii", errors="replace")))
        newid = attrs.get("NEWID")
        if not newid:
            yield BadRecord(f"#{complete - 1}", "REUTERS element without NEWID")
            continue
        story, encoding = decode_text(match.group(2))
        body = _PARAGRAPH.sub("\n\n", _TRAILER.sub("", _unescape(_field(story, "BODY"))))
        meta = {
            "encoding": encoding,
            "topics": re.findall(r"<D>(.*?)</D>", _field(story, "TOPICS")),
            "lewis_split": attrs.get("LEWISSPLIT"),
            "type": attrs.get("TYPE", "NORM"),
        }
        doc = replay_document(
            name,
            newid,
            body,
            title=_unescape(_field(story, "TITLE")),
            license=license,
            date=_iso_date(_field(story, "DATE")),
            meta=meta,
            provenance=json.dumps({"file": str(path), "sha256": sha256, "newid": newid}, sort_keys=True),
        )
        if not body.strip():
            # A fifth of the stories are headlines or tables without a BODY.
            yield Skipped(doc, "no_body", f"TYPE={meta['type']}")
        else:
            yield doc
    opened = len(_OPEN.findall(data))
    for index in range(complete, opened):
        yield BadRecord(f"#{index}", "REUTERS element not closed before the end of the file (truncated?)")
