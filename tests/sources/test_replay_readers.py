"""Replay readers on the real general-English corpora, and bad replay input in the replay stage."""
import gzip
import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import CORPORA
from curation.schema import DOCUMENT_SCHEMA, ERROR_SCHEMA, LEDGER_SCHEMA
from curation.shards import list_shards, read_table
from pipelines.executor import Executor
from pipelines.stages import replay as replay_stage
from sources.replay import newsgroups, records, reuters
from sources.replay.document import BadRecord, Skipped
from sources.errors import InputError
from sources.replay.spec import ReplaySource
from hostile_tar import gnu_sparse_member

REUTERS = CORPORA / "general_english" / "reuters21578"
NEWSGROUPS = CORPORA / "general_english" / "20ng_bydate.tar.gz"


def test_reuters_file_with_non_utf8_bytes_reads_every_story():
    items = list(reuters.iter_file(REUTERS / "reut2-017.sgm", "reuters", "other"))
    docs = [i for i in items if isinstance(i, dict)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert len(docs) + len(skipped) == 1000 and not any(isinstance(i, BadRecord) for i in items)
    assert {s.reason for s in skipped} == {"no_body"}
    assert len({d["id"] for d in docs}) == len(docs) and all(d["id"].startswith("replay/reuters:") for d in docs)
    # The one story holding a byte that is not UTF-8 decodes (cp1252) instead of failing the file.
    odd = [d for d in docs if json.loads(d["meta"])["encoding"] != "utf-8"]
    assert [d["id"] for d in odd] == ["replay/reuters:17980"]
    for doc in docs:
        assert "&lt;" not in doc["text"] and "&#" not in doc["text"] and "\x03" not in doc["text"]
        assert not doc["text"].rstrip().endswith("Reuter")  # the sign-off is not training text
        assert doc["source"] == "replay/reuters" and doc["subset"] == "replay" and doc["license"] == "other"
    first = next(d for d in docs if d["id"] == "replay/reuters:17001")
    assert first["text"].startswith("IBC COFFEE AUCTIONS TO START SOON - DAUSTER\n\nThe Brazilian Coffee Institute")
    assert first["date"] == "1987-04-21"


@pytest.fixture(scope="module")
def posts() -> list:
    return list(newsgroups.iter_file(NEWSGROUPS, "newsgroups", "other"))


def test_newsgroups_posts_lose_headers_quotes_and_signatures(posts):
    docs = {d["id"]: d for d in posts if isinstance(d, dict)}
    assert len(posts) == 18846 and not any(isinstance(p, BadRecord) for p in posts)
    assert all(isinstance(p, dict) or p.reason == "empty_after_cleaning" for p in posts)
    for doc in docs.values():
        lines = doc["text"].split("\n")
        assert not any(line.lstrip().startswith(">") for line in lines[1:])  # line 0: the subject
        assert not any(line.startswith(("From: ", "Lines: ", "Organization: ", "Path: ")) for line in lines[1:])
    post = docs["replay/newsgroups:20news-bydate-train/sci.med/58045"]
    assert post["title"] == "Breech Baby Info Needed"  # "Re:" removed from the subject
    assert "In article" not in post["text"] and "terrified of the birth process" not in post["text"]  # quoted
    assert "They aren't designed, they evolved." in post["text"]  # the author's own words stay


def test_newsgroups_signature_after_the_delimiter_is_dropped():
    post = "From: a@b.c\nSubject: Re: aspirin\n\nI take it daily.\n> quoted\nsome more of mine\n-- \nJohn Doe | a@b.c\nphone 555\n"
    title, body, headers = newsgroups.clean_post(post)
    assert (title, body) == ("aspirin", "I take it daily.\nsome more of mine") and headers["from"] == "a@b.c"


def _truncated_gzip(data: bytes, path: Path) -> Path:
    packed = gzip.compress(data)
    path.write_bytes(packed[: len(packed) // 2])
    return path


def first_posts(count: int) -> bytes:
    """The tar blocks of the real archive's first `count` regular members (no end-of-archive)."""
    out = io.BytesIO()
    with tarfile.open(NEWSGROUPS, "r|gz") as source:
        writer = tarfile.TarFile(fileobj=out, mode="w", format=tarfile.GNU_FORMAT)
        for member in source:
            if member.isfile():
                writer.addfile(member, source.extractfile(member))
                count -= 1
                if not count:
                    return out.getvalue()  # the writer is not closed: no end-of-archive blocks
    raise AssertionError("the archive has fewer posts")


@pytest.mark.parametrize("sparse, error", [
    (gnu_sparse_member(1, cut=100), r"truncated or damaged GNU sparse header \(IndexError"),  # the archive ends here
    (gnu_sparse_member(4096) + b"\0" * 1024, r"GNU sparse map longer than 1048576 bytes"),
])
def test_newsgroups_archive_with_a_hostile_gnu_sparse_member_gives_its_posts_then_one_error(tmp_path, sparse, error):
    """The replay tar reader goes through safe_io.open_tar: ten real posts, then a GNU sparse
    header cut short (plain tarfile: IndexError) or a 2 MiB sparse map: the posts, then an
    InputError naming the archive."""
    path = tmp_path / "news.tar.gz"
    path.write_bytes(gzip.compress(first_posts(10) + sparse, mtime=0))
    items = []
    with pytest.raises(InputError, match=f"^{path}: {error}"):
        for item in newsgroups.iter_file(path, "news", "other"):
            items.append(item)
    assert len(items) == 10 and all(isinstance(i, (dict, Skipped)) for i in items)


def test_bad_replay_input_goes_to_the_error_ledger_and_the_run_goes_on(tmp_path):
    good = tmp_path / "web" / "good.jsonl"
    good.parent.mkdir()
    lines = [
        json.dumps({"id": "a1", "content": "General text about the weather and the economy, long enough."}).encode(),
        b"{this is not json",
        json.dumps({"content": "A record without an id gets a content hash."}).encode(),
        '{"id": "latin", "content": "caf\xe9 au lait"}'.encode("latin-1"),  # claims UTF-8 (JSON), is latin-1
        json.dumps({"id": "empty", "content": "  "}).encode(),
    ]
    good.write_bytes(b"\n".join(lines) + b"\n")
    _truncated_gzip(b"\n".join([json.dumps({"id": str(i), "content": f"document number {i} " * 20}).encode() for i in range(3000)]),
                    tmp_path / "web" / "truncated.jsonl.gz")
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "fake.parquet").write_bytes(b"PAR1 but not really a parquet file")
    pq.write_table(pa.table({"body": ["a parquet record of general text"], "key": ["p1"]}), tmp_path / "tables" / "real.parquet")
    (tmp_path / "news.tar.gz").write_bytes(NEWSGROUPS.read_bytes()[:400_000])  # cut mid-archive
    fields = {"text": "content", "id": "id"}
    sources = [
        ReplaySource.from_params("web", {"format": "jsonl", "path": str(tmp_path / "web"), "fields": fields}),
        ReplaySource.from_params("hfweb", {"format": "hf", "path": "json", "data_files": str(good.with_name("only.jsonl")), "fields": fields}),
        ReplaySource.from_params("tables", {"format": "parquet", "path": str(tmp_path / "tables"), "fields": {"text": "body", "id": "key"}}),
        ReplaySource.from_params("news", {"format": "newsgroups_tar", "path": str(tmp_path / "news.tar.gz")}),
    ]
    (good.with_name("only.jsonl")).write_bytes(lines[0] + b"\n" + lines[2] + b"\n")
    with Executor(scheduler="sync") as executor:
        replay_stage.run(sources, tmp_path / "out", executor, 1 << 20)

    errors = read_table(list_shards(tmp_path / "out" / "errors"), ERROR_SCHEMA).to_pylist()
    by_input = {(Path(e["input"]).name, e["record"]): e["error"] for e in errors}
    assert "not JSON" in by_input[("good.jsonl", "line 2")]
    assert "not UTF-8" in by_input[("good.jsonl", "line 4")]
    assert "truncated gzip" in by_input[("truncated.jsonl.gz", None)]
    assert "not readable as Parquet" in by_input[("fake.parquet", None)]
    assert "news.tar.gz" in {name for name, record in by_input if record is None}
    docs = read_table(list_shards(tmp_path / "out"), DOCUMENT_SCHEMA).to_pylist()
    ids = {d["id"] for d in docs}
    assert {"replay/web:a1", "replay/hfweb:a1", "replay/tables:p1"} <= ids
    assert len([i for i in ids if i.startswith("replay/web:") and len(i.split(":")[1]) == 20]) == 1  # content hash
    assert sum(i.startswith("replay/web:") for i in ids) > 10  # what the truncated gzip held before the cut
    assert sum(i.startswith("replay/news:") for i in ids) > 10  # posts before the archive's cut
    ledger = read_table(list_shards(tmp_path / "out" / "ledger"), LEDGER_SCHEMA).to_pylist()
    assert ("replay/web:empty", "empty_text") in {(r["id"], r["reason"]) for r in ledger}
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["input_errors"] == 3 and stats["record_errors"] == 2
    assert stats["inputs"] == stats["inputs_parsed"] + 3


def test_replay_command_reads_the_sources_of_params(tmp_path):
    from pipelines.cli_common import app
    import pipelines.cli  # noqa: F401  (registers the commands)

    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"replay": {"sources": {
        "reuters": {"format": "reuters_sgml", "path": str(REUTERS / "reut2-021.sgm"), "license": "other", "share": 0.01}}}}))
    result = CliRunner().invoke(app, ["replay", "--out", str(tmp_path / "out"), "--params", str(params), "--scheduler", "sync"])
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["documents_in"] == 578 and stats["documents_out_by_source"] == {"replay/reuters": stats["documents_out"]}
    bad = CliRunner().invoke(app, ["replay", "--out", str(tmp_path / "o2"), "--params", str(params), "--source", "nope"])
    assert bad.exit_code == 1 and "no replay source named ['nope']" in bad.output


