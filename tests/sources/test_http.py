"""The polite HTTP client against a local server that misbehaves on purpose."""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import traceback
import tracemalloc
from email.utils import formatdate

import pytest

from sources.errors import ChecksumError, FetchError, ResponseTooLarge
from sources.http import (
    USER_AGENT,
    HttpClient,
    RateLimiter,
    file_digests,
    parse_retry_after,
    redact,
    register_secret,
)

try:
    from tests.sources.ncbi_server import PUBMED_XML, LocalServer, Reply, Request, file_reply
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from ncbi_server import PUBMED_XML, LocalServer, Reply, Request, file_reply

DATA = (PUBMED_XML / "baseline" / "pubmed26n1334.xml.gz").read_bytes()
SECRET = "s3cr3t-key-0123456789abcdef"


def make_client(**kwargs) -> HttpClient:
    """Real backoff arithmetic, tiny numbers; sleeps are recorded rather than slept."""
    sleeps: list[float] = []
    options = dict(retries=4, backoff=0.001, backoff_max=0.01, retry_after_max=0.01, sleep=sleeps.append, seed=1)
    options.update(kwargs)
    client = HttpClient(**options)
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


def scripted(*replies: Reply) -> "callable":
    """A route answering the given replies in turn, then repeating the last one."""
    queue = list(replies)

    def route(request: Request) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return route


# --- retries -------------------------------------------------------------------------------------------
def test_retries_500_503_429_then_succeeds_and_honours_retry_after():
    route = scripted(
        Reply(503), Reply(429, {"Retry-After": "7"}), Reply(500), Reply(200, {}, b"payload")
    )
    with LocalServer(routes={"/x": route}) as server:
        client = make_client(retry_after_max=30.0)
        result = client.get(server.url("/x"))
    assert result.status == 200 and result.content == b"payload"
    assert len(server.seen("/x")) == 4
    # the 429's Retry-After (7 s) wins over the tiny exponential backoff of the others
    assert len(client.sleeps) == 3 and client.sleeps[1] == pytest.approx(7.0)
    assert client.sleeps[0] < 0.01 and client.sleeps[2] < 0.01


def test_retry_after_is_capped_and_backoff_grows():
    route = scripted(Reply(429, {"Retry-After": "100000"}), Reply(503), Reply(503), Reply(200, {}, b"ok"))
    with LocalServer(routes={"/x": route}) as server:
        client = make_client(backoff=0.01, backoff_max=1.0, jitter=0.0, retry_after_max=0.5)
        client.get(server.url("/x"))
    assert client.sleeps == pytest.approx([0.5, 0.02, 0.04])


def test_retry_after_header_forms():
    now = time.time()
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_gives_up_with_one_line_fetch_error():
    with LocalServer(routes={"/down": scripted(Reply(503))}) as server:
        client = make_client(retries=3)
        with pytest.raises(FetchError) as info:
            client.get(server.url("/down"))
    message = str(info.value)
    assert "\n" not in message and "HTTP 503" in message and "4 attempts" in message
    assert len(server.seen("/down")) == 4


def test_client_error_is_not_retried():
    with LocalServer() as server:
        client = make_client()
        with pytest.raises(FetchError, match="HTTP 404"):
            client.get(server.url("/missing"))
    assert len(server.seen("/missing")) == 1


@pytest.mark.parametrize("fault", ["drop", "truncate", "truncate_chunked"])
def test_dropped_connections_and_truncated_bodies_are_retried(fault, monkeypatch):
    with LocalServer(files={"/f": DATA}) as server:
        # the first request meets the fault, the next ones are clean
        monkeypatch.setattr(server.plan, "schedule", [fault] + [None] * 50)
        client = make_client()
        result = client.get(server.url("/f"))
    assert result.content == DATA
    assert [entry.fault for entry in server.seen("/f")] == [fault, None]


def test_connection_refused_is_retried_then_fails():
    with LocalServer() as server:
        url = server.url("/gone")
    client = make_client(retries=2)
    with pytest.raises(FetchError, match="3 attempts"):
        client.get(url)
    assert len(client.sleeps) == 2


