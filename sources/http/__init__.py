"""The project's one polite HTTP client.

Every source talks to the world through `HttpClient`, so the rules of DESIGN.md "Sources" hold
everywhere: timeouts, per read and a total deadline per attempt (a server trickling a byte now and
then never trips a read timeout); retries with exponential backoff and jitter on 429, 5xx,
connection errors, truncated bodies and missed deadlines, honouring Retry-After; a per-host rate
limit; an identifying User-Agent; conditional requests; size caps on answers and downloads;
resumable, checksum-verified downloads; redirects followed by hand and only within the origin or
to allowed hosts; and no secret (an NCBI `api_key`) in any log record or error message.

One concern per module (secret redaction, which every source needs, is sources/redaction.py):
    rate       the per-host rate limit
    retry      retryable statuses, Retry-After
    deadline   the total deadline of one attempt (one watchdog thread)
    redirects  where a redirect may lead
    partial    the .part file of a resumable download and its validator
    client     HttpClient itself
"""
from sources.http.client import (
    CHUNK_BYTES,
    ERROR_BODY_BYTES,
    MAX_DOWNLOAD_BYTES,
    MAX_RESPONSE_BYTES,
    USER_AGENT,
    DownloadResult,
    HttpClient,
    HttpResult,
)
from sources.http.deadline import DEFAULT_DEADLINE
from sources.http.partial import file_digests
from sources.http.rate import DEFAULT_RATES, RateLimiter
from sources.redaction import (
    LOGGERS,
    RedactingFilter,
    get_logger,
    install_log_redaction,
    one_line,
    redact,
    redact_bytes,
    register_secret,
    register_secret_param,
)
from sources.origins import host_entry, host_of
from sources.http.retry import parse_retry_after

__all__ = [
    "CHUNK_BYTES", "DEFAULT_DEADLINE", "DEFAULT_RATES", "ERROR_BODY_BYTES", "LOGGERS", "MAX_DOWNLOAD_BYTES",
    "MAX_RESPONSE_BYTES", "USER_AGENT", "DownloadResult", "HttpClient", "HttpResult", "RateLimiter",
    "RedactingFilter", "file_digests", "get_logger", "host_entry", "host_of", "install_log_redaction",
    "one_line", "parse_retry_after", "redact", "redact_bytes", "register_secret", "register_secret_param",
]
