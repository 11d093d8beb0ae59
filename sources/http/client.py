"""`HttpClient`: retries, deadlines, redirects by hand, size caps, resumable checksum-verified downloads."""
from __future__ import annotations

import os
import random
import re
import time
from contextlib import closing
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Mapping, TypeVar
from urllib.parse import urljoin

import requests
import urllib3

from sources.errors import ChecksumError, FetchError, ResponseTooLarge
from sources.http.deadline import DEFAULT_DEADLINE, Deadline, WatchedAdapter, check_deadline
from sources.http_settings import HttpSettings
from sources.http.partial import content_range, file_digests, read_validator, remove, write_validator
from sources.http.rate import DEFAULT_RATES, RateLimiter
from sources.origins import host_of
from sources.redaction import get_logger, install_log_redaction, one_line, redact, redact_bytes
from sources.http.redirects import check_redirect
from sources.http.retry import Retry, parse_retry_after, retryable_status

T = TypeVar("T")

try:
    __version__ = metadata.version("medcurate")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

USER_AGENT = f"medcurate/{__version__} (+https://github.com/medcurate/medcurate)"
CHUNK_BYTES = 1 << 16
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Caps (params.yaml http.max_response_bytes / http.max_download_bytes): an answer read into memory
# (an efetch batch of 100 PMC articles is a few MB) and one object streamed to disk (a PubMed
# baseline file is ~40 MB gz, an inventory shard up to ~80 MB, a legacy PMC bulk package a few GB).
MAX_RESPONSE_BYTES = HttpSettings.max_response_bytes
MAX_DOWNLOAD_BYTES = HttpSettings.max_download_bytes
ERROR_BODY_BYTES = 4096  # of an HTTP error answer, kept on the FetchError
# Exceptions of a connection that broke while a body was being read.
_BROKEN = (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)

logger = get_logger("medcurate.http")