def test_body_size_is_capped():
    with LocalServer(files={"/big": DATA}) as server:
        with pytest.raises(FetchError, match="larger than"):
            make_client(max_response_bytes=1000).get(server.url("/big"))


# --- size caps -----------------------------------------------------------------------------------------
MIB = 1 << 20


def peak_python_bytes(call) -> tuple[BaseException | None, int]:
    """(what `call` raised, the peak of Python allocations while it ran)."""
    tracemalloc.start()
    try:
        call()
        raised = None
    except Exception as exc:  # noqa: BLE001 - handed back to the test
        raised = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, peak


def test_a_server_that_never_ends_stops_at_the_response_cap_in_bounded_memory():
    with LocalServer(routes={"/endless": scripted(Reply(200, {}, b"<x>", endless=True))}) as server:
        client = make_client(max_response_bytes=64 * MIB, deadline=60)
        raised, peak = peak_python_bytes(lambda: client.get(server.url("/endless"), max_bytes=4 * MIB))
    assert isinstance(raised, ResponseTooLarge) and "larger than 4194304 bytes" in str(raised)
    assert peak < 8 * MIB  # the 4 MiB kept so far and one chunk, never the stream
    assert len(server.seen("/endless")) == 1  # too large is not retried


def test_a_content_length_over_the_cap_is_refused_before_reading():
    huge = 10 << 30
    route = scripted(Reply(200, {}, b"", endless=True, length=huge))
    with LocalServer(routes={"/huge": route}) as server:
        client = make_client(max_response_bytes=4 * MIB)
        raised, peak = peak_python_bytes(lambda: client.get(server.url("/huge")))
    assert isinstance(raised, ResponseTooLarge) and f"announced {huge}" in str(raised)
    assert peak < 1 * MIB  # not one body chunk kept
    assert len(server.seen("/huge")) == 1


def test_a_download_that_never_ends_stops_at_the_object_cap_and_leaves_no_part(tmp_path):
    dest = tmp_path / "f.xml.gz"
    with LocalServer(routes={"/endless": scripted(Reply(200, {}, DATA, endless=True))}) as server:
        client = make_client(max_download_bytes=2 * MIB, deadline=60)
        raised, peak = peak_python_bytes(lambda: client.download(server.url("/endless"), dest))
    assert isinstance(raised, ResponseTooLarge) and "larger than 2097152 bytes" in str(raised)
    assert peak < 1 * MIB  # streamed to disk
    assert list(tmp_path.iterdir()) == []  # no dest, no .part, no .part.json
    assert len(server.seen("/endless")) == 1


def test_a_download_whose_announced_size_is_over_the_cap_is_refused(tmp_path):
    dest = tmp_path / "f.xml.gz"
    with LocalServer(files={"/f": DATA}, routes={"/huge": scripted(Reply(200, {}, b"", endless=True, length=9 << 30))}) as server:
        client = make_client()
        with pytest.raises(ResponseTooLarge, match=f"announced {9 << 30}"):
            client.download(server.url("/huge"), dest)  # the default 8 GiB cap
        assert list(tmp_path.iterdir()) == []
        # a per-call cap below the file's size; the same file fits the default cap
        with pytest.raises(ResponseTooLarge, match=f"announced {len(DATA)}"):
            client.download(server.url("/f"), dest, max_bytes=len(DATA) - 1)
        assert client.download(server.url("/f"), dest).size == len(DATA)


def test_a_resumed_download_counts_the_part_against_the_cap(tmp_path):
    dest = tmp_path / "f.xml.gz"
    dest.with_name(dest.name + ".part").write_bytes(DATA[:1000])
    with LocalServer(files={"/f": DATA}) as server:
        with pytest.raises(ResponseTooLarge, match=f"announced {len(DATA)}"):  # Content-Range's total
            make_client().download(server.url("/f"), dest, max_bytes=len(DATA) - 1)
        assert server.seen("/f")[0].request.headers["Range"] == "bytes=1000-"
    assert list(tmp_path.iterdir()) == []


