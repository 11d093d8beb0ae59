"""`medcurate guidelines fetch|parse` end to end on the demo site tree, and the error ledger."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SHARED
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.demo_server import Entry, guidelines_tree, serve_in_thread
from sources.guidelines.sites import SITES
from sources.guidelines.store import PageStore, write_site_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources"))
from guideline_site import minimal_pdf

runner = CliRunner()


def table(folder: Path):
    files = sorted(folder.glob("*.parquet"))
    return pq.read_table(files).to_pylist() if files else []


@pytest.fixture(scope="module")
def demo():
    tree = guidelines_tree(SHARED)
    tree["/robots.txt"] = Entry(b"User-agent: *\nCrawl-delay: 0.02\n", 0.0, "text/plain")  # fast for tests
    server, base = serve_in_thread(tree)
    yield base
    server.shutdown()


def cli(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def test_fetch_and_parse_every_recorded_page(demo, tmp_path):
    docs, ledger = [], []
    for site in ("cdc_mmwr", "cdc_pcd", "ahrq_ngc"):
        raw, out = tmp_path / "raw" / site, tmp_path / "parsed" / site
        cli("guidelines", "fetch", "--site", site, "--base-url", f"{demo}/guidelines/{site}", "--out", str(raw),
            "--rate", "50")
        cli("guidelines", "parse", str(raw), "--site", site, "--out", str(out), "--scheduler", "sync")
        stats = json.loads((out / "stats.json").read_text())
        assert stats["documents_in"] == stats["documents_out"] + stats["ledgered"]
        assert stats["input_errors"] == 0
        docs += table(out)
        ledger += table(out / "ledger")
    kept = {d["title"] for d in docs}
    assert kept == {
        "Update: Investigation of Bioterrorism-Related Anthrax and Interim Guidelines for Exposure Management and Antimicrobial Therapy, October 2001",
        "Update: Investigation of Bioterrorism-Related Anthrax and Interim Guidelines for Clinical Evaluation of Persons with Possible Anthrax",
        "Guidelines for Surveillance, Prevention, and Control of West Nile Virus Infection -- United States",
        "The Status of Asthma in the United States",
        "Pharmacological Management of Hypertension",
    }
    assert all(d["url"].startswith(("https://www.cdc.gov/", "https://www.guideline.gov/")) for d in docs)
    reasons = {(row["url"].rsplit("/", 1)[-1], row["reason"]) for row in ledger}
    # The table of contents, stored as a page, is caught by its content; the listing pages the
    # crawler fetched to find links are ledgered too (every stored page is accounted for).
    assert ("24_0000.htm", "listing_page") in reasons and ("index.htm", "listing_page") in reasons
    assert ("recommendations-for-initiating-antiretroviral-therapy.htm", "error_page") in reasons
    assert {r for _, r in reasons} == {"listing_page", "error_page"}


def test_fetch_failures_and_malformed_pdf_reach_the_error_ledger(tmp_path):
    site = SITES["cdc_stacks"]
    raw = tmp_path / "raw"
    write_site_file(raw, site)
    store = PageStore(raw)
    good = ["CDC guidance on testing"] + [f"Recommendation {i}: test adults aged >=65 years and children <5 years yearly." for i in range(60)]
    store.save(site.url("/view/cdc/1/cdc_1_DS1.pdf"), "page", 200, "application/pdf", minimal_pdf(good))
    store.save(site.url("/view/cdc/2/cdc_2_DS1.pdf"), "page", 200, "application/pdf", b"%PDF-1.5\n1 0 obj <</Type")
    store.fail(site.url("/view/cdc/3/cdc_3_DS1.pdf"), "page", "redirect_refused",
               "redirect from https://stacks.cdc.gov/x to https://evil.example/x refused", done=True)
    store.fail(site.url("/view/cdc/4/cdc_4_DS1.pdf"), "page", "too_large", "body larger than 20971520 bytes", done=True)
    out = tmp_path / "parsed"
    cli("guidelines", "parse", str(raw), "--site", "cdc_stacks", "--out", str(out), "--scheduler", "sync")
    errors = {row["input"].rsplit("/", 1)[-1]: row["error"] for row in table(out / "errors")}
    assert set(errors) == {"cdc_2_DS1.pdf", "cdc_3_DS1.pdf", "cdc_4_DS1.pdf"}
    assert "unreadable PDF" in errors["cdc_2_DS1.pdf"]
    assert errors["cdc_3_DS1.pdf"].startswith("redirect_refused:") and "evil.example" in errors["cdc_3_DS1.pdf"]
    assert errors["cdc_4_DS1.pdf"].startswith("too_large:")
    (doc,) = table(out)
    assert doc["source"] == "guidelines/cdc" and "<5 years" in doc["text"]
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["inputs"], stats["inputs_parsed"], stats["input_errors"]) == (4, 1, 3)
    before = {p.name: p.read_bytes() for p in out.rglob("*.parquet")}
    cli("guidelines", "parse", str(raw), "--site", "cdc_stacks", "--out", str(out), "--scheduler", "sync")
    assert {p.name: p.read_bytes() for p in out.rglob("*.parquet")} == before


def test_cli_errors_are_one_line(tmp_path):
    result = runner.invoke(app, ["guidelines", "fetch", "--site", "magic", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "JavaScript" in result.output
    result = runner.invoke(app, ["guidelines", "parse", str(tmp_path), "--site", "nice", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "not a guideline raw store" in result.output
    result = runner.invoke(app, ["guidelines", "list-sites"])
    assert result.exit_code == 0 and "wikidoc" in result.output and "magic" in result.output


def test_the_parse_command_reads_a_store_without_importing_the_http_client(tmp_path):
    """`guidelines parse` reads stored pages only; the HTTP client (requests, sources.http: ~0.05
    CPU-s of start-up) belongs to the fetch. (urllib3 still comes, with trafilatura's courlan.)"""
    import subprocess

    site, raw = SITES["cdc_mmwr"], tmp_path / "raw"
    write_site_file(raw, site)
    page = SHARED / "fixtures" / "guidelines_html" / "cdc_mmwr_2000_v49n02p25_west_nile_virus_guidelines.html"
    PageStore(raw).save(site.url("/mmwr/preview/mmwrhtml/rr4902a1.htm"), "page", 200, "text/html", page.read_bytes())
    code = ("import sys\nfrom pipelines.cli import main\n"
            f"sys.argv = ['medcurate', 'guidelines', 'parse', {str(raw)!r}, '--site', 'cdc_mmwr', '--out', {str(tmp_path / 'out')!r}]\n"
            "try:\n    main()\nexcept SystemExit as end:\n    assert not end.code, end.code\n"
            "print(sorted(m for m in ('requests', 'sources.http', 'sources.guidelines.fetcher') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["documents_out"] == 1
