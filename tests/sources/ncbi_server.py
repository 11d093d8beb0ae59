"""A local HTTP server on 127.0.0.1 for source tests: files, NCBI-style index pages, and faults.

It serves real fixture bytes (with ETag, Last-Modified, Range and If-Range), answers routes given as
functions (E-utilities), and fails a seeded, deterministic share of requests the ways real servers
do: 500, 503, 429 with Retry-After, dropped connections, and bodies cut short (with a
Content-Length, or chunked). Every request is recorded in `server.log`.
"""
from __future__ import annotations

import hashlib
import html
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures"
PUBMED_XML = FIXTURES / "pubmed_xml"
CORPUS_BASELINE = ROOT.parent / "shared" / "corpora" / "pubmed_xml" / "net-synergy_pubmedparser"
EUTILS = FIXTURES / "eutils"
LAST_MODIFIED = "Mon, 01 Dec 2025 12:00:00 GMT"

FAULTS = ("500", "503", "429", "drop", "truncate", "truncate_chunked")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]  # first value of each parameter (query string and form body)
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    trickle: float = 0.0  # > 0: send the body one byte at a time, this many seconds apart (slow loris)
    trickle_headers: bool = False  # with `trickle`: the status line and headers too
    endless: bool = False  # after the body, zeros until the client hangs up (a server that never ends)
    length: int | None = None  # the Content-Length to announce instead of the body's (None: none when endless)


@dataclass
class Seen:
    request: Request
    fault: str | None
    status: int | None


Route = Callable[[Request], Reply]


class FaultPlan:
    """Request i fails with `schedule[i % period]`: a seeded shuffle holding every kind once.

    With six kinds and rate 0.3 the period is 20, so about 30% of requests fail and every kind
    occurs in any 20 consecutive requests.
    """

    def __init__(self, rate: float = 0.0, seed: int = 0, kinds: tuple[str, ...] = FAULTS):
        self._lock = threading.Lock()
        self._count = 0
        if rate <= 0:
            self.schedule: list[str | None] = [None]
            return
        period = max(len(kinds), round(len(kinds) / rate))
        self.schedule = list(kinds) + [None] * (period - len(kinds))
        random.Random(seed).shuffle(self.schedule)

    def next(self) -> str | None:
        with self._lock:
            fault = self.schedule[self._count % len(self.schedule)]
            self._count += 1
        return fault


def file_reply(request: Request, data: bytes, *, ranges: bool = True) -> Reply:
    """A static file as Apache serves it: strong ETag, Last-Modified, 304, Range/If-Range, 416."""
    etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
    headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED, "Content-Type": "application/octet-stream"}
    if ranges:
        headers["Accept-Ranges"] = "bytes"
    if request.headers.get("If-None-Match") == etag or (
        "If-None-Match" not in request.headers and request.headers.get("If-Modified-Since") == LAST_MODIFIED
    ):
        return Reply(304, headers)
    match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
    if ranges and match and request.headers.get("If-Range", etag) in (etag, LAST_MODIFIED):
        start = int(match.group(1))
        if start >= len(data):
            return Reply(416, {**headers, "Content-Range": f"bytes */{len(data)}"})
        return Reply(206, {**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}, data[start:])
    return Reply(200, headers, data)


def index_page(path: str, names: list[str]) -> bytes:
    """An Apache-style directory listing like https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/."""
    rows = "\n".join(
        f'<a href="{html.escape(name)}">{html.escape(name)}</a>   2025-12-01 12:00   1.2K' for name in names
    )
    title = html.escape(path.rstrip("/"))
    return (
        f"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html><head><title>Index of {title}</title>"
        f"</head><body><h1>Index of {title}</h1><pre>Name <a href=\"?C=N;O=D\">sort</a> Last modified Size"
        f"<hr><a href=\"../\">Parent Directory</a>\n{rows}\n</pre><hr></body></html>\n"
    ).encode()