def test_an_http_error_keeps_its_status_and_the_start_of_its_body(tmp_path):
    register_secret(SECRET)
    s3_error = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                b"<Message>Access Denied for " + SECRET.encode() + b"</Message></Error>" + b" " * 20000)
    with LocalServer(routes={"/denied": scripted(Reply(403, {"Content-Type": "application/xml"}, s3_error))}) as server:
        with pytest.raises(FetchError) as info:
            make_client().get(server.url("/denied"))
        with pytest.raises(FetchError) as on_download:
            make_client().download(server.url("/denied"), tmp_path / "denied.xml")
    for error in (info.value, on_download.value):
        assert error.status == 403 and str(error).endswith(": HTTP 403")
        assert b"<Code>AccessDenied</Code>" in error.body and len(error.body) <= 4096
        assert SECRET.encode() not in error.body and b"REDACTED" in error.body
    assert list(tmp_path.iterdir()) == []


# --- politeness --------------------------------------------------------------------------------------
def test_user_agent_identifies_the_project():
    with LocalServer(files={"/f": b"x"}) as server:
        make_client().get(server.url("/f"))
    agent = server.seen("/f")[0].request.headers["User-Agent"]
    assert agent == USER_AGENT and agent.startswith("medcurate/") and "(+https://github.com/medcurate/medcurate)" in agent


def test_rate_limit_is_measured_per_host():
    with LocalServer(files={"/f": b"x"}) as server:
        client = HttpClient(rates={"127.0.0.1": 5.0})
        started = time.monotonic()
        for _ in range(4):
            client.get(server.url("/f"))
        limited = time.monotonic() - started
        started = time.monotonic()
        for _ in range(4):
            client.get(server.url("/f", host="localhost"))  # another host: its own bucket, no limit
        free = time.monotonic() - started
    assert limited >= 3 / 5.0
    assert free < 0.5  # a limit of 5/s would take at least 0.6 s


def test_rate_limiter_is_thread_safe():
    limiter = RateLimiter({"h": 20.0})
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: [limiter.wait("h") for _ in range(3)]) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= 8 / 20.0


# --- conditional requests ------------------------------------------------------------------------------
def test_conditional_get_and_download_answer_304(tmp_path):
    with LocalServer(files={"/f": DATA}) as server:
        client = make_client()
        first = client.get(server.url("/f"))
        again = client.get(server.url("/f"), etag=first.etag)
        assert again.status == 304 and again.content == b""
        dest = tmp_path / "f.bin"
        got = client.download(server.url("/f"), dest)
        stamp = dest.stat().st_mtime_ns
        unchanged = client.download(server.url("/f"), dest, etag=got.etag, last_modified=got.last_modified)
    assert got.status == 200 and unchanged.status == 304
    assert unchanged.sha256 == got.sha256 and dest.stat().st_mtime_ns == stamp
    assert server.seen("/f")[-1].request.headers["If-None-Match"] == got.etag


# --- resumable downloads --------------------------------------------------------------------------------
def test_download_verifies_and_reports(tmp_path):
    with LocalServer(files={"/f": DATA}) as server:
        result = make_client().download(
            server.url("/f"), tmp_path / "f.gz",
            md5=hashlib.md5(DATA).hexdigest(), sha256=hashlib.sha256(DATA).hexdigest(),
        )
    assert (tmp_path / "f.gz").read_bytes() == DATA
    assert (result.status, result.size, result.sha256) == (200, len(DATA), hashlib.sha256(DATA).hexdigest())
    assert result.etag and result.last_modified
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]


