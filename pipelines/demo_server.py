"""A local HTTP server that replays the real sample data in ../shared laid out like NCBI's tree.

The demo and the tests point the pipeline's sources at it, so the live code paths run (listing
pages, checksums, ranges, conditional requests) without the internet:

    /pubmed/baseline/      index page + ../shared/fixtures/pubmed_xml/baseline/* and the
                           baseline-like files of ../shared/corpora/pubmed_xml/*.xml.gz
    /pubmed/updatefiles/   index page + ../shared/fixtures/pubmed_xml/updatefiles/*
    /pmc-oa-opendata/      the PMC Cloud Service bucket: PMC<n>.<v>/ folders, metadata/, a daily
                           inventory, and ListObjectsV2 answers (`?list-type=2`); see demo_bucket.py

A data file without a published .md5 gets one computed here, in NCBI's format.
Usage: python -m pipelines.demo_server [--shared ../shared] [--port N | --params params.yaml]
"""
from __future__ import annotations

import argparse
import email.utils
import hashlib
import html
from html import escape as html_escape
import os
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from pipelines.demo_bucket import list_objects_v2

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared"


@dataclass(frozen=True)
class Entry:
    data: bytes
    mtime: float
    ctype: str = "application/octet-stream"  # crawled sites need text/html, text/plain, ...


def _md5_line(name: str, data: bytes) -> bytes:
    return f"MD5({name})= {hashlib.md5(data).hexdigest()}\n".encode()


def _add_folder(tree: dict[str, Entry], prefix: str, files: list[Path]) -> None:
    for path in sorted(files):
        data = path.read_bytes()
        tree[f"{prefix}{path.name}"] = Entry(data, path.stat().st_mtime)
        published = path.with_name(path.name + ".md5")
        if published.is_file():
            tree[f"{prefix}{published.name}"] = Entry(published.read_bytes(), published.stat().st_mtime)
        else:
            tree[f"{prefix}{path.name}.md5"] = Entry(_md5_line(path.name, data), path.stat().st_mtime)


def pubmed_tree(shared: Path = DEFAULT_SHARED) -> dict[str, Entry]:
    """Virtual path -> bytes for the PubMed part of the sample tree."""
    fixtures, corpora = shared / "fixtures" / "pubmed_xml", shared / "corpora" / "pubmed_xml"
    tree: dict[str, Entry] = {}
    baseline = list((fixtures / "baseline").glob("*.xml.gz")) + list(corpora.rglob("*.xml.gz"))
    _add_folder(tree, "/pubmed/baseline/", baseline)
    _add_folder(tree, "/pubmed/updatefiles/", list((fixtures / "updatefiles").glob("*.xml.gz")))
    return tree


def pmc_tree(shared: Path = DEFAULT_SHARED) -> dict[str, Entry]:
    """Virtual path -> bytes of the demo PMC bucket (pipelines/demo_bucket.py)."""
    from pipelines.demo_bucket import bucket_objects

    return bucket_tree(bucket_objects(shared))


def bucket_tree(objects: dict[str, bytes], bucket: str = "pmc-oa-opendata") -> dict[str, Entry]:
    """Bucket objects as served paths `/<bucket>/<key>`."""
    ctypes = {".xml": "application/xml", ".json": "application/json"}
    return {f"/{bucket}/{key}": Entry(data, 0.0, ctypes.get(Path(key).suffix, "application/octet-stream"))
            for key, data in objects.items()}


def guidelines_tree(shared: Path = DEFAULT_SHARED) -> dict[str, Entry]:
    """Guideline sites from ../shared/fixtures/guidelines_html, each under /guidelines/<site>/.

    Each site gets listing pages that link the recorded pages at paths of the live site's shape,
    so `medcurate guidelines fetch --site NAME --base-url http://HOST/guidelines/NAME` crawls them
    (robots.txt at the root asks for a one-second crawl delay, as a real site might).
    """
    pages = shared / "fixtures" / "guidelines_html"
    html = "text/html; charset=utf-8"
    sites = {  # site -> {path under the site: fixture file, or a listing's links}
        "cdc_mmwr": {
            "/mmwr/mmwr_rr/rr_pvol.html": ["/mmwr/indrr_2001.html", "/mmwr/indrr_2000.html"],
            "/mmwr/indrr_2001.html": ["/mmwr/preview/mmwrhtml/mm5042a1.htm", "/mmwr/preview/mmwrhtml/mm5043a1.htm"],
            "/mmwr/indrr_2000.html": ["/mmwr/preview/mmwrhtml/mm4902a1.htm"],
            "/mmwr/preview/mmwrhtml/mm5042a1.htm": "cdc_mmwr_2001_v50n42p909_anthrax_interim_guidelines_exposure_antimicrobial.html",
            "/mmwr/preview/mmwrhtml/mm5043a1.htm": "cdc_mmwr_2001_v50n43p941_anthrax_interim_guidelines_clinical_evaluation.html",
            "/mmwr/preview/mmwrhtml/mm4902a1.htm": "cdc_mmwr_2000_v49n02p25_west_nile_virus_guidelines.html",
        },
        "cdc_pcd": {
            # The recorded table of contents sits at an article-shaped URL, as when a site reuses
            # a template: the crawler stores it as a page and the parse stage must still ledger it.
            "/pcd/issues/index.htm": ["/pcd/issues/2024/24_0000.htm", "/pcd/issues/2024/24_0005.htm"],
            "/pcd/issues/2024/24_0000.htm": "cdc_pcd_2024_TOC_listing_page.html",
            "/pcd/issues/2024/24_0005.htm": "cdc_pcd_2024_24_0005_status_of_asthma.html",
        },
        "ahrq_ngc": {
            "/syntheses/index": ["/syntheses/cardiology/51014.htm",
                                 "/commentaries/recommendations-for-initiating-antiretroviral-therapy.htm"],
            "/summaries/index": [],
            "/syntheses/cardiology/51014.htm": "ahrq_ngc_synthesis_51014_pharmacological_management_hypertension.html",
            "/commentaries/recommendations-for-initiating-antiretroviral-therapy.htm":
                "ahrq_ngc_commentary_500_request_timed_out_error_page.html",
        },
    }
    tree = {"/robots.txt": Entry(b"User-agent: *\nDisallow: /guidelines/private/\nCrawl-delay: 1\n", 0.0, "text/plain")}
    for site, routes in sites.items():
        prefix = f"/guidelines/{site}"
        for path, target in routes.items():
            if isinstance(target, list):
                links = "".join(f'<li><a href="{prefix}{link}">{html_escape(link)}</a></li>' for link in target)
                body = f"<html><head><title>Index</title></head><body><ul>{links}</ul></body></html>".encode()
                tree[prefix + path] = Entry(body, 0.0, html)
            else:
                source = pages / target
                tree[prefix + path] = Entry(source.read_bytes(), source.stat().st_mtime, html)
    return tree


