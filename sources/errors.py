"""Errors a source raises; each becomes an error-ledger entry or a one-line CLI message."""
from __future__ import annotations


class SourceError(Exception):
    """Base class: something about a source's input or remote went wrong."""


class InputError(SourceError):
    """An input (file, response body) that cannot be read: truncated, invalid, empty."""


class HostileInputError(InputError):
    """An input that tries something dangerous: entities, path traversal, a decompression bomb."""


class FetchError(SourceError):
    """A remote that could not be fetched after every retry."""


class ChecksumError(FetchError):
    """Downloaded bytes whose checksum never matched the published one."""


class RemoteError(SourceError):
    """A remote that answered 200 with an error inside the body (E-utilities ErrorList/ERROR, OA error)."""
