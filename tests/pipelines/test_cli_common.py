"""`http_client(params, **overrides)`: the one HttpClient built from params.yaml's `http:` block,
used by `pubmed fetch|search` and `guidelines fetch`."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import yaml
from conftest import REPO
from typer.testing import CliRunner

from pipelines.cli import app
from curation.config import to_mapping
from pipelines.cli_fetch import http_client
from sources.http import HttpClient
from sources.http_settings import HttpSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources"))
from ncbi_server import LocalServer, Reply  # noqa: E402

runner = CliRunner()
# One byte every 50 ms: each arrives well within any read timeout, the whole takes 10 s.
TRICKLE = Reply(200, {"Content-Type": "text/html; charset=utf-8"}, b"<html></html>".ljust(200), trickle=0.05)
DEADLINE_MISSED = "deadline of 0.5s passed"


def trickling(request) -> Reply:
    return TRICKLE


def write_params(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "params.yaml"
    path.write_text("http:\n  timeout: 30\n  retries: 0\n  deadline: 0.5\n" + extra)
    return path


def test_defaults_are_the_shipped_params_yaml_http_block():
    # One set of defaults: HttpSettings', which the shipped params.yaml writes out and HttpClient takes.
    shipped = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["http"]
    assert shipped == to_mapping(HttpSettings())
    for client in (http_client({}), HttpClient()):
        assert (client.timeout, client.retries, client.deadline) == ((30.0, 30.0), 6, 600.0)
    assert (http_client({}).max_response_bytes, http_client({}).max_download_bytes) == (64 << 20, 8 << 30)


def test_params_then_overrides_win():
    client = http_client({"http": {"timeout": 5, "retries": 1, "deadline": None,
                                   "max_response_bytes": 1000, "max_download_bytes": 2000}})
    assert (client.timeout, client.retries, client.deadline) == ((5.0, 5.0), 1, None)
    assert (client.max_response_bytes, client.max_download_bytes) == (1000, 2000)
    client = http_client({"http": {"retries": 1}}, retries=3, allowed_hosts=("mirror.example.org",))
    assert client.retries == 3 and "mirror.example.org" in client.allowed_hosts


def test_pubmed_fetch_and_search_take_their_deadline_from_params(tmp_path):
    routes = {"/pubmed/baseline/": trickling, "/entrez/eutils/esearch.fcgi": trickling}
    with LocalServer(routes=routes) as server:
        params = write_params(tmp_path, f"pubmed:\n  eutils_url: {server.url('/entrez/eutils/')}\n")
        fetched = runner.invoke(app, ["pubmed", "fetch", "--out", str(tmp_path / "raw"),
                                      "--base-url", server.url("/pubmed"), "--params", str(params)])
        searched = runner.invoke(app, ["pubmed", "search", "asthma", "--out", str(tmp_path / "raw"),
                                       "--params", str(params)])
    for result in (fetched, searched):
        assert result.exit_code == 1 and DEADLINE_MISSED in result.output, result.output


def test_guidelines_fetch_takes_its_deadline_from_params(tmp_path, caplog):
    """robots.txt trickles: past the deadline it is unreachable (logged), so the site is disallowed."""
    caplog.set_level(logging.WARNING)
    with LocalServer(routes={"/robots.txt": trickling}) as server:
        result = runner.invoke(app, ["guidelines", "fetch", "--site", "cdc_stacks", "--out", str(tmp_path / "raw"),
                                     "--base-url", server.url(""), "--params", str(write_params(tmp_path))])
    assert result.exit_code == 1 and "robots_disallowed 1" in result.output, result.output
    assert DEADLINE_MISSED in caplog.text


def test_pubmed_fetch_takes_its_size_caps_from_params(tmp_path):
    """A baseline file over `http.max_download_bytes` fails as too large, is not left behind, and the
    index page over `http.max_response_bytes` stops the command."""
    from ncbi_server import pubmed_tree

    tree = pubmed_tree()
    smallest = min(len(data) for path, data in tree.items() if path.endswith(".xml.gz"))
    with LocalServer(files=tree) as server:
        params = tmp_path / "params.yaml"
        params.write_text(f"http:\n  retries: 0\n  max_download_bytes: {smallest - 1}\n")
        capped = runner.invoke(app, ["pubmed", "fetch", "--out", str(tmp_path / "raw"),
                                     "--base-url", server.url("/pubmed"), "--params", str(params)])
        params.write_text("http:\n  retries: 0\n  max_response_bytes: 100\n")
        index_capped = runner.invoke(app, ["pubmed", "fetch", "--out", str(tmp_path / "raw2"),
                                           "--base-url", server.url("/pubmed"), "--params", str(params)])
    assert capped.exit_code == 1 and f"body larger than {smallest - 1} bytes" in capped.output, capped.output
    assert not list((tmp_path / "raw").rglob("*.xml.gz*"))
    assert index_capped.exit_code == 1 and "body larger than 100 bytes" in index_capped.output, index_capped.output