def index_page(tree: dict[str, Entry], folder: str) -> bytes | None:
    """An Apache-style listing like NCBI's FTP-over-HTTPS pages; None when nothing is there."""
    names = sorted(p[len(folder):] for p in tree if p.startswith(folder) and "/" not in p[len(folder):])
    if not names:
        return None
    rows = []
    for name in names:
        entry = tree[folder + name]
        stamp = email.utils.formatdate(entry.mtime, usegmt=True)
        rows.append(f'<a href="{html.escape(name)}">{html.escape(name)}</a>  {stamp}  {len(entry.data)}')
    title = f"Index of {html.escape(folder.rstrip('/'))}"
    body = "\n".join(rows)
    return (
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1>\n"
        f'<pre>Name  Last modified  Size<hr><a href="../">Parent Directory</a>\n{body}\n<hr></pre></body></html>\n'
    ).encode()


class TreeHandler(BaseHTTPRequestHandler):
    tree: dict[str, Entry] = {}
    delay: float = 0.0  # seconds before each answer: a stand-in for network latency (benchmarks)
    server_version = "medcurate-demo/1"

    def log_message(self, format: str, *args: object) -> None:  # quiet: the client logs what matters
        pass

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        if self.delay:
            time.sleep(self.delay)
        parts = urlsplit(self.path)
        path = parts.path
        query = dict(parse_qsl(parts.query))
        if path.endswith("/") and query.get("list-type") == "2":  # S3 ListObjectsV2 over this folder
            objects = {p[len(path):]: e.data for p, e in self.tree.items() if p.startswith(path)}
            return self._send(200, list_objects_v2(objects, query), "application/xml", head)
        if path.endswith("/"):
            page = index_page(self.tree, path)
            if page is None:
                return self._send(404, b"not found\n", "text/plain", head)
            return self._send(200, page, "text/html", head)
        entry = self.tree.get(path)
        if entry is None:
            return self._send(404, b"not found\n", "text/plain", head)
        etag = '"' + hashlib.md5(entry.data).hexdigest() + '"'  # as S3 states it (single-part objects)
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, b"", None, head, etag=etag)
        data, status, extra = entry.data, 200, {}
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and self.headers.get("If-Range", etag) == etag:
            start = int(wanted[6:].split("-", 1)[0] or 0)
            if start >= len(data):
                return self._send(416, b"", None, head, extra={"Content-Range": f"bytes */{len(data)}"})
            extra["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            data, status = data[start:], 206
        extra["Last-Modified"] = email.utils.formatdate(entry.mtime, usegmt=True)
        extra["Accept-Ranges"] = "bytes"
        self._send(status, data, entry.ctype, head, etag=etag, extra=extra)

    def _send(self, status: int, body: bytes, ctype: str | None, head: bool, etag: str | None = None, extra: dict | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        if etag:
            self.send_header("ETag", etag)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


def make_server(tree: dict[str, Entry], port: int = 0, host: str = "127.0.0.1", delay: float = 0.0) -> ThreadingHTTPServer:
    handler = type("Handler", (TreeHandler,), {"tree": tree, "delay": delay})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(tree: dict[str, Entry], port: int = 0, delay: float = 0.0) -> tuple[ThreadingHTTPServer, str]:
    """Start a server in a daemon thread; returns it and its base URL (tests, benchmarks)."""
    server = make_server(tree, port, delay=delay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _port_from_params(params_file: Path) -> int:
    from pipelines.params import load_params, param

    url = param(load_params(params_file), "pubmed.base_url")
    port = urlsplit(url or "").port
    if not port or urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"demo_server: pubmed.base_url in {params_file} is not a local URL with a port: {url!r}")
    return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared data folder")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--port", type=int, help="port on 127.0.0.1")
    group.add_argument("--params", type=Path, help="take the port from pubmed.base_url in this params file")
    args = parser.parse_args()
    if not args.shared.is_dir():
        raise SystemExit(f"demo_server: shared data folder not found: {args.shared}")
    port = args.port if args.port is not None else _port_from_params(args.params or Path("params.yaml"))
    server = make_server({**pubmed_tree(args.shared), **pmc_tree(args.shared), **guidelines_tree(args.shared)}, port)
    print(f"demo_server: serving {args.shared} on http://127.0.0.1:{server.server_address[1]} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