class LocalServer:
    """`with LocalServer(files, routes, fault_rate=0.3) as server: server.url("/pubmed/")`."""

    def __init__(
        self,
        files: dict[str, bytes] | None = None,
        routes: dict[str, Route] | None = None,
        *,
        fault_rate: float = 0.0,
        seed: int = 0,
        ranges: bool = True,
        retry_after: str = "0",
    ):
        self.files = dict(files or {})
        self.routes = dict(routes or {})
        self.plan = FaultPlan(fault_rate, seed)
        self.ranges = ranges
        self.retry_after = retry_after
        self.log: list[Seen] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    def __enter__(self) -> "LocalServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    def url(self, path: str = "", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    # -- what was asked ----------------------------------------------------------------------------------
    def seen(self, path_prefix: str = "") -> list[Seen]:
        with self._lock:
            return [entry for entry in self.log if entry.request.path.startswith(path_prefix)]

    def record(self, entry: Seen) -> None:
        with self._lock:
            self.log.append(entry)

    # -- answers -----------------------------------------------------------------------------------------
    def answer(self, request: Request) -> Reply:
        route = self.routes.get(request.path)
        if route is not None:
            return route(request)
        if request.path in self.files:
            return file_reply(request, self.files[request.path], ranges=self.ranges)
        if request.path.endswith("/"):
            names = sorted(
                {key[len(request.path):].split("/")[0] for key in self.files if key.startswith(request.path)}
            )
            if names:
                return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, index_page(request.path, names))
        return Reply(404, {"Content-Type": "text/plain"}, b"not found\n")


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, as real servers do
        disable_nagle_algorithm = True  # else headers and body meet delayed ACKs: 40 ms a request

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            pairs = parse_qs(split.query, keep_blank_values=True)
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                pairs.update(parse_qs(self.rfile.read(length).decode(), keep_blank_values=True))
            request = Request(method, split.path, {k: v[0] for k, v in pairs.items()}, dict(self.headers.items()))
            fault = server.plan.next()
            reply = server.answer(request) if fault not in ("500", "503", "429", "drop") else None
            if fault in ("truncate", "truncate_chunked") and reply is not None and len(reply.body) < 2:
                fault = "500"  # nothing to cut short
            if fault == "drop":
                status = None
            elif fault in ("500", "503", "429"):
                status = int(fault)
            else:
                status = reply.status
            server.record(Seen(request, fault, status))
            if fault == "drop":
                self.close_connection = True
                return
            if fault in ("500", "503", "429"):
                headers = {"Retry-After": server.retry_after} if fault == "429" else {}
                self._send(Reply(int(fault), headers, b"try again later\n"))
                return
            assert reply is not None
            if fault == "truncate":
                self._send(reply, cut=len(reply.body) // 2)
            elif fault == "truncate_chunked":
                self._send_chunked_cut(reply)
            else:
                self._send(reply)

        def _send(self, reply: Reply, cut: int | None = None) -> None:
            if reply.trickle:
                self._send_trickled(reply)
                return
            if reply.endless:
                self._send_endless(reply)
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            if cut is not None:
                self.send_header("Connection", "close")
            self.end_headers()
            if reply.status != 304 and self.command != "HEAD":
                self.wfile.write(reply.body if cut is None else reply.body[:cut])
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True

        def _send_trickled(self, reply: Reply) -> None:
            """The whole answer, one byte every `reply.trickle` seconds, until the client hangs up."""
            head = [f"HTTP/1.1 {reply.status} Trickle\r\n"]
            head += [f"{name}: {value}\r\n" for name, value in reply.headers.items()]
            head.append(f"Content-Length: {len(reply.body)}\r\nConnection: close\r\n\r\n")
            head_bytes = "".join(head).encode("latin-1")
            self.close_connection = True
            try:
                if not reply.trickle_headers:
                    self.wfile.write(head_bytes)
                    self.wfile.flush()
                for byte in (head_bytes if reply.trickle_headers else b"") + reply.body:
                    time.sleep(reply.trickle)
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:  # the client gave up: what this helper is for
                pass

        def _send_endless(self, reply: Reply) -> None:
            """The body, then zeros until the client hangs up; Content-Length only if `reply.length`."""
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.length is not None:
                self.send_header("Content-Length", str(reply.length))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            zeros = bytes(1 << 16)
            try:
                self.wfile.write(reply.body)
                while True:
                    self.wfile.write(zeros)
            except OSError:  # the client gave up: what this helper is for
                pass

        def _send_chunked_cut(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = reply.body[: len(reply.body) // 2]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))  # no terminating 0-chunk
            self.wfile.flush()
            self.close_connection = True

    return Handler


def pubmed_tree(prefix: str = "/pubmed") -> dict[str, bytes]:
    """The fixture baseline and update files (with their real .md5) at NCBI's paths."""
    files = {}
    for folder in ("baseline", "updatefiles"):
        for path in sorted((PUBMED_XML / folder).iterdir()):
            files[f"{prefix}/{folder}/{path.name}"] = path.read_bytes()
    return files


def md5_line(name: str, data: bytes) -> bytes:
    return f"MD5({name})= {hashlib.md5(data).hexdigest()}\n".encode()
