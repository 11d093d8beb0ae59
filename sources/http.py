"""The project's one polite HTTP client.

Every source talks to the world through `HttpClient`, so the rules of DESIGN.md "Sources" hold
everywhere: timeouts, per read and a total deadline per attempt (a server trickling a byte now and
then never trips a read timeout); retries with exponential backoff and jitter on 429, 5xx,
connection errors, truncated bodies and missed deadlines, honouring Retry-After; a per-host rate
limit; an identifying User-Agent; conditional requests; resumable, checksum-verified downloads;
redirects followed by hand and only to allowed hosts; and no secret (an NCBI `api_key`) in any log
record or error message.
"""
from __future__ import annotations

import email.utils
import hashlib
import heapq
import html
import json
import logging
import os
import random
import re
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import timezone
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Mapping, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool

from sources.errors import ChecksumError, FetchError
from sources.http_settings import HttpSettings

T = TypeVar("T")

try:
    __version__ = metadata.version("medcurate")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

USER_AGENT = f"medcurate/{__version__} (+https://github.com/medcurate/medcurate)"
CHUNK_BYTES = 1 << 16
DEFAULT_DEADLINE = HttpSettings.deadline  # seconds for one attempt, headers to last byte (params.yaml http.deadline)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


# --- secrets -------------------------------------------------------------------------------------
# Query parameters whose values are secrets wherever they appear. `(?<![\w-])` keeps `query_key`
# or `resumptionToken` (not secrets) from matching `key` or `token`.
_secret_params: set[str] = {"api_key", "apikey", "access_token", "token", "key", "password", "secret"}
_secret_values: set[str] = set()
_secrets_lock = threading.Lock()
_pattern_cache: dict[frozenset, re.Pattern] = {}


def register_secret_param(name: str) -> None:
    """Treat the values of query parameter `name` as secret in every later `redact`."""
    with _secrets_lock:
        _secret_params.add(name.lower())


def register_secret(value: str | None) -> None:
    """Treat `value` itself (say, the API key read from the environment) as secret wherever it appears."""
    if value and len(value) >= 4:  # a tiny value would redact ordinary text
        with _secrets_lock:
            _secret_values.add(value)


def _param_pattern(names: frozenset) -> re.Pattern:
    pattern = _pattern_cache.get(names)
    if pattern is None:
        alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
        pattern = re.compile(rf"(?i)(?<![\w-])({alternatives})(=|%3D)[^&#\s'\"<>]*")
        _pattern_cache[names] = pattern
    return pattern


def redact(text: str, names: Iterable[str] = ()) -> str:
    """`text` (a URL, a log message, an error) with every secret replaced by REDACTED."""
    text = str(text)
    with _secrets_lock:
        params = frozenset(_secret_params | {name.lower() for name in names})
        values = sorted(_secret_values, key=len, reverse=True)
    text = _param_pattern(params).sub(r"\1\2REDACTED", text)
    for value in values:
        for form in {value, quote(value, safe="")}:
            text = text.replace(form, "REDACTED")
    return text


def redact_bytes(data: bytes) -> bytes:
    """`data` (a response body to store) with every registered secret value replaced by REDACTED.

    Only the values themselves (as sent, URL-quoted or XML-escaped), never `name=value` patterns:
    a body is the source's text, and a stored body that was changed must say so (see its caller).
    """
    with _secrets_lock:
        values = sorted(_secret_values, key=len, reverse=True)
    for value in values:
        for form in {value, quote(value, safe=""), html.escape(value)}:
            data = data.replace(form.encode("utf-8"), b"REDACTED")
    return data


