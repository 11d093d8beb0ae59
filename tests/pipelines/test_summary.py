"""`medcurate summary` reads the stages' metrics files of a real run."""
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