def test_max_documents_reads_the_first_records_of_each_input(tmp_path):
    files = [REUTERS / "reut2-020.sgm", REUTERS / "reut2-021.sgm"]
    spec = {"format": "reuters_sgml", "path": str(REUTERS / "reut2-02[01].sgm"), "max_documents": 25}
    with Executor(scheduler="sync") as executor:
        replay_stage.run([ReplaySource.from_params("reuters", spec)], tmp_path / "out", executor, 1 << 20)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["documents_in"] == 50 and stats["inputs_parsed"] == 2
    first = [item.doc["id"] if isinstance(item, Skipped) else item["id"] for item in list(reuters.iter_file(str(files[0]), "reuters", "other"))[:25]]
    ids = set(read_table(list_shards(tmp_path / "out"), DOCUMENT_SCHEMA)["id"].to_pylist())
    ledgered = set(read_table(list_shards(tmp_path / "out" / "ledger"), LEDGER_SCHEMA)["id"].to_pylist())
    assert set(first) <= ids | ledgered


def test_a_parquet_replay_file_whose_text_is_not_utf8_gives_its_good_rows_then_one_error(tmp_path):
    """Its second row group decompresses to invalid UTF-8: plain to_pylist raised
    UnicodeDecodeError and failed the replay stage."""
    from hostile_parquet import unchecked_strings

    texts = [f"General text number {n} about the weather and the economy.".encode() for n in range(150)]
    texts[120] = texts[120][:10] + b"\xff\xfe" + texts[120][10:]
    path = tmp_path / "web.parquet"
    pq.write_table(pa.table({"body": unchecked_strings(texts), "key": [f"r{n}" for n in range(150)]}), path, row_group_size=100)
    items = []
    with pytest.raises(InputError, match=r"not readable as Parquet \(Column 0: In chunk 0: Invalid: Invalid UTF8"):
        for item in records.iter_parquet(path, "web", records.Fields.from_dict({"text": "body", "id": "key"})):
            items.append(item)
    assert [i["id"] for i in items] == [f"replay/web:r{n}" for n in range(100)]


