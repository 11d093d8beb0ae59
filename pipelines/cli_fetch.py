"""The frame of a fetch command (`pubmed fetch|search`, `pmc list|fetch`, `guidelines fetch`),
beside `stage_command` for the stages that read what fetch commands store.

`fetch_command(params_file)` checks and loads params.yaml, hands the body one place for the HTTP
client (`frame.client(...)`, built from params.yaml's `http:` block and closed when the command
ends) and one stream for what it reports (`frame.report`: stderr, secrets masked), and fails one
way: a SourceError (FetchError when nothing could be fetched) or a bad value is one line and exit
status 1 (`cli_errors`). An imported module of its own, so that parse commands, which share a
module with fetch commands, do not import the HTTP client.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import typer

from pipelines.cli_common import cli_errors
from pipelines.params import load_params


def http_client(params: dict, **overrides):
    """The project's HttpClient configured from params.yaml's `http:` block (sources.http_settings:
    timeout, retries, deadline). `overrides` are further HttpClient keyword arguments (e.g.
    `allowed_hosts=...`) and win over params."""
    from curation.config import from_mapping
    from sources.http import HttpClient
    from sources.http_settings import HttpSettings

    settings = from_mapping(HttpSettings, params.get("http"), "http")
    return HttpClient(**{**settings.client_kwargs(), **overrides})


@dataclass
class FetchFrame:
    params: dict
    _closing: contextlib.ExitStack = field(repr=False)

    def client(self, **overrides):
        """An HttpClient from params.yaml (plus `overrides`), closed when the command ends."""
        return self._closing.enter_context(http_client(self.params, **overrides))

    @staticmethod
    def report(text: str) -> None:
        from sources.http import redact

        typer.echo(redact(text), err=True)


@contextlib.contextmanager
def fetch_command(params_file: Optional[Path]) -> Iterator[FetchFrame]:
    with cli_errors(), contextlib.ExitStack() as closing:
        yield FetchFrame(load_params(params_file), closing)
