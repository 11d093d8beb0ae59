"""20 Newsgroups ("bydate" tarball): one Usenet post per tar member, `<split>/<group>/<number>`.

What a post carries besides its own words is removed, as for any replay text meant to teach
language rather than Usenet plumbing:
- the header block (up to the first blank line); `Subject:` becomes the title, minus "Re:";
- quoted replies (lines starting with `>` or `|`, and "In article <...> X writes:" attributions),
  and header lines repeated inside the body (forwarded posts);
- the signature: everything after a `-- ` delimiter, or a short block under a line of dashes at
  the very end.
The tarball is streamed member by member, never extracted: only regular files are read, with a
cap on their number and size, and the decompressed total is bounded by `safe_io`.
"""
from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path, PurePosixPath
from typing import Iterator, Union

from sources.errors import InputError
from sources.replay.document import BadRecord, Skipped, clean_text, decode_text, replay_document
from sources.safe_io import open_stream, open_tar
from sources.snapshot import open_raw, sha256_handle

MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 2 * 1024 * 1024
MAX_ARCHIVE_BYTES = 1024**3
SIGNATURE_MAX_LINES = 12  # a dashed line further up than this is a section rule, not a signature

_ATTRIBUTION = re.compile(
    r"^(in article\b.*|.*\b(writes|wrote|says|said)\s*:)\s*$", re.IGNORECASE
)
_QUOTE = re.compile(r"^\s*[>|]")
# Header lines inside a body: forwarded posts and pasted digests repeat them.
_HEADER_LINE = re.compile(
    r"^\s*(from|path|newsgroups|date|subject|message-id|organization|lines|reply-to|sender|references|"
    r"nntp-posting-host|distribution|keywords|summary|expires|followup-to|article-i\.d\.|xref|in-reply-to):\s",
    re.IGNORECASE,
)
_DASHES = re.compile(r"^\s*[-=_*]{2,}\s*$")
_RE_PREFIX = re.compile(r"^(re|fwd?)\s*:\s*", re.IGNORECASE)

Item = Union[dict, Skipped, BadRecord]


def split_headers(post: str) -> tuple[dict[str, str], str]:
    """RFC 822-style headers (continuation lines folded) and the body after the first blank line."""
    head, _, body = post.partition("\n\n")
    headers: dict[str, str] = {}
    last = None
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and last:
            headers[last] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            last = key.strip().lower()
            headers[last] = value.strip()
    return headers, body


def strip_quotes(body: str) -> str:
    """Without quoted lines, attributions of quotes, and header lines repeated inside the body."""
    return "\n".join(
        line for line in body.split("\n") if not (_QUOTE.match(line) or _ATTRIBUTION.match(line.strip()) or _HEADER_LINE.match(line))
    )


def strip_signature(body: str) -> str:
    lines = body.rstrip().split("\n")
    for i, line in enumerate(lines):
        if line.rstrip() == "--":  # the "-- " delimiter (trailing space often lost)
            return "\n".join(lines[:i])
    for i in range(len(lines) - 1, max(-1, len(lines) - 1 - SIGNATURE_MAX_LINES), -1):
        if _DASHES.match(lines[i]):
            return "\n".join(lines[:i])
    return "\n".join(lines)


def clean_post(post: str) -> tuple[str, str, dict[str, str]]:
    """(title, body, headers) of one post."""
    headers, body = split_headers(post)
    title = _RE_PREFIX.sub("", headers.get("subject", "")).strip()
    return title, strip_signature(strip_quotes(body)), headers


def iter_file(
    path: str | Path,
    name: str,
    license: str | None = None,
    max_members: int = MAX_MEMBERS,
    max_member_bytes: int = MAX_MEMBER_BYTES,
) -> Iterator[Item]:
    """Posts of the tarball in archive order; a truncated archive raises InputError after them."""
    path = Path(path)
    with open_raw(path) as raw:
        sha256 = sha256_handle(raw)  # of the handle read next: a tarball replaced meanwhile changes neither
        with open_stream(raw, str(path), max_bytes=MAX_ARCHIVE_BYTES) as stream:
            yield from _posts(stream, path, sha256, name, license, max_members, max_member_bytes)


def _posts(stream, path: Path, sha256: str, name: str, license: str | None, max_members: int,
           max_member_bytes: int) -> Iterator[Item]:
    members = 0
    try:
        archive = open_tar(stream, str(path), "r|")  # streaming, no index; oversized pax headers refused
        for member in archive:
            if member.isdir():
                continue
            members += 1
            if members > max_members:
                raise InputError(f"{path}: more than {max_members} members")
            if not member.isfile():
                yield BadRecord(member.name, "not a regular file (link or device); not read")
                continue
            if member.size > max_member_bytes:
                yield BadRecord(member.name, f"member of {member.size} bytes exceeds {max_member_bytes}")
                continue
            handle = archive.extractfile(member)
            data = handle.read() if handle is not None else b""
            yield _post(path, sha256, member.name, data, name, license)
    except (tarfile.TarError, EOFError) as error:
        raise InputError(f"{path}: unreadable tar archive ({error})") from None


def _post(path: Path, sha256: str, member: str, raw: bytes, name: str, license: str | None) -> Item:
    parts = PurePosixPath(member).parts
    native = "/".join(parts[-3:])  # 20news-bydate-train/sci.med/58045
    text, encoding = decode_text(raw)
    # Line ends and control characters first: a quote behind a bare CR or a DEL would otherwise
    # survive the line-based stripping.
    title, body, headers = clean_post(clean_text(text))
    doc = replay_document(
        name,
        native,
        body,
        title=title,
        license=license,
        meta={"encoding": encoding, "newsgroup": parts[-2] if len(parts) >= 2 else None, "split": parts[-3] if len(parts) >= 3 else None},
        provenance=json.dumps({"file": str(path), "sha256": sha256, "member": member}, sort_keys=True),
    )
    if not body.strip():
        return Skipped(doc, "empty_after_cleaning", "nothing left once headers, quotes and signature were removed")
    return doc