def one_line(text: str) -> str:
    return " ".join(str(text).split())


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback) so that no secret reaches any handler.

    A filter on a logger only sees records logged on that very logger, not on its children, so it
    is installed on each logger that may carry a URL (see `install_log_redaction`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's problem, not ours
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = RedactingFilter()
LOGGERS = (
    "medcurate",
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
)


def install_log_redaction(*names: str) -> None:
    """Put the redacting filter on the medcurate, urllib3 and requests loggers (idempotent)."""
    for name in (*LOGGERS, *names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    # urllib3 logs every request's full URL, query string included, at DEBUG.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    """A logger (name under "medcurate.") that never prints a secret."""
    install_log_redaction(name)
    return logging.getLogger(name)


logger = get_logger("medcurate.http")


# --- small pure helpers ----------------------------------------------------------------------------
def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def file_digests(path: Path) -> tuple[str, str, int]:
    """(md5, sha256, size) of a file, read once."""
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return md5.hexdigest(), sha256.hexdigest(), size


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total length) of a Content-Range header such as `bytes 100-199/200` or `bytes */200`."""
    match = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not match:
        return None, None
    first = int(match.group(1)) if match.group(1) else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return first, total


def _with_params(url: str, params: Mapping | None) -> str:
    """The URL a request with `params` goes to (for messages, which redact it)."""
    return requests.Request("GET", url, params=params).prepare().url if params else url


def _describe(exc: BaseException) -> str:
    return one_line(f"{type(exc).__name__}: {redact(str(exc))}")[:300]


# --- rate limit ----------------------------------------------------------------------------------
class RateLimiter:
    """A minimum interval between requests to the same host (a token bucket of size one).

    Each call reserves the next free slot under a lock and sleeps outside it, so threads sharing a
    client are spaced out correctly without serialising their transfers.
    """

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        default: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._rates = {host.lower(): rate for host, rate in (rates or {}).items()}
        self._default = default
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def set_rate(self, host: str, per_second: float | None) -> None:
        with self._lock:
            self._rates[host.lower()] = per_second

    def rate(self, host: str) -> float | None:
        return self._rates.get(host.lower(), self._default)

    def wait(self, host: str) -> float:
        """Block until a request to `host` is allowed; returns the seconds waited."""
        host = host.lower()
        rate = self.rate(host)
        if not rate:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + 1.0 / rate
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay


# NCBI's published limit without a key; E-utilities callers raise it to 10/s when they hold one.
DEFAULT_RATES = {"eutils.ncbi.nlm.nih.gov": 3.0}


# --- deadline ----------------------------------------------------------------------------------------
# A read timeout bounds each wait for bytes, not the whole answer: a server that sends one byte
# every few seconds (slow loris) holds a read forever, in the headers or in the body. Each attempt
# therefore runs under a `_Deadline`: when it passes, the watchdog thread shuts the attempt's socket
# down, which wakes the blocked read, and the attempt fails as retryable (a download keeps its .part).
# One watchdog thread serves every attempt of the process (a thread per request cost 16% of the
# PMC fetch throughput: benchmarks/bench_pmc_fetch.py).
# The socket is known from the moment the request is sent: the connections of the client's session
# register it (`_WatchedConnection.getresponse`) with the deadline of the attempt running in their
# thread.
_current = threading.local()


class _Watchdog:
    """One daemon thread that calls each armed callback when its time comes, unless cancelled first."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked child has no such thread

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[list] = []  # [at, sequence, callback or None once cancelled]
        self._cancelled = 0
        self._sequence = 0
        self._thread: threading.Thread | None = None

    def arm(self, at: float, callback: Callable[[], None]) -> list:
        with self._cond:
            self._sequence += 1
            entry = [at, self._sequence, callback]
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="medcurate-http-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
            return entry

    def cancel(self, entry: list) -> None:
        with self._cond:
            if entry[2] is not None:
                entry[2] = None
                self._cancelled += 1
            if self._cancelled > 1000 and self._cancelled * 2 > len(self._heap):  # keep the heap small
                self._heap = [e for e in self._heap if e[2] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][2] is None:
                    if self._heap:
                        heapq.heappop(self._heap)
                        self._cancelled -= 1
                        continue
                    self._cond.wait()
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                entry = heapq.heappop(self._heap)
                callback, entry[2] = entry[2], None  # a late cancel finds nothing to count
            callback()


_WATCHDOG = _Watchdog()


class _Deadline:
    """The deadline of one attempt: `expired` once `seconds` have passed; its socket then shut down."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.at = time.monotonic() + seconds if seconds else None
        self.expired = False
        self._sock = None
        self._done = False
        self._lock = threading.Lock()
        self._alarm: list | None = None

    def __enter__(self) -> "_Deadline":
        if self.at is not None:
            self._alarm = _WATCHDOG.arm(self.at, self._expire)
        _current.deadline = self
        return self

    def __exit__(self, *exc) -> None:
        _current.deadline = None
        with self._lock:
            self._done = True  # a late timer must not shut a connection that went back to the pool
        if self._alarm is not None:
            _WATCHDOG.cancel(self._alarm)

    def passed(self) -> bool:
        return self.expired or (self.at is not None and time.monotonic() >= self.at)

    def watch(self, sock) -> None:
        with self._lock:
            self._sock = sock
            late = self.expired and not self._done
        if late:
            _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = self._sock
        if sock is not None:
            _shutdown(sock)


def _shutdown(sock) -> None:
    try:
        sock.shutdown(2)  # socket.SHUT_RDWR: a read blocked in another thread returns at once
    except OSError:  # already closed
        pass


class _WatchedConnection(urllib3.connection.HTTPConnection):
    def getresponse(self):  # type: ignore[override]
        deadline = getattr(_current, "deadline", None)
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    getresponse = _WatchedConnection.getresponse


class _WatchedPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter with connections that report their socket to the running attempt's deadline."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}


# --- results ---------------------------------------------------------------------------------------
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


class _Retry(Exception):
    """An attempt that failed in a way worth trying again."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _check_deadline(progress: str) -> None:
    """Raise a retryable failure when the running attempt's deadline has passed."""
    deadline = getattr(_current, "deadline", None)
    if deadline is not None and deadline.passed():
        raise _Retry(f"deadline of {deadline.seconds:g}s passed ({progress})")


def _retryable_status(status: int) -> bool:
    return status in (408, 429) or 500 <= status <= 599


# --- the client --------------------------------------------------------------------------------------
class HttpClient:
    """Polite GETs and downloads. Safe to share between threads of one process.

    `retries` is the number of attempts after the first; the wait before retry n (from 0) is
    `backoff * 2**n` (capped at `backoff_max`) plus up to `jitter` of itself, or the server's
    Retry-After when longer (capped at `retry_after_max`). Tests pass tiny values.

    `timeout` bounds each connect and each wait for bytes; `deadline` (seconds, None for none)
    bounds one attempt in all, from sending the request to the last byte of the answer. A missed
    deadline is retried like a dropped connection, and a download resumes its .part file.
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
        max_body_bytes: int = 256 << 20,
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
        self.max_body_bytes = max_body_bytes
        self.limiter = RateLimiter({**DEFAULT_RATES, **(rates or {})}, default_rate)
        self._sleep = sleep
        self._random = random.Random(seed)
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = user_agent
        for prefix in ("http://", "https://"):
            # Connections kept per host: at least one per thread that shares the client, or each
            # surplus request opens (and against S3 handshakes) a new one.
            self._session.mount(prefix, _WatchedAdapter(pool_maxsize=max(1, int(max_connections))))
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
                with _Deadline(self.deadline):
                    return run()
            except _Retry as exc:
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
    def _check_redirect(self, current: str, target: str, allowed: set[str]) -> None:
        old, new = urlsplit(current), urlsplit(target)
        problem = None
        if new.scheme not in ("http", "https"):
            problem = f"scheme {new.scheme!r} not allowed"
        elif old.scheme == "https" and new.scheme == "http":
            problem = "downgrade from https to http"
        elif (new.hostname or "").lower() not in allowed:
            problem = f"host {new.hostname!r} not in the allowlist"
        if problem:
            raise FetchError(one_line(f"redirect from {redact(current)} to {redact(target)} refused: {problem}"))

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
        allowed = {host_of(url)} | set(self.allowed_hosts)
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
                _check_deadline("no answer")
                raise _Retry(_describe(exc)) from None
            status = response.status_code
            logger.debug("%s %s -> %d (%.3fs)", method, redact(response.url), status, time.monotonic() - started)
            if status in REDIRECT_STATUSES and "Location" in response.headers:
                target = urljoin(response.url, response.headers["Location"])
                response.close()
                hops += 1
                if hops > self.max_redirects:
                    raise FetchError(one_line(f"{method} {redact(url)}: more than {self.max_redirects} redirects"))
                self._check_redirect(current, target, allowed)
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, data = "GET", None
                current, params = target, None  # the Location already carries the query
                continue
            if _retryable_status(status):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
                raise _Retry(f"HTTP {status}", retry_after)
            return response

    def _read_body(self, response: requests.Response) -> bytes:
        parts, size = [], 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise FetchError(f"{redact(response.url)}: body larger than {self.max_body_bytes} bytes")
                parts.append(chunk)
                _check_deadline(f"{size} bytes")
        except (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            _check_deadline(f"{size} bytes")
            raise _Retry(f"body cut short after {size} bytes ({type(exc).__name__})") from None
        _check_deadline(f"{size} bytes")  # a shut socket can look like the end of a body without a length
        body = b"".join(parts)
        expected = response.headers.get("Content-Length")
        if expected and expected.isdigit() and "Content-Encoding" not in response.headers and len(body) < int(expected):
            raise _Retry(f"body cut short: {len(body)} of {expected} bytes")
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
    ) -> HttpResult:
        """The whole body of a 2xx answer, or an empty 304 when `etag`/`last_modified` still hold."""
        sent = dict(headers or {})
        if etag:
            sent["If-None-Match"] = etag
        if last_modified:
            sent["If-Modified-Since"] = last_modified

        def attempt() -> HttpResult:
            response = self._open(method, url, params=params, data=data, headers=sent)
            with closing(response):
                status = response.status_code
                headers_ = dict(response.headers)
                if status == 304 and (etag or last_modified):
                    return HttpResult(redact(response.url), 304, headers_, b"")
                if not 200 <= status < 300:
                    raise FetchError(f"{method} {redact(url)}: HTTP {status}")
                return HttpResult(redact(response.url), status, headers_, self._read_body(response))

        return self._attempts(method, _with_params(url, params), attempt)

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
    ) -> DownloadResult:
        """Download `url` to `dest` through `dest.part`, resuming it with Range + If-Range.

        `dest` appears only once the bytes match `md5`/`sha256` (when given); a mismatch removes the
        partial file and raises ChecksumError, so a new call starts from scratch. With `etag` or
        `last_modified` and an existing `dest`, a 304 leaves `dest` alone.
        """
        dest = Path(dest)
        part = dest.with_name(dest.name + ".part")
        meta = dest.with_name(dest.name + ".part.json")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not resume:
            _remove(part, meta)

        def attempt() -> DownloadResult:
            have = part.stat().st_size if part.exists() else 0
            same_url, validator = _read_validator(meta, url)
            if have and not same_url:  # a leftover of another URL: never append to it
                _remove(part, meta)
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
                    if _content_range(response.headers.get("Content-Range"))[1] != have:
                        _remove(part, meta)
                        raise _Retry("range not satisfiable; restarting from byte 0")
                    status = 206  # the partial file already holds every byte
                elif status == 206 and have:
                    if _content_range(response.headers.get("Content-Range"))[0] != have:
                        _remove(part, meta)
                        raise _Retry("unexpected Content-Range; restarting from byte 0")
                    self._stream_to(response, part, "ab")
                elif status == 200:  # a full body: the file changed or ranges are unsupported
                    _write_validator(meta, url, resp_etag, resp_modified)
                    self._stream_to(response, part, "wb")
                else:
                    raise FetchError(f"GET {redact(url)}: HTTP {status}")
            return self._finish(url, part, meta, dest, status, resp_etag, resp_modified, md5, sha256)

        return self._attempts("GET", url, attempt)

    def _stream_to(self, response: requests.Response, part: Path, mode: str) -> None:
        expected = response.headers.get("Content-Length")
        received = 0
        with open(part, mode) as handle:
            try:
                for chunk in response.raw.stream(CHUNK_BYTES, decode_content=False):
                    handle.write(chunk)
                    received += len(chunk)
                    _check_deadline(f"{received} bytes, kept in {part.name}")
            except (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
                # What arrived stays in the .part file; the next attempt asks for the rest.
                _check_deadline(f"{received} bytes, kept in {part.name}")
                raise _Retry(f"body cut short after {received} bytes ({type(exc).__name__})") from None
            finally:
                handle.flush()
                os.fsync(handle.fileno())
        _check_deadline(f"{received} bytes, kept in {part.name}")
        if expected and expected.isdigit() and received < int(expected):
            raise _Retry(f"body cut short: {received} of {expected} bytes")

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
                _remove(part, meta)
                raise ChecksumError(f"GET {redact(url)}: {name} mismatch (published {expected.lower()}, got {actual})")
        os.replace(part, dest)
        _remove(meta)
        return DownloadResult(redact(url), dest, status, size, digest_sha, digest_md5, etag, last_modified)


# --- the .part file's validator (for If-Range after a restart) -----------------------------------------
def _write_validator(meta: Path, url: str, etag: str | None, last_modified: str | None) -> None:
    # If-Range needs a strong validator: a weak ETag (W/"...") falls back to Last-Modified.
    validator = etag if etag and not etag.startswith("W/") else last_modified
    meta.write_text(json.dumps({"url": redact(url), "validator": validator}), encoding="utf-8")


def _read_validator(meta: Path, url: str) -> tuple[bool, str | None]:
    """(whether the .part file may belong to `url`, its If-Range validator if known).

    Without a readable sidecar the part is resumed without If-Range: the checksum still guards it.
    """
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True, None
    if data.get("url") != redact(url):
        return False, None
    return True, data.get("validator")


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
