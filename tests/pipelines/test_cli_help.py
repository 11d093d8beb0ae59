"""Help pages and run summaries: what a user reads before and after a run."""
import typer
from conftest import REPO
from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()
JATS = REPO.parent / "shared" / "fixtures" / "pmc_jats" / "PMC1790863_plos-one_pone.0000217.nxml"


def command_paths(command, path=()) -> list[tuple[str, ...]]:
    """Every command and group of the app, as the words that reach it."""
    found = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += command_paths(sub, (*path, name))
    return found


def test_every_help_page_renders_and_shows_flags_as_flags():
    paths = command_paths(typer.main.get_command(app))
    assert ("pubmed", "search") in paths and len(paths) > 15
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output[-500:])
        assert "<bool>" not in result.output, path
        assert "--help" in result.output and "Show this message and exit." in result.output


def test_brackets_in_help_are_shown_as_written():
    search = runner.invoke(app, ["pubmed", "search", "--help"])
    assert search.exit_code == 0 and "YYYY[/MM[/DD]] publication date from" in search.output
    parse = runner.invoke(app, ["pmc", "parse", "--help"])
    flat = " ".join(parse.output.split())
    assert "[params: pmc.parse.citations]" in flat and "[params: run.workers; default: cores]" in flat


def test_a_run_with_a_bad_input_says_why(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "good.nxml").write_bytes(JATS.read_bytes())
    (inputs / "truncated.nxml").write_bytes(JATS.read_bytes()[:5000])
    result = runner.invoke(app, ["pmc", "parse", str(inputs), "--out", str(tmp_path / "out"), "--scheduler", "sync"])
    assert result.exit_code == 0, result.output
    assert "(1 read, 1 in the error ledger)" in result.output
    reason = [line for line in result.output.splitlines() if "truncated.nxml" in line]
    assert len(reason) == 1 and str(inputs / "truncated.nxml") + ": " in reason[0], result.output
    assert "XML" in reason[0] or "xml" in reason[0], reason
