"""The raw store's shared manifest and atomic writes (sources.raw_store)."""
import json

import pytest

from sources.raw_store import append_manifest, read_manifest, write_atomic, write_manifest

ENTRIES = [{"url": "https://b.example/2", "path": "b/é", "size": 3, "etag": None},
           {"url": "https://a.example/1", "path": None, "error": "über", "md5_ok": False}]


def test_written_manifest_is_sorted_by_url_with_sorted_keys_and_utf8(tmp_path):
    path = tmp_path / "manifest.jsonl"
    write_manifest(path, ENTRIES)
    expected = "".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in reversed(ENTRIES))
    assert path.read_bytes() == expected.encode("utf-8")
    assert read_manifest(path) == list(reversed(ENTRIES))


def test_identical_manifest_is_not_rewritten(tmp_path):
    path = tmp_path / "manifest.jsonl"
    write_manifest(path, ENTRIES)
    before = path.stat().st_mtime_ns
    write_manifest(path, list(reversed(ENTRIES)))
    assert path.stat().st_mtime_ns == before
    assert not list(tmp_path.glob("*.tmp"))


def test_appended_manifest_skips_a_torn_last_line_only_when_asked(tmp_path):
    path = tmp_path / "store" / "manifest.jsonl"
    for entry in ENTRIES:
        append_manifest(path, entry)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('[1]\n{"url": "https://c.example/3", "do')
    assert read_manifest(path, skip_unreadable=True) == ENTRIES
    with pytest.raises(ValueError):
        read_manifest(path)


def test_atomic_write_creates_folders_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a" / "b" / "file.xml"
    write_atomic(target, b"<x/>")
    assert target.read_bytes() == b"<x/>" and list(target.parent.iterdir()) == [target]
    assert read_manifest(tmp_path / "missing.jsonl") == []


def test_no_manifest_writer_stores_a_registered_secret(tmp_path):
    """An entry may quote a remote that echoed the API key: both writers mask the key's value, and
    only it (a page URL's own `key=` parameter is data)."""
    from sources.redaction import register_secret

    secret = "manifest-secret-0123456789"
    register_secret(secret)
    entry = {"url": "https://a.example/page?key=1", "error": f"answered <{secret}>: Key%20{secret}"}
    write_manifest(tmp_path / "written.jsonl", [entry])
    append_manifest(tmp_path / "appended.jsonl", entry)
    for name in ("written.jsonl", "appended.jsonl"):
        (stored,) = read_manifest(tmp_path / name)
        assert stored == {"url": "https://a.example/page?key=1", "error": "answered <REDACTED>: Key%20REDACTED"}