def _first_stories(name: str, count: int) -> bytes:
    data = (REUTERS / name).read_bytes()
    end = 0
    for _ in range(count):
        end = data.index(b"</REUTERS>", end) + len(b"</REUTERS>")
    return data[:end] + b"\n"


def _item_id(item) -> str:
    return item["id"] if isinstance(item, dict) else item.doc["id"]


def test_a_reuters_file_replaced_by_a_fetch_while_read_gives_stories_and_hash_of_one_version(tmp_path):
    """A file was read, then hashed by its path again: a rename in between gave one version's
    stories the other version's hash."""
    from renaming_writer import RenamingWriter, versions_seen

    writer = RenamingWriter(tmp_path / "reut2-000.sgm", [_first_stories("reut2-000.sgm", 3), _first_stories("reut2-001.sgm", 3)])
    seen = versions_seen(writer, lambda p: reuters.iter_file(p, "reuters"), 1500,
                         lambda item: 0 if int(_item_id(item).rpartition(":")[2]) < 1001 else 1)
    assert {hashed for hashed, content in seen if hashed != content} == set()
    assert {content for _, content in seen} == {0, 1}  # both versions were read


def _small_newsgroups(members: slice) -> bytes:
    """A few posts of the real 20 Newsgroups tarball, as a tarball of their own."""
    out = io.BytesIO()
    with tarfile.open(NEWSGROUPS, "r:gz") as source, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as target:
        files = [m for m in source.getmembers() if m.isfile()][members]
        for member in files:
            target.addfile(member, source.extractfile(member))
    return out.getvalue()


