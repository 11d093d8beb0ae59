"""Errors a source raises; each becomes an error-ledger entry or a one-line CLI message."""
from __future__ import annotations


class SourceError(Exception):
    """Base class: something about a source's input or remote went wrong."""


class InputError(SourceError):
    """An input (file, response body) that cannot be read: truncated, invalid, empty."""


class HostileInputError(InputError):
    """An input that tries something dangerous: entities, path traversal, a decompression bomb."""


class FetchError(SourceError):
    """A remote that could not be fetched after every retry.

    After a non-retryable HTTP error status, `status` is that status and `body` the first few KB of
    the answer (secrets redacted), where a server names the reason (S3's `<Code>AccessDenied`).
    """

    def __init__(self, message: str = "", *, status: int | None = None, body: bytes = b""):
        super().__init__(message)
        self.status = status
        self.body = body


class ResponseTooLarge(FetchError):
    """An answer or download over its size cap (params http.max_response_bytes, http.max_download_bytes)."""


class ChecksumError(FetchError):
    """Downloaded bytes whose checksum never matched the published one."""


class RemoteError(SourceError):
    """A remote that answered 200 with an error inside the body (E-utilities ErrorList/ERROR, OA error)."""
