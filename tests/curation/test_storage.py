"""curation.storage: the same helpers on a local folder and on a real S3 implementation (moto's
server on 127.0.0.1), found through the backend's standard environment or `run.storage_options`."""
import json

import pyarrow as pa
import pytest

from curation import storage
from moto_s3 import moto_s3, s3_env  # noqa: F401  (fixtures)


def _roundtrip(base: str) -> None:
    folder = storage.join(base, "stage")
    assert not storage.exists(folder) and storage.entries(folder) == []
    storage.makedirs(folder)
    storage.write_json(storage.join(folder, "_tasks", "00000.json"), {"b": 1, "a": [2]})
    storage.write_bytes(storage.join(folder, "part-00000-0000.parquet"), b"x")
    table = pa.table({"id": ["a", "b"], "text": ["one", "two"]})
    storage.write_parquet(table, storage.join(folder, "part-00001-0000.parquet"), compression="zstd")
    assert storage.read_text(storage.join(folder, "_tasks", "00000.json")) == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'
    assert storage.read_parquet(storage.join(folder, "part-00001-0000.parquet")).equals(table)
    assert storage.parquet_file(storage.join(folder, "part-00001-0000.parquet")).metadata.num_rows == 2
    assert [storage.name(p) for p in storage.files(folder, "part-*")] == ["part-00000-0000.parquet", "part-00001-0000.parquet"]
    assert [storage.name(p) for p in storage.folders(folder)] == ["_tasks"]
    assert storage.isdir(folder) and storage.isfile(storage.join(folder, "_tasks", "00000.json"))
    # One request for the size of an input: a folder or a missing file has none.
    assert storage.file_size(storage.join(folder, "part-00000-0000.parquet")) == 1
    assert storage.file_size(folder) is None and storage.file_size(storage.join(folder, "missing")) is None
    assert storage.walk_files(folder) == [storage.join(folder, "_tasks", "00000.json")] + storage.files(folder)
    # A write whose body raises leaves nothing under the final name, and keeps the old file.
    target = storage.join(folder, "stats.json")
    storage.write_json(target, {"n": 1})
    with pytest.raises(RuntimeError):
        with storage.open_write(target) as handle:
            handle.write(b'{"n": ')
            raise RuntimeError("killed halfway")
    with pytest.raises(RuntimeError):
        with storage.open_write(storage.join(folder, "never.json")) as handle:
            handle.write(b"{")
            raise RuntimeError("killed halfway")
    assert json.loads(storage.read_text(target)) == {"n": 1} and not storage.exists(storage.join(folder, "never.json"))
    assert [storage.name(p) for p in storage.files(folder, "*.json")] == ["stats.json"]
    storage.remove(storage.join(folder, "part-00000-0000.parquet"))
    storage.remove(storage.join(folder, "part-00000-0000.parquet"))  # already gone: fine
    assert [storage.name(p) for p in storage.files(folder, "part-*")] == ["part-00001-0000.parquet"]
    storage.remove_tree(folder)
    assert not storage.exists(storage.join(folder, "stats.json")) and storage.files(folder) == []


def test_local_paths_and_file_urls(tmp_path):
    _roundtrip(str(tmp_path))
    _roundtrip(f"file://{tmp_path}/viaurl")
    assert storage.join(f"file://{tmp_path}", "a") == str(tmp_path / "a")


def test_s3_through_the_standard_environment(s3_env):
    _roundtrip(s3_env + "/prefix")
    assert storage.join(s3_env + "/", "x", "y") == s3_env + "/x/y"


def test_s3_through_storage_options(s3_env, monkeypatch):
    # Only params' storage_options say where the server is (and with which keys).
    endpoint = storage.os.environ["AWS_ENDPOINT_URL"]
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    storage.configure({"s3": {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}})
    try:
        _roundtrip(s3_env + "/opts")
    finally:
        storage.configure(None)


def test_protocols_and_names():
    assert storage.protocol("data/x") == "file" and storage.protocol("file:///tmp/x") == "file"
    assert storage.protocol("s3://b/k") == "s3" and storage.protocol("gs://b/k") == "gs"
    assert storage.protocol("C:\\data") == "file"
    assert storage.name("s3://b/k/part-1.parquet") == "part-1.parquet" and storage.parent("s3://b/k/x") == "s3://b/k"


def _read_across_a_replacement(location: str, size: int) -> bytes:
    """The last MiB of `location`, read through the handle opened before a writer replaced it."""
    storage.write_bytes(location, b"a" * size)
    with storage.open_read(location) as handle:
        handle.read(1 << 20)
        storage.write_bytes(location, b"b" * size)  # a rename locally, a new object on S3
        handle.seek(size - (1 << 20))
        return handle.read()


def test_a_handle_reads_the_file_it_opened_or_fails_never_its_replacement(tmp_path, s3_env):
    """What a stage that reads a file through one handle relies on (sources/snapshot.py): locally
    the old inode's bytes; on S3, s3fs asks for the ETag it opened (If-Match), so past what it has
    cached a replaced object is an OSError (FileExpired), never the new object's bytes."""
    assert set(_read_across_a_replacement(str(tmp_path / "shard.bin"), 4 << 20)) == {ord("a")}
    with pytest.raises(OSError, match="no longer exists"):
        _read_across_a_replacement(s3_env + "/shard.bin", 70 << 20)  # past s3fs's 50 MiB read-ahead