def test_partial_file_is_resumed_with_range_and_if_range(tmp_path, monkeypatch):
    dest = tmp_path / "f.gz"
    with LocalServer(files={"/f": DATA}) as server:
        monkeypatch.setattr(server.plan, "schedule", ["truncate"] + [None] * 50)
        result = make_client().download(server.url("/f"), dest, md5=hashlib.md5(DATA).hexdigest())
    first, second = server.seen("/f")
    assert first.fault == "truncate" and first.status == 200
    have = len(DATA) // 2
    assert second.request.headers["Range"] == f"bytes={have}-"
    assert second.request.headers["If-Range"].startswith('"') and second.status == 206
    assert result.status == 206 and dest.read_bytes() == DATA


def test_leftover_part_from_an_earlier_run_is_resumed(tmp_path):
    dest = tmp_path / "f.gz"
    (tmp_path / "f.gz.part").write_bytes(DATA[:1000])
    with LocalServer(files={"/f": DATA}) as server:
        result = make_client().download(server.url("/f"), dest)
    assert server.seen("/f")[0].request.headers["Range"] == "bytes=1000-"
    assert result.status == 206 and dest.read_bytes() == DATA and not (tmp_path / "f.gz.part").exists()


def test_server_without_ranges_restarts_from_scratch(tmp_path):
    (tmp_path / "f.gz.part").write_bytes(b"garbage that is not the start of the file")
    with LocalServer(files={"/f": DATA}, ranges=False) as server:
        result = make_client().download(server.url("/f"), tmp_path / "f.gz")
    assert result.status == 200 and (tmp_path / "f.gz").read_bytes() == DATA


def test_changed_file_if_range_mismatch_restarts(tmp_path):
    (tmp_path / "f.gz.part").write_bytes(b"old version")
    with LocalServer(files={"/f": DATA}) as server:
        url = server.url("/f")
        (tmp_path / "f.gz.part.json").write_text(json.dumps({"url": url, "validator": '"stale"'}))
        result = make_client().download(url, tmp_path / "f.gz")
    assert server.seen("/f")[0].request.headers["If-Range"] == '"stale"'
    assert result.status == 200 and (tmp_path / "f.gz").read_bytes() == DATA


def test_complete_part_meets_416(tmp_path):
    (tmp_path / "f.gz.part").write_bytes(DATA)
    with LocalServer(files={"/f": DATA}) as server:
        result = make_client().download(server.url("/f"), tmp_path / "f.gz", md5=hashlib.md5(DATA).hexdigest())
    assert server.seen("/f")[0].status == 416
    assert (tmp_path / "f.gz").read_bytes() == DATA and result.size == len(DATA)


def test_overlong_part_meets_416_and_restarts(tmp_path):
    (tmp_path / "f.gz.part").write_bytes(DATA + b"extra")
    with LocalServer(files={"/f": DATA}) as server:
        make_client().download(server.url("/f"), tmp_path / "f.gz")
    assert [entry.status for entry in server.seen("/f")] == [416, 200]
    assert (tmp_path / "f.gz").read_bytes() == DATA


