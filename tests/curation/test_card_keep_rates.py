"""The card's curation section on real stage folders: guideline sites named on their parse rows,
and the filter's keep rate and top drop reasons per source, counted from shards and ledgers."""
from __future__ import annotations

import json

from conftest import FIXTURES, REPO
from typer.testing import CliRunner

from curation.card import funnel_table, keep_rate_table
from curation.card_stats import CardStats, stage_funnel
from pipelines.cli import app
from sources.guidelines.store import write_site_file
from sources.guidelines.sites import SITES
from sources.guidelines.store import PageStore

PAGES = {
    "ahrq_ngc": ["ahrq_ngc_synthesis_51014_pharmacological_management_hypertension.html",
                 "ahrq_ngc_commentary_500_request_timed_out_error_page.html"],
    "cdc_pcd": ["cdc_pcd_2024_24_0005_status_of_asthma.html", "cdc_pcd_2024_TOC_listing_page.html"],
}


def cli(*args: str) -> None:
    result = CliRunner().invoke(app, [*args, "--scheduler", "sync"])
    assert result.exit_code == 0, result.output


def test_card_names_sites_and_gives_keep_rates_per_source(tmp_path):
    parsed = []
    for name, pages in PAGES.items():
        site, raw, out = SITES[name], tmp_path / "raw" / name, tmp_path / "parsed" / name
        store = PageStore(raw)
        for page in pages:
            store.save(site.url(f"/recorded/{page}"), "page", 200, "text/html", (FIXTURES / "guidelines_html" / page).read_bytes())
        write_site_file(raw, site)
        cli("guidelines", "parse", str(raw), "--site", name, "--out", str(out))
        parsed.append(out)
    cli("pubmed", "parse", str(FIXTURES / "pubmed_xml"), "--out", str(tmp_path / "parsed" / "pubmed"))
    parsed.append(tmp_path / "parsed" / "pubmed")
    filtered = tmp_path / "filtered"
    cli("filter", *map(str, parsed), "--out", str(filtered), "--params", str(REPO / "params.yaml"))

    funnel = [stage_funnel(folder) for folder in [*parsed, filtered]]
    stats = CardStats([], {}, {}, {}, {}, funnel, [])
    table = funnel_table(stats)
    assert "| `guidelines.parse` (ahrq_ngc) | 2 | 1 | 1 |" in table and "`error_page` 1" in table
    assert "| `guidelines.parse` (cdc_pcd) | 2 | 1 | 1 |" in table and "`listing_page` 1" in table

    rates = keep_rate_table(stats)
    by_source = json.loads((filtered / "stats.json").read_text())["by_source"]
    assert set(by_source) == {"guidelines/ahrq_ngc", "guidelines/cdc", "pubmed"}
    for source, counts in by_source.items():
        reasons = sorted(counts["dropped"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        cell = ", ".join(f"`{code}` {n:,}" for code, n in reasons) or "-"
        row = f"| {source} | {counts['in']:,} | {counts['out']:,} | {counts['out'] / counts['in']:.1%} | {cell} |"
        assert row in rates, (row, rates)
    # The guideline pages that parsing kept are guidelines, not junk: the filter keeps them all.
    assert by_source["guidelines/ahrq_ngc"]["out"] == 1 and by_source["guidelines/cdc"]["out"] == 1
