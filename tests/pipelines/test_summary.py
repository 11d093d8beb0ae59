"""`medcurate summary` reads the stages' metrics files of a real run."""
import json

from typer.testing import CliRunner

from conftest import FIXTURES
from pipelines.cli import app


def test_summary_lists_each_stage_with_its_counts(tmp_path):
    runner = CliRunner()
    out, metrics = tmp_path / "parsed", tmp_path / "metrics"
    parsed = runner.invoke(app, ["pubmed", "parse", str(FIXTURES / "pubmed_xml"), "--out", str(out),
                                 "--scheduler", "sync", "--metrics", str(metrics / "pubmed_parse.json")])
    assert parsed.exit_code == 0, parsed.output
    result = runner.invoke(app, ["summary", "--metrics", str(metrics)])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if l.startswith("pubmed_parse"))
    documents_in, documents_out, ledgered = (int(x.replace(",", "")) for x in line.split()[1:4])
    assert documents_in == documents_out + ledgered and "no_abstract" in line
    missing = runner.invoke(app, ["summary", "--metrics", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "no metrics folder" in missing.output


def test_summary_gives_the_filters_keep_rate_and_top_reasons_per_source(tmp_path):
    runner = CliRunner()
    parsed, filtered, metrics = tmp_path / "parsed", tmp_path / "filtered", tmp_path / "metrics"
    for args in (["pubmed", "parse", str(FIXTURES / "pubmed_xml"), "--out", str(parsed)],
                 ["filter", str(parsed), "--out", str(filtered), "--metrics", str(metrics / "filter.json")]):
        result = runner.invoke(app, [*args, "--scheduler", "sync"])
        assert result.exit_code == 0, result.output
    by_source = json.loads((metrics / "filter.json").read_text())["by_source"]["pubmed"]
    assert by_source["dropped"], "the fixtures hold abstracts the filter drops"
    output = runner.invoke(app, ["summary", "--metrics", str(metrics)]).output
    lines = output.splitlines()
    row = lines[lines.index(next(l for l in lines if l.startswith("filter, per source"))) + 1].split()
    assert row[0] == "pubmed"
    assert [int(row[1]), int(row[2])] == [by_source["in"], by_source["out"]] and by_source["in"] == by_source["out"] + sum(by_source["dropped"].values())
    assert row[3] == f"{by_source['out'] / by_source['in']:.1%}"
    top_reason = max(sorted(by_source["dropped"]), key=by_source["dropped"].get)
    assert f"{top_reason} {by_source['dropped'][top_reason]}" in " ".join(row[4:])
