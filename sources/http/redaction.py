"""No secret (an NCBI `api_key`) in any log record, error message or stored body.

Secrets are query parameters known by name (`api_key=…` wherever it appears) and values registered
at run time (the key read from the environment), matched as sent, URL-quoted or XML-escaped.
"""
from __future__ import annotations

import html
import logging
import re
import threading
from typing import Iterable
from urllib.parse import quote

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
        for form in {value, quote(value, safe=""), html.escape(value)}:
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
