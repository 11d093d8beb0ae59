"""E-utilities search against recorded NCBI responses served on 127.0.0.1."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import date, timedelta

import pytest

from sources.errors import FetchError, InputError, RemoteError
from sources.http import HttpClient
from sources.pubmed.eutils import parse_date, search

try:
    from tests.sources.ncbi_server import EUTILS, PUBMED_XML, LocalServer, Reply, Request
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from ncbi_server import EUTILS, PUBMED_XML, LocalServer, Reply, Request

ESEARCH = "/entrez/eutils/esearch.fcgi"
EFETCH = "/entrez/eutils/efetch.fcgi"
HISTORY = (EUTILS / "esearch_pubmed_usehistory_reldate.xml").read_bytes()  # Count 42249, WebEnv, QueryKey 1
WEBENV = "MCID_6927d6e7fee3e90f880ec190"
BODIES = [path.read_bytes() for path in sorted(PUBMED_XML.glob("efetch_pubmed_*.xml"))]
SECRET = "eutils-test-key-9f8e7d6c5b4a"
XML = {"Content-Type": "text/xml; charset=UTF-8"}


@pytest.fixture(autouse=True)
def no_key_from_the_environment(monkeypatch):
    monkeypatch.delenv("NCBI_API_KEY", raising=False)


def client() -> HttpClient:
    return HttpClient(retries=2, backoff=0.001, backoff_max=0.005)


def recorded(body: bytes):
    return lambda request: Reply(200, XML, body)


def efetch_recorded(request: Request) -> Reply:
    """Each batch answers with one of the recorded efetch bodies, chosen by retstart."""
    return Reply(200, XML, BODIES[int(request.query["retstart"]) % len(BODIES)])


def eutils(server: LocalServer) -> str:
    return server.url("/entrez/eutils/")


def test_history_search_fetches_in_batches(tmp_path):
    routes = {ESEARCH: recorded(HISTORY), EFETCH: efetch_recorded}
    with LocalServer(routes=routes) as server:
        report = search("cancer", tmp_path, max_records=5, base_url=eutils(server), client=client(),
                        batch_size=2, email="dev@example.org", requests_per_second=1000)
        (esearch,) = [entry.request.query for entry in server.seen(ESEARCH)]
        efetches = [entry.request.query for entry in server.seen(EFETCH)]
    assert esearch["term"] == "cancer" and esearch["usehistory"] == "y" and esearch["db"] == "pubmed"
    for query in [esearch, *efetches]:
        assert query["tool"] == "medcurate" and query["email"] == "dev@example.org" and "api_key" not in query
    assert [(q["WebEnv"], q["query_key"], q["retstart"], q["retmax"]) for q in efetches] == [
        (WEBENV, "1", "0", "2"), (WEBENV, "1", "2", "2"), (WEBENV, "1", "4", "1"),
    ]
    # the 42,249 hits exceed the cap, but 5 records are reachable without splitting by date
    assert report.count == 42249 and report.windows == [{"mindate": None, "maxdate": None, "count": 42249}]
    assert report.records == sum(BODIES[n].count(b"<PubmedArticle>") for n in (0, 2, 4)) and len(report.files) == 3
    for path, retstart in zip(report.files, (0, 2, 4)):
        assert (tmp_path / path).read_bytes() == BODIES[retstart]  # exact bytes as served
    manifest = [json.loads(line) for line in (tmp_path / "eutils" / "manifest.jsonl").read_text().splitlines()]
    assert sorted(entry["path"] for entry in manifest) == sorted(report.files)
    assert all(entry["status"] == 200 and len(entry["sha256"]) == 64 and entry["records"] >= 1 for entry in manifest)

    # the same query again, with fewer records: files of the earlier run do not linger
    with LocalServer(routes=routes) as server:
        again = search("cancer", tmp_path, max_records=2, base_url=eutils(server), client=client(),
                       batch_size=2, requests_per_second=1000)
    assert sorted(p.name for p in (tmp_path / "eutils").iterdir()) == sorted(
        [path.split("/")[1] for path in again.files] + ["manifest.jsonl"]
    )


def test_no_hits_with_error_list_is_an_empty_reported_result(tmp_path):
    routes = {ESEARCH: recorded((EUTILS / "esearch_protein_no_results_errorlist.xml").read_bytes())}
    with LocalServer(routes=routes) as server:
        report = search("abcXYZ", tmp_path, base_url=eutils(server), client=client(), requests_per_second=1000)
        assert server.seen(EFETCH) == []
    assert report.count == 0 and report.files == [] and report.records == 0
    assert report.warnings == ["PhraseNotFound: abcXYZ", "OutputMessage: No items found."]
    assert "PhraseNotFound" in report.summary()


@pytest.mark.parametrize(
    "body, message",
    [
        (b'<?xml version="1.0"?><eSearchResult><ERROR>Invalid db name specified: pubmd</ERROR></eSearchResult>',
         "Invalid db name"),
        (b"<ERROR>Empty term and query_key - nothing todo</ERROR>", "nothing todo"),
        (b'{"error":"API rate limit exceeded","count":"11"}', "API rate limit exceeded"),
        (b'{"header":{"type":"esearch","version":"0.3"},"esearchresult":{"ERROR":"\'retstart\' cannot be\nlarger than 9998"}}',
         "cannot be larger than 9998"),
        ((EUTILS / "einfo_pubmed.xml").read_bytes(), "unexpected answer <eInfoResult>"),
    ],
)
def test_errors_inside_200_answers_of_esearch(tmp_path, body, message):
    with LocalServer(routes={ESEARCH: recorded(body)}) as server:
        with pytest.raises(RemoteError, match=message):
            search("q", tmp_path, base_url=eutils(server), client=client(), requests_per_second=1000)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"<?xml version=\"1.0\"?>\n<eFetchResult>\n\t<ERROR>Empty result - nothing to do</ERROR>\n</eFetchResult>",
         "Empty result"),
        (b'{"error":"API rate limit exceeded","count":"11"}', "API rate limit exceeded"),
        ((EUTILS / "epost_pubmed_11237011.xml").read_bytes(), "unexpected answer <ePostResult>"),
    ],
)
def test_errors_inside_200_answers_of_efetch(tmp_path, body, message):
    with LocalServer(routes={ESEARCH: recorded(HISTORY), EFETCH: recorded(body)}) as server:
        with pytest.raises(RemoteError, match=message):
            search("q", tmp_path, max_records=2, base_url=eutils(server), client=client(), requests_per_second=1000)
    assert not (tmp_path / "eutils").exists() or not list((tmp_path / "eutils").glob("*.xml"))


def test_rate_limit_is_measured_and_the_key_never_shows(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    routes = {ESEARCH: recorded(HISTORY), EFETCH: efetch_recorded}
    elapsed = {}
    with LocalServer(routes=routes) as server:
        for label in ("no key", "key"):
            if label == "key":
                monkeypatch.setenv("NCBI_API_KEY", SECRET)
            started = time.monotonic()
            report = search("cancer", tmp_path / label, max_records=3, batch_size=1, base_url=eutils(server),
                            client=client())
            elapsed[label] = time.monotonic() - started
        sent = [entry.request.query.get("api_key") for entry in server.seen()]
    # 4 requests each (1 esearch + 3 efetch): at 3/s at least 1 s; at 10/s at least 0.3 s
    assert elapsed["no key"] >= 3 / 3.0
    assert 3 / 10.0 <= elapsed["key"] < 0.9
    assert sent == [None] * 4 + [SECRET] * 4  # the key was sent...
    # ...and appears nowhere else: not in logs, files, the manifest or the report
    assert SECRET not in caplog.text and all(SECRET not in r.getMessage() for r in caplog.records)
    for path in (tmp_path / "key").rglob("*.*"):
        assert SECRET.encode() not in path.read_bytes()
    assert SECRET not in json.dumps(report.to_dict())


def test_the_key_stays_out_of_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("NCBI_API_KEY", SECRET)
    with LocalServer(routes={ESEARCH: lambda request: Reply(502)}) as server:
        with pytest.raises(FetchError) as info:
            search("q", tmp_path, base_url=eutils(server), client=client(), requests_per_second=1000)
    assert SECRET not in str(info.value) and "api_key=REDACTED" in str(info.value)


def test_a_server_echoing_the_key_cannot_make_us_write_or_print_it(tmp_path, monkeypatch, caplog, capsys):
    """A server that echoes api_key in esearch's ErrorList/WarningList and inside the efetch bodies:
    the key reaches no log record, no printed line, no stored body and no manifest. The stored
    body has the key replaced by the redaction marker, and its manifest entry says so (with the
    sha256 and size of what is stored), so it is still parseable and verifiable."""
    from pipelines.commands.pubmed import pubmed_search
    from sources.pubmed.parse import Record, iter_file

    monkeypatch.setenv("NCBI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    echo = (f"<ErrorList><PhraseNotFound>api_key={SECRET}</PhraseNotFound></ErrorList>"
            f"<WarningList><OutputMessage>Key {SECRET} is over its limit</OutputMessage></WarningList>")
    esearch_body = HISTORY.replace(b"</eSearchResult>", echo.encode() + b"</eSearchResult>")
    assert esearch_body != HISTORY

    def efetch_echoing(request: Request) -> Reply:
        body = BODIES[0].replace(b"<PubmedArticleSet>", f"<PubmedArticleSet><!-- {request.query['api_key']} -->".encode(), 1)
        body = body.replace(b"<ArticleTitle>", f"<ArticleTitle>{request.query['api_key']} ".encode(), 1)
        assert SECRET.encode() in body
        return Reply(200, XML, body)

    with LocalServer(routes={ESEARCH: recorded(esearch_body), EFETCH: efetch_echoing}) as server:
        params = tmp_path / "params.yaml"
        params.write_text(f"http:\n  retries: 1\npubmed:\n  eutils_url: {eutils(server)}\n")
        report = pubmed_search("cancer", tmp_path / "raw", 2, None, None, params)
        assert {entry.request.query.get("api_key") for entry in server.seen()} == {SECRET}  # it was sent
    printed = capsys.readouterr()
    assert report.warnings and "REDACTED" in " ".join(report.warnings)
    for text in (caplog.text, printed.out, printed.err, json.dumps(report.to_dict()), repr(report)):
        assert SECRET not in text
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    stored = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert stored and all(SECRET.encode() not in path.read_bytes() for path in stored)

    (entry,) = [json.loads(line) for line in (tmp_path / "raw" / "eutils" / "manifest.jsonl").read_text().splitlines()]
    body = (tmp_path / "raw" / entry["path"]).read_bytes()
    assert entry["redacted"] is True and b"REDACTED" in body
    assert entry["sha256"] == hashlib.sha256(body).hexdigest() and entry["size"] == len(body)
    records = [item for item in iter_file(tmp_path / "raw" / entry["path"]) if isinstance(item, Record)]
    assert len(records) == BODIES[0].count(b"<PubmedArticle>") == entry["records"]


# --- the 10,000-record cap --------------------------------------------------------------------------
BUSY_DAY = date(2020, 6, 15)


def per_day(day: date) -> int:
    """Records published on `day`: 100 a day in 2020, one day with more than the cap alone."""
    if day.year != 2020:
        return 0
    return 12000 if day == BUSY_DAY else 100


def esearch_by_window(request: Request) -> Reply:
    query = request.query
    if "mindate" in query:
        assert query["datetype"] == "pdat" and "maxdate" in query
        start, end = parse_date(query["mindate"], end=False), parse_date(query["maxdate"], end=True)
    else:
        start, end = date(2020, 1, 1), date(2020, 12, 31)
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    count = sum(per_day(day) for day in days if day.year == 2020)
    webenv = f"MCID_{query.get('mindate', 'all')}-{query.get('maxdate', 'all')}".replace("/", "")
    body = (f"<eSearchResult><Count>{count}</Count><RetMax>0</RetMax><RetStart>0</RetStart>"
            f"<QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv><IdList/></eSearchResult>")
    return Reply(200, XML, body.encode())


@pytest.mark.parametrize("mindate, maxdate", [("2020", "2020"), (None, None)])
def test_results_over_the_cap_are_split_into_date_windows(tmp_path, mindate, maxdate):
    with LocalServer(routes={ESEARCH: esearch_by_window, EFETCH: efetch_recorded}) as server:
        report = search("busy", tmp_path, mindate=mindate, maxdate=maxdate, batch_size=10000,
                        base_url=eutils(server), client=client(), requests_per_second=1000)
        efetches = [entry.request.query for entry in server.seen(EFETCH)]
    total = sum(per_day(date(2020, 1, 1) + timedelta(days=n)) for n in range(366))
    assert report.count == total == 48500
    windows = [w for w in report.windows if w["count"]] if mindate is None else report.windows
    starts = [parse_date(w["mindate"], end=False) for w in windows]
    ends = [parse_date(w["maxdate"], end=True) for w in windows]
    # contiguous, non-overlapping, covering 2020, and each under the cap but the one busy day
    assert starts[0] <= date(2020, 1, 1) and ends[-1] >= date(2020, 12, 31)
    assert all(next_start == end + timedelta(days=1) for end, next_start in zip(ends, starts[1:]))
    for window, start, end in zip(windows, starts, ends):
        assert window["count"] <= 9999 or start == end == BUSY_DAY
    assert report.truncated == ["2020/06/15"]
    # one efetch per window with records, from that window's own history set, never past the cap
    fetched = {(q["WebEnv"], int(q["retmax"])) for q in efetches}
    assert all(q["retstart"] == "0" for q in efetches)
    assert sum(retmax for _, retmax in fetched) == total - 12000 + 9999
    assert len(efetches) == len(windows) and len(report.files) == len(windows)


def test_a_server_that_ignores_dates_cannot_make_splitting_run_forever(tmp_path):
    with LocalServer(routes={ESEARCH: recorded(HISTORY)}) as server:
        with pytest.raises(RemoteError, match="do not narrow"):
            search("cancer", tmp_path, base_url=eutils(server), client=client(), requests_per_second=1000)
        assert len(server.seen(ESEARCH)) == 3


def test_dates():
    assert parse_date("2020", end=False) == date(2020, 1, 1) and parse_date("2020", end=True) == date(2020, 12, 31)
    assert parse_date("2024/02", end=True) == date(2024, 2, 29) and parse_date("2024-02-03", end=True) == date(2024, 2, 3)
    for bad in ("yesterday", "2020/13", "2020/02/30"):
        with pytest.raises(InputError):
            parse_date(bad, end=False)


# --- the command ------------------------------------------------------------------------------------------
def test_search_command_uses_params_and_refuses_a_key_in_them(tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.commands.pubmed import pubmed_search

    with LocalServer(routes={ESEARCH: recorded(HISTORY), EFETCH: efetch_recorded}) as server:
        params = tmp_path / "params.yaml"
        settings = f"http:\n  retries: 1\npubmed:\n  eutils_url: {eutils(server)}\n  email: ops@example.org\n"
        params.write_text(settings)
        report = pubmed_search("cancer", tmp_path / "raw", 1, None, None, params)
        assert report.records == BODIES[0].count(b"<PubmedArticle>") and len(report.files) == 1
        assert {entry.request.query["email"] for entry in server.seen()} == {"ops@example.org"}
        params.write_text(settings + "  api_key: oops\n")
        result = CliRunner().invoke(app, ["pubmed", "search", "cancer", "--out", str(tmp_path / "raw"), "--params", str(params)])
        assert result.exit_code == 1 and result.stderr.strip().splitlines() == [
            f"medcurate: error: {params}: pubmed.api_key: must not be in params.yaml; set the NCBI_API_KEY environment variable"]
