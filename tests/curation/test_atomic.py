"""Atomic writes: a write that fails leaves neither a final file nor its temporary one."""
import json

import pytest

from curation.atomic import TMP_SUFFIX, atomic_file, write_json_atomic


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "sub" / "stats.json"
    write_json_atomic(path, {"documents_in": 3})
    with pytest.raises(RuntimeError):
        with atomic_file(path) as handle:
            handle.write(b'{"documents_in": ')
            raise RuntimeError("killed halfway")
    assert json.loads(path.read_text()) == {"documents_in": 3}
    assert sorted(p.name for p in path.parent.iterdir()) == ["stats.json"]
    assert not path.with_name(path.name + TMP_SUFFIX).exists()


def test_layering_the_library_does_not_reach_into_stage_output_for_its_writers():
    # sources/ writes raw stores with the same writers; it must not need curation.task_output.
    import ast
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    for path in sorted((repo / "sources").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "curation.task_output", path
