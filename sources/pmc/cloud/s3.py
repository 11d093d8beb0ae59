"""ListObjectsV2 over plain HTTPS: what an anonymous S3 bucket holds under a prefix.

No AWS SDK and no credentials: the PMC bucket answers unsigned GETs. Answers are parsed with the
hardened XML layer and namespace-free tag names (S3 declares `xmlns=".../2006-03-01/"`). The
answer's top-level `<Prefix>` only echoes the query; version folders come from `CommonPrefixes`.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, quote, urlsplit

from lxml import etree

from sources.errors import FetchError, InputError, RemoteError
from sources.http import DownloadResult, HttpClient, HttpResult, one_line, redact
from sources.safe_paths import check_relative
from sources.safe_xml import parse_bytes_safe

_MD5 = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class S3Object:
    key: str
    etag: str | None  # without quotes; the object's MD5 unless uploaded in parts ("…-N")
    size: int | None = None
    last_modified: str | None = None

    @property
    def md5(self) -> str | None:
        return md5_of_etag(self.etag)


@dataclass(frozen=True)
class ListPage:
    objects: list[S3Object]
    prefixes: list[str]  # CommonPrefixes, e.g. "PMC11370360.1/"
    next_token: str | None  # NextContinuationToken of a truncated page


def md5_of_etag(etag: str | None) -> str | None:
    """The MD5 an ETag stands for: single-part uploads only (a multipart ETag ends in "-N")."""
    value = (etag or "").strip().strip('"').lower()
    return value if _MD5.match(value) else None


def object_url(base_url: str, key: str) -> str:
    """HTTPS URL of `key` under the configured bucket root (a mirror or the demo replaces it).

    Every object request is built here, so every key is checked here: one climbing out of the
    bucket ("..") is HostileInputError.
    """
    return base_url.rstrip("/") + "/" + quote(check_relative(key, "object key"), safe="/")


def key_and_md5(url: str) -> tuple[str, str | None]:
    """(object key, expected MD5) of a metadata JSON's `s3://bucket/KEY?md5=…` (or https) URL.

    Only the key is kept: downloads go to the configured root, never to a host or bucket named in
    the data. A key that climbs out of the bucket ("..") is refused.
    """
    parts = urlsplit(url.strip())
    key = parts.path.removeprefix("/")  # s3://BUCKET/KEY and https://BUCKET.s3.amazonaws.com/KEY alike
    check_relative(key, f"object URL {url!r}: key")
    md5 = (parse_qs(parts.query).get("md5") or [None])[0]
    return key, md5_of_etag(md5)


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _child_text(node: etree._Element, name: str) -> str | None:
    for child in node:
        if _local(child) == name:
            return child.text
    return None


def _s3_error(root: etree._Element) -> str:
    return redact(one_line(f"S3 error {_child_text(root, 'Code')}: {_child_text(root, 'Message')}"))


def with_s3_error(exc: FetchError) -> FetchError:
    """`exc` naming the S3 error code and message its HTTP error body holds (AccessDenied, NoSuchBucket…)."""
    try:
        root = parse_bytes_safe(exc.body, "error body") if exc.body else None
    except InputError:  # not XML, or cut at the kept few KB
        return exc
    if root is None or _local(root) != "Error":
        return exc
    return type(exc)(f"{exc} ({_s3_error(root)})", status=exc.status, body=exc.body)


def get(client: HttpClient, url: str, **kwargs) -> HttpResult:
    """`client.get` of a bucket URL; its FetchError names the S3 error code the answer held."""
    try:
        return client.get(url, **kwargs)
    except FetchError as exc:
        raise with_s3_error(exc) from None


def download(client: HttpClient, url: str, dest: Path, **kwargs) -> DownloadResult:
    """`client.download` of a bucket URL; its FetchError (ChecksumError kept) names the S3 error code."""
    try:
        return client.download(url, dest, **kwargs)
    except FetchError as exc:
        raise with_s3_error(exc) from None


def parse_list_page(body: bytes, name: str) -> ListPage:
    """One ListObjectsV2 answer; an S3 `<Error>` body is a RemoteError."""
    root = parse_bytes_safe(body, name)
    if _local(root) == "Error":
        raise RemoteError(f"{name}: {_s3_error(root)}")
    if _local(root) != "ListBucketResult":
        raise InputError(f"{name}: not a ListObjectsV2 answer (root <{_local(root)}>)")
    objects, prefixes = [], []
    for child in root:
        kind = _local(child)
        if kind == "Contents":
            size = _child_text(child, "Size")
            objects.append(S3Object(
                key=_child_text(child, "Key") or "",
                etag=(_child_text(child, "ETag") or "").strip('"') or None,
                size=int(size) if size and size.isdigit() else None,
                last_modified=_child_text(child, "LastModified"),
            ))
        elif kind == "CommonPrefixes":
            prefix = _child_text(child, "Prefix")
            if prefix:
                prefixes.append(prefix)
    truncated = (_child_text(root, "IsTruncated") or "").strip().lower() == "true"
    token = _child_text(root, "NextContinuationToken") if truncated else None
    if truncated and not token:
        raise InputError(f"{name}: truncated listing without a NextContinuationToken")
    return ListPage(objects, prefixes, token)


def list_pages(
    client: HttpClient,
    base_url: str,
    prefix: str,
    *,
    delimiter: str | None = None,
    max_keys: int | None = None,
    max_pages: int = 100_000,
    max_page_bytes: int | None = None,
) -> Iterator[ListPage]:
    """Every page of a listing (S3 gives at most 1,000 entries a page), following continuation tokens.

    A listing that never ends is refused: a token seen before, an empty page that claims more to
    come, more than `max_pages` pages, or a page body over `max_page_bytes` (default: the client's cap).
    """
    url = base_url.rstrip("/") + "/"
    query = {"list-type": "2", "prefix": prefix}
    if delimiter:
        query["delimiter"] = delimiter
    if max_keys:
        query["max-keys"] = str(max_keys)
    seen_tokens: set[str] = set()
    for number in itertools.count(1):
        if number > max_pages:
            raise InputError(f"{redact(url)}: listing of prefix {prefix!r} goes on past {max_pages} pages (pmc.max_list_pages)")
        answer = get(client, url, params=query, max_bytes=max_page_bytes)
        page = parse_list_page(answer.content, f"{redact(url)}?prefix={prefix}")
        yield page
        if page.next_token is None:
            return
        if not page.objects and not page.prefixes:
            raise InputError(f"{redact(url)}: page {number} for prefix {prefix!r} is empty but claims more to come")
        if page.next_token in seen_tokens:  # a server that loops would otherwise list forever
            raise InputError(f"{redact(url)}: continuation token repeated for prefix {prefix!r}")
        seen_tokens.add(page.next_token)
        query = {**query, "continuation-token": page.next_token}


def list_objects(client: HttpClient, base_url: str, prefix: str, **kwargs) -> Iterator[S3Object]:
    for page in list_pages(client, base_url, prefix, **kwargs):
        yield from page.objects


def list_folders(client: HttpClient, base_url: str, prefix: str, **kwargs) -> list[str]:
    """The "folders" right under `prefix` (CommonPrefixes with delimiter "/")."""
    return [p for page in list_pages(client, base_url, prefix, delimiter="/", **kwargs) for p in page.prefixes]
