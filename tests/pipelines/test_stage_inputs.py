"""A folder of stage folders (data/parsed/guidelines/<site>) stands for each of them."""
import json
import os

import pytest
from conftest import FIXTURES

from curation import storage
from pipelines.executor import Executor
from pipelines.stages import filter as filter_stage
from pipelines.stages import pubmed_parse
from pipelines.stages.inputs import NoInputsError, stage_folders, stage_shards, unchanged


def test_a_folder_of_stage_folders_is_read_as_each_of_them(tmp_path):
    parent = tmp_path / "parsed"
    with Executor(scheduler="sync") as executor:
        for name in ("b_site", "a_site"):
            pubmed_parse.run([FIXTURES / "pubmed_xml"], parent / name, executor, 1 << 20)
        (parent / "notes").mkdir()  # not a stage folder: no stats.json
        assert stage_folders([parent]) == [str(parent / "a_site"), str(parent / "b_site")]
        assert stage_shards([parent]) == stage_shards([parent / "a_site", parent / "b_site"]) != []
        filter_stage.run([parent], tmp_path / "filtered", filter_stage.FilterSettings(), executor, 1 << 20)
    stats = json.loads((tmp_path / "filtered" / "stats.json").read_text())
    single = json.loads((parent / "a_site" / "stats.json").read_text())
    assert stats["documents_in"] == 2 * single["documents_out"]
    with pytest.raises(NoInputsError, match="input not found"):
        stage_folders([tmp_path / "nope"])


def test_a_parse_refuses_a_raw_store_url_with_a_one_line_reason(tmp_path):
    """Raw stores are local: `s3://bucket/articles` was read as the relative path `s3:/bucket/articles`."""
    from pipelines.stages.inputs import expand_inputs

    with pytest.raises(NoInputsError, match=r"input s3://bucket/articles: a parse reads raw files from a local path, not a URL"):
        expand_inputs(["s3://bucket/articles"], lambda path: True)
    assert expand_inputs([f"file://{FIXTURES / 'pubmed_xml' / 'baseline'}"], lambda path: path.name.endswith(".gz")) == [
        FIXTURES / "pubmed_xml" / "baseline" / "pubmed26n1334.xml.gz"]


def test_a_shard_rewritten_or_gone_during_a_pass_stops_the_stage(tmp_path):
    """`unchanged` checks a planned shard before and after a pass reads it: a file written anew
    (another modification time) or deleted meanwhile is a RuntimeError naming it."""
    shard = tmp_path / "part-00000-0000.parquet"
    shard.write_bytes(b"version one")
    planned = storage.identity(str(shard))
    with unchanged([str(shard)], [planned], "mix"):
        pass  # nothing changed: no error
    with pytest.raises(RuntimeError, match=r"part-00000-0000.parquet: changed while mix ran .* run mix again"):
        with unchanged([str(shard)], [planned], "mix"):
            fresh = tmp_path / "next.tmp"
            fresh.write_bytes(b"version two")
            os.utime(fresh, ns=(planned[1] + 1, planned[1] + 1))
            fresh.replace(shard)
    shard.unlink()
    with pytest.raises(RuntimeError, match=r"changed while dedup ran .*None now"):
        with unchanged([str(shard)], [planned], "dedup"):
            pass