@dataclass(frozen=True)
class HttpResult:
    url: str  # redacted
    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("Last-Modified")

    @property
    def text(self) -> str:
        match = re.search(r"charset=([\w.-]+)", self.headers.get("Content-Type", ""), re.I)
        try:
            return self.content.decode(match.group(1) if match else "utf-8", errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class DownloadResult:
    url: str  # redacted
    path: Path
    status: int  # 200 (whole body), 206 (resumed), 304 (unchanged, not downloaded)
    size: int
    sha256: str
    md5: str
    etag: str | None
    last_modified: str | None


def _with_params(url: str, params: Mapping | None) -> str:
    """The URL a request with `params` goes to (for messages, which redact it)."""
    return requests.Request("GET", url, params=params).prepare().url if params else url


def _describe(exc: BaseException) -> str:
    return one_line(f"{type(exc).__name__}: {redact(str(exc))}")[:300]


def _declared_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _refuse_over(cap: int, size: int | None, what: str) -> None:
    """ResponseTooLarge when a declared size (Content-Length, Content-Range total) exceeds `cap`."""
    if size is not None and size > cap:
        raise ResponseTooLarge(f"{what}: body larger than {cap} bytes (announced {size})")


def _status_error(method: str, url: str, response: requests.Response) -> FetchError:
    """The error for a non-retryable status, keeping the start of the body: a server names its reason there."""
    try:
        head = response.raw.read(ERROR_BODY_BYTES, decode_content=True) or b""
    except _BROKEN:
        head = b""
    return FetchError(f"{method} {redact(url)}: HTTP {response.status_code}",
                      status=response.status_code, body=redact_bytes(head[:ERROR_BODY_BYTES]))


class HttpClient:
    """Polite GETs and downloads. Safe to share between threads of one process.

    `retries` is the number of attempts after the first; the wait before retry n (from 0) is
    `backoff * 2**n` (capped at `backoff_max`) plus up to `jitter` of itself, or the server's
    Retry-After when longer (capped at `retry_after_max`). Tests pass tiny values.

    `timeout` bounds each connect and each wait for bytes; `deadline` (seconds, None for none)
    bounds one attempt in all, from sending the request to the last byte of the answer. A missed
    deadline is retried like a dropped connection, and a download resumes its .part file.

    `max_response_bytes` caps a body read into memory (`get`, `post`, `request`) and
    `max_download_bytes` one object streamed to disk (`download`); either may be lowered per call
    (`max_bytes=`). A larger Content-Length is refused before any byte is read, a body that grows
    past the cap is cut there; both raise ResponseTooLarge, which is not retried.
    """

    def __init__(
        self,
        *,
        timeout: float | tuple[float, float] = HttpSettings.timeout,
        retries: int = HttpSettings.retries,
        deadline: float | None = DEFAULT_DEADLINE,
        backoff: float = 0.5,
        backoff_max: float = 60.0,
        jitter: float = 0.5,
        retry_after_max: float = 120.0,
        rates: Mapping[str, float] | None = None,
        default_rate: float | None = None,
        allowed_hosts: Iterable[str] = (),
        max_redirects: int = 5,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        max_connections: int = 10,
        user_agent: str = USER_AGENT,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ):
        self.timeout = timeout if isinstance(timeout, tuple) else (float(timeout), float(timeout))
        self.retries = max(0, int(retries))
        self.deadline = float(deadline) if deadline else None
        self.backoff, self.backoff_max, self.jitter = backoff, backoff_max, jitter
        self.retry_after_max = retry_after_max
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.max_redirects = max_redirects
        self.max_response_bytes = int(max_response_bytes)
        self.max_download_bytes = int(max_download_bytes)
        self.limiter = RateLimiter({**DEFAULT_RATES, **(rates or {})}, default_rate)
        self._sleep = sleep
        self._random = random.Random(seed)
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = user_agent
        for prefix in ("http://", "https://"):
            # Connections kept per host: at least one per thread that shares the client, or each
            # surplus request opens (and against S3 handshakes) a new one.
            self._session.mount(prefix, WatchedAdapter(pool_maxsize=max(1, int(max_connections))))
        install_log_redaction()

    def set_rate(self, host: str, per_second: float | None) -> None:
        self.limiter.set_rate(host, per_second)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- retry loop ------------------------------------------------------------------------------------
    def backoff_delay(self, attempt: int, retry_after: float | None = None) -> float:
        base = min(self.backoff_max, self.backoff * (2**attempt))
        delay = base + self._random.uniform(0.0, self.jitter * base)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_max))
        return delay

    def _attempts(self, method: str, url: str, run: Callable[[], T]) -> T:
        reason = ""
        for attempt in range(self.retries + 1):
            try:
                with Deadline(self.deadline):
                    return run()
            except Retry as exc:
                reason = exc.reason
                if attempt == self.retries:
                    break
                delay = self.backoff_delay(attempt, exc.retry_after)
                logger.warning(
                    "retry %d/%d %s %s: %s; waiting %.2fs",
                    attempt + 1, self.retries, method, redact(url), reason, delay,
                )
                self._sleep(delay)
        # Raised outside the except block, so no traceback carries the unredacted original.
        raise FetchError(one_line(f"{method} {redact(url)}: {reason} (gave up after {self.retries + 1} attempts)"))

    # -- one request, redirects followed by hand --------------------------------------------------------
    def _open(
        self,
        method: str,
        url: str,
        *,
        params: Mapping | None = None,
        data: Mapping | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """A streaming response that is neither a redirect nor a retryable status."""
        current, hops = url, 0
        while True:
            self.limiter.wait(host_of(current))
            started = time.monotonic()
            try:
                response = self._session.request(
                    method, current, params=params, data=data, headers=dict(headers or {}),
                    timeout=self.timeout, stream=True, allow_redirects=False,
                )
            except requests.RequestException as exc:  # refused, reset, timed out, dropped
                check_deadline("no answer")
                raise Retry(_describe(exc)) from None
            status = response.status_code
            logger.debug("%s %s -> %d (%.3fs)", method, redact(response.url), status, time.monotonic() - started)
            if status in REDIRECT_STATUSES and "Location" in response.headers:
                target = urljoin(response.url, response.headers["Location"])
                response.close()
                hops += 1
                if hops > self.max_redirects:
                    raise FetchError(one_line(f"{method} {redact(url)}: more than {self.max_redirects} redirects"))
                check_redirect(url, current, target, self.allowed_hosts)
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, data = "GET", None
                current, params = target, None  # the Location already carries the query
                continue
            if retryable_status(status):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
                raise Retry(f"HTTP {status}", retry_after)
            return response

    def _read_body(self, response: requests.Response, cap: int) -> bytes:
        what = redact(response.url)
        _refuse_over(cap, _declared_length(response), what)
        parts, size = [], 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > cap:
                    raise ResponseTooLarge(f"{what}: body larger than {cap} bytes")
                parts.append(chunk)
                check_deadline(f"{size} bytes")
        except _BROKEN as exc:
            check_deadline(f"{size} bytes")
            raise Retry(f"body cut short after {size} bytes ({type(exc).__name__})") from None
        check_deadline(f"{size} bytes")  # a shut socket can look like the end of a body without a length
        body = b"".join(parts)
        expected = _declared_length(response)
        if expected is not None and "Content-Encoding" not in response.headers and len(body) < expected:
            raise Retry(f"body cut short: {len(body)} of {expected} bytes")
        return body

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping | None = None,
        data: Mapping | None = None,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        max_bytes: int | None = None,
    ) -> HttpResult:
        """The whole body of a 2xx answer, or an empty 304 when `etag`/`last_modified` still hold.

        A body over `max_bytes` (default: `max_response_bytes`) raises ResponseTooLarge; another
        status raises FetchError with `status` and the start of the body.
        """
        cap = self.max_response_bytes if max_bytes is None else int(max_bytes)
        sent = dict(headers or {})
        if etag:
            sent["If-None-Match"] = etag
        if last_modified:
            sent["If-Modified-Since"] = last_modified
        full_url = _with_params(url, params)

        def attempt() -> HttpResult:
            response = self._open(method, url, params=params, data=data, headers=sent)
            with closing(response):
                status = response.status_code
                headers_ = dict(response.headers)
                if status == 304 and (etag or last_modified):
                    return HttpResult(redact(response.url), 304, headers_, b"")
                if not 200 <= status < 300:
                    raise _status_error(method, url, response)
                return HttpResult(redact(response.url), status, headers_, self._read_body(response, cap))

        return self._attempts(method, full_url, attempt)

    def get(self, url: str, **kwargs) -> HttpResult:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> HttpResult:
        return self.request("POST", url, **kwargs)

    # -- resumable downloads ------------------------------------------------------------------------------
    def download(
        self,
        url: str,
        dest: Path | str,
        *,
        md5: str | None = None,
        sha256: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        resume: bool = True,
        max_bytes: int | None = None,
    ) -> DownloadResult:
        """Download `url` to `dest` through `dest.part`, resuming it with Range + If-Range.

        `dest` appears only once the bytes match `md5`/`sha256` (when given); a mismatch removes the
        partial file and raises ChecksumError, so a new call starts from scratch. With `etag` or
        `last_modified` and an existing `dest`, a 304 leaves `dest` alone. An object over
        `max_bytes` (default: `max_download_bytes`) raises ResponseTooLarge, refused on its
        announced size or cut at the cap; its partial file is removed.
        """
        cap = self.max_download_bytes if max_bytes is None else int(max_bytes)
        dest = Path(dest)
        part = dest.with_name(dest.name + ".part")
        meta = dest.with_name(dest.name + ".part.json")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not resume:
            remove(part, meta)

        def attempt() -> DownloadResult:
            have = part.stat().st_size if part.exists() else 0
            same_url, validator = read_validator(meta, url)
            if have and (not same_url or have > cap):  # another URL's leftover, or over the cap: never append
                remove(part, meta)
                have = 0
            headers = {"Accept-Encoding": "identity"}  # byte ranges of the file as stored
            if have:
                headers["Range"] = f"bytes={have}-"
                if validator:
                    headers["If-Range"] = validator
            elif dest.exists():
                if etag:
                    headers["If-None-Match"] = etag
                if last_modified:
                    headers["If-Modified-Since"] = last_modified
            response = self._open("GET", url, headers=headers)
            with closing(response):
                status = response.status_code
                resp_etag, resp_modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
                if status == 304 and not have and dest.exists() and (etag or last_modified):
                    digest_md5, digest_sha, size = file_digests(dest)
                    return DownloadResult(redact(url), dest, 304, size, digest_sha, digest_md5, etag, last_modified)
                if status == 416 and have:
                    if content_range(response.headers.get("Content-Range"))[1] != have:
                        remove(part, meta)
                        raise Retry("range not satisfiable; restarting from byte 0")
                    status = 206  # the partial file already holds every byte
                elif status == 206 and have:
                    first, total = content_range(response.headers.get("Content-Range"))
                    if first != have:
                        remove(part, meta)
                        raise Retry("unexpected Content-Range; restarting from byte 0")
                    _refuse_over(cap, total, f"GET {redact(url)}")
                    self._stream_to(response, part, have, cap, url)
                elif status == 200:  # a full body: the file changed or ranges are unsupported
                    _refuse_over(cap, _declared_length(response), f"GET {redact(url)}")
                    write_validator(meta, url, resp_etag, resp_modified)
                    self._stream_to(response, part, 0, cap, url)
                else:
                    raise _status_error("GET", url, response)
            return self._finish(url, part, meta, dest, status, resp_etag, resp_modified, md5, sha256)

        try:
            return self._attempts("GET", url, attempt)
        except ResponseTooLarge:
            remove(part, meta)  # never resumed: the object stays over the cap
            raise

    def _stream_to(self, response: requests.Response, part: Path, start: int, cap: int, url: str) -> None:
        """Append the body to `part` (which holds `start` bytes); at most `cap` bytes in all reach the disk."""
        expected = _declared_length(response)
        received = 0
        with open(part, "ab" if start else "wb") as handle:
            try:
                for chunk in response.raw.stream(CHUNK_BYTES, decode_content=False):
                    if start + received + len(chunk) > cap:
                        raise ResponseTooLarge(f"GET {redact(url)}: body larger than {cap} bytes")
                    handle.write(chunk)
                    received += len(chunk)
                    check_deadline(f"{received} bytes, kept in {part.name}")
            except _BROKEN as exc:
                # What arrived stays in the .part file; the next attempt asks for the rest.
                check_deadline(f"{received} bytes, kept in {part.name}")
                raise Retry(f"body cut short after {received} bytes ({type(exc).__name__})") from None
            finally:
                handle.flush()
                os.fsync(handle.fileno())
        check_deadline(f"{received} bytes, kept in {part.name}")
        if expected is not None and received < expected:
            raise Retry(f"body cut short: {received} of {expected} bytes")

    def _finish(
        self,
        url: str,
        part: Path,
        meta: Path,
        dest: Path,
        status: int,
        etag: str | None,
        last_modified: str | None,
        md5: str | None,
        sha256: str | None,
    ) -> DownloadResult:
        digest_md5, digest_sha, size = file_digests(part)
        for name, expected, actual in (("md5", md5, digest_md5), ("sha256", sha256, digest_sha)):
            if expected and expected.lower() != actual:
                remove(part, meta)
                raise ChecksumError(f"GET {redact(url)}: {name} mismatch (published {expected.lower()}, got {actual})")
        os.replace(part, dest)
        remove(meta)
        return DownloadResult(redact(url), dest, status, size, digest_sha, digest_md5, etag, last_modified)