def test_a_newsgroups_tarball_replaced_by_a_fetch_while_read_gives_posts_and_hash_of_one_version(tmp_path):
    """The tarball was hashed by its path, then opened again to be read."""
    from renaming_writer import RenamingWriter, versions_seen

    old, new = _small_newsgroups(slice(0, 3)), _small_newsgroups(slice(3, 6))
    ids = [{_item_id(i) for i in newsgroups.iter_file(_write(tmp_path / f"v{n}.tar.gz", data), "news")}
           for n, data in enumerate((old, new))]
    writer = RenamingWriter(tmp_path / "news.tar.gz", [old, new])
    seen = versions_seen(writer, lambda p: newsgroups.iter_file(p, "news"), 1500,
                         lambda item: 0 if _item_id(item) in ids[0] else 1)
    assert {hashed for hashed, content in seen if hashed != content} == set()
    assert {content for _, content in seen} == {0, 1}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_rewritten_hf_data_file_makes_the_replay_run_again(tmp_path):
    """An `hf` source is one task whose input is a builder name ("json"): the files it reads are
    those its `data_files` name, and a run counts as done only on those very files."""
    data = tmp_path / "web" / "part.jsonl"
    data.parent.mkdir()
    data.write_text(json.dumps({"id": "a1", "content": "General text about the weather, first version."}) + "\n")
    source = ReplaySource.from_params("hfweb", {"format": "hf", "path": "json", "data_files": str(tmp_path / "web" / "*.jsonl"),
                                                "fields": {"text": "content", "id": "id"}})
    assert source.files_read("json") == [str(data)]
    texts = lambda: [d["text"] for d in read_table(list_shards(tmp_path / "out"), DOCUMENT_SCHEMA).to_pylist()]
    with Executor(scheduler="sync") as executor:
        replay_stage.run([source], tmp_path / "out", executor, 1 << 20)
        assert texts() == ["General text about the weather, first version."]
        rewritten = data.with_suffix(".tmp")
        rewritten.write_text(json.dumps({"id": "a1", "content": "General text about the weather, second version."}) + "\n")
        rewritten.replace(data)
        replay_stage.run([source], tmp_path / "out", executor, 1 << 20)
    assert texts() == ["General text about the weather, second version."]
