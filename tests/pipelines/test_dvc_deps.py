"""dvc.yaml follows the code: every project module a stage imports is among its deps, the guideline
sites are listed once, and a sync that changes nothing changes no byte of what pmc_fetch outputs."""
import importlib.util
import json

import yaml
from conftest import REPO, SHARED
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.demo_server import pmc_tree, serve_in_thread

spec = importlib.util.spec_from_file_location("stage_deps", REPO / "scripts" / "stage_deps.py")
stage_deps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stage_deps)
DVC_TEXT = (REPO / "dvc.yaml").read_text(encoding="utf-8")


def test_every_stage_depends_on_the_modules_it_imports():
    dvc = yaml.safe_load(DVC_TEXT)
    checked = [name for name, _, _ in stage_deps.checked_stages(dvc)]
    assert {"pubmed_parse", "pmc_parse", "guidelines_parse", "replay", "filter", "dedup", "tokenizer", "mix", "train"} == set(checked)
    assert stage_deps.missing_deps(dvc) == {}


def test_the_check_names_a_module_missing_from_a_stage():
    # pubmed_parse's deps as they were: the shared XML text helper and the library's writers missing.
    before = "deps: [data/raw/pubmed, sources/pubmed, sources/safe_xml.py, sources/safe_io.py, pipelines/stages/pubmed_parse.py, curation/schema.py]"
    start = DVC_TEXT.index("  pubmed_parse:\n")
    end = DVC_TEXT.index("]", DVC_TEXT.index("deps: [", start)) + 1
    stale = yaml.safe_load(DVC_TEXT[:DVC_TEXT.index("deps: [", start)] + before + DVC_TEXT[end:])
    missing = stage_deps.missing_deps(stale)
    assert list(missing) == ["pubmed_parse"]
    assert {"sources/xml_text.py", "curation/shards.py", "curation/task_output.py", "pipelines/runner.py"} <= set(missing["pubmed_parse"])


def test_imports_are_followed_into_functions_and_packages():
    files = stage_deps.code_files(yaml.safe_load(DVC_TEXT)["stages"]["filter"])
    names = {p.relative_to(REPO).as_posix() for p in files}
    # The command imports its stage inside the function; the stage reaches the word counter.
    assert {"pipelines/commands/curate.py", "pipelines/stages/filter.py", "curation/stats.py", "curation/filters/c4.py"} <= names
    assert not any(n.startswith(("curation/dedup", "pipelines/stages/dedup")) for n in names)  # dedup's command is beside it, not in it
    assert stage_deps.as_deps(files) == [d for d in yaml.safe_load(DVC_TEXT)["stages"]["filter"]["deps"] if stage_deps.is_code(d)]


def test_the_guideline_sites_are_written_once():
    sites = yaml.safe_load((REPO / "params.yaml").read_text())["guidelines"]["sites"]
    assert sites and not any(site in DVC_TEXT for site in sites)
    stages = yaml.safe_load(DVC_TEXT)["stages"]
    assert stages["guidelines_fetch"]["foreach"] == stages["guidelines_parse"]["foreach"] == "${guidelines.sites}"


def test_a_sync_that_changes_nothing_leaves_the_pmc_fetch_output_as_it_was(tmp_path):
    out = yaml.safe_load(DVC_TEXT)["stages"]["pmc_fetch"]["outs"]
    assert [list(o)[0] for o in out] == ["data/raw/pmc/articles"]
    server, base = serve_in_thread(pmc_tree(SHARED))
    raw = tmp_path / "raw"
    try:
        def sync() -> tuple[dict, str]:
            result = CliRunner().invoke(app, ["pmc", "fetch", "--base-url", f"{base}/pmc-oa-opendata", "--out", str(raw)])
            assert result.exit_code == 0, result.output
            articles = {p.relative_to(raw).as_posix(): p.read_bytes() for p in sorted((raw / "articles").rglob("*")) if p.is_file()}
            return articles, (raw / "sync.json").read_text()
        (first, first_state), (second, second_state) = sync(), sync()
    finally:
        server.shutdown()
    assert len(first) > 5 and first == second
    # What DVC no longer tracks is what changes on every sync.
    assert json.loads(first_state)["synced_at"] <= json.loads(second_state)["synced_at"]