def test_checksum_mismatch_leaves_nothing_behind(tmp_path):
    with LocalServer(files={"/f": DATA}) as server:
        with pytest.raises(ChecksumError, match="md5 mismatch"):
            make_client().download(server.url("/f"), tmp_path / "f.gz", md5="0" * 32)
        with pytest.raises(ChecksumError, match="sha256 mismatch"):
            make_client().download(server.url("/f"), tmp_path / "f.gz", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


# --- total deadline: servers that trickle ---------------------------------------------------------------
SLOW = DATA[:400]  # real bytes; one every 50 ms is 20 s for the whole, far past the deadlines below


def trickling(data: bytes = SLOW, first_only: bool = False, headers: bool = False):
    """A route serving `data` as a file (ranges honoured), one byte at a time; with `first_only`,
    the later requests get their answer at once. The get tests trickle all of DATA (and, for
    headers, a padded header): hours, so that only the deadline's watchdog, which shuts the
    socket, ends them (the server stops when the client hangs up)."""
    calls = []

    def route(request: Request) -> Reply:
        calls.append(request)
        reply = file_reply(request, data)
        if not (first_only and len(calls) > 1):
            reply.trickle, reply.trickle_headers = 0.05, headers
            if headers:
                reply.headers["X-Padding"] = "p" * 60_000
        return reply

    return route


def test_download_that_trickles_misses_its_deadline_keeps_the_part_and_resumes(tmp_path, caplog):
    """Every byte arrives well within the read timeout, so only the total deadline stops the
    attempt; what arrived stays in the .part and the retry asks for the rest."""
    dest = tmp_path / "f.gz"
    with LocalServer(routes={"/f": trickling(first_only=True)}) as server, caplog.at_level(logging.WARNING):
        client = make_client(deadline=1.0, timeout=30.0, retries=2)
        result = client.download(server.url("/f"), dest, md5=hashlib.md5(SLOW).hexdigest())
    first, second = server.seen("/f")
    assert "Range" not in first.request.headers
    have = int(second.request.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < have < len(SLOW)
    assert result.status == 206 and dest.read_bytes() == SLOW
    assert "deadline of 1s passed" in caplog.text


def test_download_that_always_trickles_fails_with_fetch_error_and_leaves_the_part(tmp_path):
    dest = tmp_path / "f.gz"
    with LocalServer(routes={"/f": trickling()}) as server:
        with pytest.raises(FetchError, match=r"deadline of 0.5s passed .*gave up after 2 attempts"):
            make_client(deadline=0.5, timeout=30.0, retries=1).download(server.url("/f"), dest)
    part = tmp_path / "f.gz.part"
    assert not dest.exists() and 0 < part.stat().st_size < len(SLOW)
    assert SLOW.startswith(part.read_bytes())  # the next run resumes from here
    assert server.seen("/f")[1].request.headers["Range"].startswith("bytes=")


def test_get_whose_headers_trickle_misses_its_deadline():
    with LocalServer(routes={"/x": trickling(DATA, headers=True)}) as server:
        with pytest.raises(FetchError, match="deadline of 0.5s passed"):
            make_client(deadline=0.5, timeout=30.0, retries=0).get(server.url("/x"))


def test_get_whose_body_trickles_misses_its_deadline():
    with LocalServer(routes={"/x": trickling(DATA)}) as server:
        with pytest.raises(FetchError, match=r"deadline of 0.5s passed \(\d+ bytes\)"):
            make_client(deadline=0.5, timeout=30.0, retries=0).get(server.url("/x"))


def test_file_digests(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(DATA)
    assert file_digests(path) == (hashlib.md5(DATA).hexdigest(), hashlib.sha256(DATA).hexdigest(), len(DATA))


# --- redirects --------------------------------------------------------------------------------------------
def redirect(to: str, status: int = 302):
    return lambda request: Reply(status, {"Location": to})


def test_redirect_to_the_same_host_is_followed():
    with LocalServer(files={"/real": b"here"}, routes={"/moved": redirect("/real", 301)}) as server:
        result = make_client().get(server.url("/moved"))
    assert result.content == b"here" and result.url.endswith("/real")


def test_redirect_to_another_host_is_refused():
    with LocalServer(files={"/real": b"here"}) as server:
        server.routes["/moved"] = redirect(server.url("/real", host="localhost"))
        with pytest.raises(FetchError, match="not in the allowlist"):
            make_client().get(server.url("/moved"))
        assert server.seen("/real") == []  # the other host was never contacted
        # an explicit allowlist lets it through: the host on that port
        assert make_client(allowed_hosts=[f"localhost:{server.port}"]).get(server.url("/moved")).content == b"here"


def test_redirect_to_the_same_host_on_another_port_or_scheme_is_refused():
    with LocalServer(files={"/real": b"there"}) as other, LocalServer() as server:
        server.routes["/port"] = redirect(other.url("/real"))
        server.routes["/tls"] = redirect(server.url("/real").replace("http://", "https://"))
        with pytest.raises(FetchError, match=f"http://127.0.0.1:{other.port} is another origin and not in the allowlist"):
            make_client().get(server.url("/port"))
        with pytest.raises(FetchError, match="https://127.0.0.1:.* is another origin"):
            make_client().get(server.url("/tls"))
        assert other.seen() == []  # never contacted
        with pytest.raises(FetchError, match="another origin"):  # a bare host is its default port only
            make_client(allowed_hosts=["127.0.0.1"]).get(server.url("/port"))
        allowed = make_client(allowed_hosts=[f"127.0.0.1:{other.port}"])
        assert allowed.get(server.url("/port")).content == b"there"


def test_redirect_scheme_and_hop_limits():
    with LocalServer(routes={"/ftp": redirect("ftp://127.0.0.1/x"), "/loop": redirect("/loop")}) as server:
        with pytest.raises(FetchError, match="scheme 'ftp' not allowed"):
            make_client().get(server.url("/ftp"))
        with pytest.raises(FetchError, match="more than 3 redirects"):
            make_client(max_redirects=3).get(server.url("/loop"))
    assert len(server.seen("/loop")) == 4


# --- secrets ----------------------------------------------------------------------------------------------
def test_redact():
    assert redact("https://h/e.fcgi?db=pubmed&api_key=abc123&query_key=1") == (
        "https://h/e.fcgi?db=pubmed&api_key=REDACTED&query_key=1"
    )
    assert redact("GET /x?API_KEY=abc&token=t1 HTTP/1.1") == "GET /x?API_KEY=REDACTED&token=REDACTED HTTP/1.1"
    assert redact("a?resumptionToken=keep&WebEnv=MCID_1") == "a?resumptionToken=keep&WebEnv=MCID_1"
    assert redact("x?session=abc", names=["session"]) == "x?session=REDACTED"
    register_secret(SECRET)
    assert SECRET not in redact(f"header said {SECRET}")


def test_api_key_never_reaches_logs_or_errors(caplog):
    client, once = make_client(retries=2), make_client(retries=0)
    caplog.set_level(logging.DEBUG)
    # the client put urllib3 at WARNING; force DEBUG, where urllib3 prints whole URLs, to test the filter
    caplog.set_level(logging.DEBUG, logger="urllib3")
    routes = {"/e": scripted(Reply(500)), "/r": redirect("http://elsewhere.example/x?api_key=" + SECRET)}
    with LocalServer(routes=routes) as server:
        for path in ("/e", "/r"):
            with pytest.raises(FetchError) as info:
                client.get(server.url(path), params={"api_key": SECRET, "db": "pubmed"})
            text = "".join(traceback.format_exception(info.value))
            assert SECRET not in text and "api_key=REDACTED" in text
        with pytest.raises(FetchError) as info:  # a connection error's text carries the URL too
            once.get("http://127.0.0.1:1/e", params={"api_key": SECRET})
        assert SECRET not in "".join(traceback.format_exception(info.value))
        assert server.seen("/e")[0].request.query["api_key"] == SECRET  # it was sent, just never shown
    messages = [record.getMessage() for record in caplog.records]
    assert any("api_key=REDACTED" in message for message in messages)
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    assert all(SECRET not in message for message in messages)
    assert SECRET not in caplog.text


def test_deadlines_share_one_watchdog_thread_and_cancelled_ones_do_not_pile_up():
    from sources.http.deadline import Watchdog

    with LocalServer(files={"/f": DATA}) as server:
        client = HttpClient(retries=0, deadline=30, max_connections=16)
        client.get(server.url("/f"))
        threads = threading.active_count()
        for _ in range(50):
            client.get(server.url("/f"))
        assert threading.active_count() == threads  # no timer thread per request
    watchdog, fired = Watchdog(), threading.Event()
    entries = [watchdog.arm(time.monotonic() + 3600, fired.set) for _ in range(3000)]
    for entry in entries:
        watchdog.cancel(entry)
    assert len(watchdog._heap) < 1500  # compacted, not 3000 dead entries waiting an hour
    watchdog.arm(time.monotonic() + 0.05, fired.set)
    assert fired.wait(10)
