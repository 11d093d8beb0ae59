"""Where a stage's files live: a plain path, `file://`, or an object-store URL (`s3://bucket/prefix`,
`gs://…`, `az://…`), through fsspec.

Every stage names its files with plain strings and goes through these helpers, so the same code
writes a local folder or a bucket. Local paths keep the fast path they had: the os module, and
pyarrow's own local filesystem for Parquet (measured: benchmarks/README.md, object storage).

Credentials and endpoints come from each backend's standard environment and config files
(S3: AWS_ENDPOINT_URL, AWS_PROFILE, AWS_ACCESS_KEY_ID, …; GCS: GOOGLE_APPLICATION_CREDENTIALS;
Azure: AZURE_STORAGE_CONNECTION_STRING, …), plus params.yaml `run.storage_options`
({protocol: {option: value}}), given to `configure` when a command starts. `configure` also puts
them in this process's environment (MEDCURATE_STORAGE_OPTIONS) so that local Dask workers, which
inherit it, open the same stores; nothing here writes them to an output or a log line.

Object stores have no rename. A file is written to its final name and becomes visible only when
complete (an S3/GCS/Azure upload is committed on close; a body that raises aborts it). Which files
of a stage are complete is said by its task markers (curation.task_output), written last.

A handle from `open_read` reads the file it opened, even when a writer replaces it meanwhile:
locally the old inode (a write is a rename); on S3 s3fs sends the ETag it opened with (If-Match),
so a replaced object is an OSError (FileExpired) past what it has cached, never the new bytes
(tests/curation/test_storage.py). A reader that makes several passes over one file does them on
one handle for that reason (sources/snapshot.py).
"""
from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import posixpath
import stat
from functools import lru_cache
from pathlib import Path
from typing import IO, Iterator

OPTIONS_ENV = "MEDCURATE_STORAGE_OPTIONS"
TMP_SUFFIX = ".tmp"  # a leftover of a killed local write; stage runners remove these on resume


# ------------------------------------------------------------------------------------ naming


def protocol(location: str | os.PathLike) -> str:
    """'s3', 'gs', 'az', …; 'file' for a plain path or a file:// URL."""
    text = os.fspath(location)
    head, sep, _ = text.partition("://")
    return head.lower() if sep and head.isidentifier() else "file"


def is_local(location: str | os.PathLike) -> bool:
    return protocol(location) == "file"


def local_path(location: str | os.PathLike) -> str:
    """A local location as a plain path (file:// removed)."""
    text = os.fspath(location)
    return text[len("file://"):] if text.startswith("file://") else text


def norm(location: str | os.PathLike) -> str:
    """The form locations are kept in: a plain path for local ones, the URL without a trailing
    slash for the others."""
    return local_path(location) if is_local(location) else os.fspath(location).rstrip("/")


def join(base: str | os.PathLike, *parts: str) -> str:
    """`base/part/…`: os.path.join for a local base, '/'-joined for a URL."""
    if is_local(base):
        return os.path.join(local_path(base), *parts)
    return posixpath.join(norm(base), *parts)


def name(location: str | os.PathLike) -> str:
    return posixpath.basename(norm(location).rstrip("/")) if not is_local(location) else os.path.basename(local_path(location))


def parent(location: str | os.PathLike) -> str:
    if is_local(location):
        return os.path.dirname(local_path(location))
    return posixpath.dirname(norm(location))


# ------------------------------------------------------------------------------------ options


def configure(storage_options: dict | None) -> None:
    """Use `storage_options` ({protocol: {option: value}}) for every store this process and its
    local workers open. Called once per command with params.yaml `run.storage_options`."""
    if storage_options:
        os.environ[OPTIONS_ENV] = json.dumps(storage_options, sort_keys=True)
    else:
        os.environ.pop(OPTIONS_ENV, None)
    _filesystem.cache_clear()


def options_for(proto: str) -> dict:
    raw = os.environ.get(OPTIONS_ENV)
    if not raw:
        return {}
    return dict(json.loads(raw).get(proto) or {})


@lru_cache(maxsize=None)
def _filesystem(proto: str, options_json: str, pid: int):
    import fsspec

    options = json.loads(options_json)
    if proto != "file":
        # Other processes (workers, a re-run) write the same folders: a cached listing would
        # hide their files.
        options.setdefault("use_listings_cache", False)
    return fsspec.filesystem(proto, **options)


def filesystem(location: str | os.PathLike):
    """(fsspec filesystem, path inside it) for a URL; the local filesystem for a plain path."""
    proto = protocol(location)
    # Per process: a forked child (a DataLoader worker) must not reuse its parent's async client,
    # which fsspec refuses ("This class is not fork-safe").
    fs = _filesystem(proto, json.dumps(options_for(proto), sort_keys=True), os.getpid())
    text = norm(location)
    return fs, (text if proto == "file" else fs._strip_protocol(text))


# ------------------------------------------------------------------------------------ queries


def exists(location: str | os.PathLike) -> bool:
    if is_local(location):
        return os.path.exists(local_path(location))
    fs, path = filesystem(location)
    return fs.exists(path)


def isfile(location: str | os.PathLike) -> bool:
    if is_local(location):
        return os.path.isfile(local_path(location))
    fs, path = filesystem(location)
    return fs.isfile(path)


def isdir(location: str | os.PathLike) -> bool:
    """A folder; on an object store, a prefix under which some object lies."""
    if is_local(location):
        return os.path.isdir(local_path(location))
    fs, path = filesystem(location)
    return fs.isdir(path)


def size(location: str | os.PathLike) -> int:
    if is_local(location):
        return os.stat(local_path(location)).st_size
    fs, path = filesystem(location)
    return int(fs.size(path))


def identity(location: str | os.PathLike) -> list:
    """What changes when a file is rewritten or replaced: its size and modification time (ns) on a
    disk, where every write is a new file renamed into place, or its ETag on a store. Equal
    identities at two moments mean the same bytes were there both times, short of a copy that
    keeps the old size and sets the old mtime (`cp -p`, `rsync -t`). Not the inode: the planner
    and the workers compare identities across machines, and FUSE mounts of a bucket (gcsfuse,
    s3fs-fuse) number inodes per mount."""
    if is_local(location):
        st = os.stat(local_path(location))
        return [st.st_size, st.st_mtime_ns]
    fs, path = filesystem(location)
    info = fs.info(path)
    changed = info.get("ETag") or info.get("etag") or info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    return [int(info["size"]), str(changed)]


def file_size(location: str | os.PathLike) -> int | None:
    """The size of a file, None when `location` is no file: one stat (one HEAD on a store)."""
    if is_local(location):
        try:
            st = os.stat(local_path(location))
        except OSError:
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None
    fs, path = filesystem(location)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None
    return int(info["size"]) if info.get("type") == "file" else None


def entries(folder: str | os.PathLike) -> list[tuple[str, bool]]:
    """(location, is_folder) of what lies directly in `folder`, sorted; none for a missing folder."""
    if is_local(folder):
        root = local_path(folder)
        try:
            with os.scandir(root) as it:
                return sorted((os.path.join(root, e.name), e.is_dir()) for e in it)
        except (FileNotFoundError, NotADirectoryError):
            return []
    fs, path = filesystem(folder)
    try:
        listed = fs.ls(path, detail=True)
    except FileNotFoundError:
        return []
    base = norm(folder)
    found = []
    for info in listed:
        entry = info["name"].rstrip("/")
        if entry == path.rstrip("/"):
            continue
        found.append((posixpath.join(base, posixpath.basename(entry)), info["type"] == "directory"))
    return sorted(found)


def files(folder: str | os.PathLike, pattern: str = "*") -> list[str]:
    """Files directly in `folder` whose name matches `pattern`, sorted."""
    return [p for p, is_dir in entries(folder) if not is_dir and fnmatch.fnmatchcase(name(p), pattern)]


def folders(folder: str | os.PathLike) -> list[str]:
    """Folders directly in `folder`, sorted."""
    return [p for p, is_dir in entries(folder) if is_dir]


def walk_files(folder: str | os.PathLike) -> list[str]:
    """Every file under `folder`, at any depth, sorted."""
    if is_local(folder):
        return sorted(str(p) for p in Path(local_path(folder)).rglob("*") if p.is_file())
    fs, path = filesystem(folder)
    base = norm(folder)
    prefix = path.rstrip("/") + "/"
    return sorted(posixpath.join(base, p[len(prefix):]) for p in fs.find(path) if p.startswith(prefix))


# ------------------------------------------------------------------------------------ changes


def makedirs(folder: str | os.PathLike) -> None:
    """Create a local folder; object stores have none to create."""
    if is_local(folder):
        os.makedirs(local_path(folder), exist_ok=True)


def remove(location: str | os.PathLike) -> None:
    """Remove a file; a missing one is fine."""
    if is_local(location):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(local_path(location))
        return
    fs, path = filesystem(location)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)


def remove_tree(folder: str | os.PathLike) -> None:
    """Remove a folder and everything under it; a missing one is fine."""
    if is_local(folder):
        import shutil

        shutil.rmtree(local_path(folder), ignore_errors=True)
        return
    fs, path = filesystem(folder)
    with contextlib.suppress(FileNotFoundError):
        fs.rm(path, recursive=True)


# ------------------------------------------------------------------------------------ contents


def open_read(location: str | os.PathLike) -> IO[bytes]:
    if is_local(location):
        return open(local_path(location), "rb")
    fs, path = filesystem(location)
    return fs.open(path, "rb")


@contextlib.contextmanager
def _local_commit(path: str) -> Iterator[str]:
    """Yield `path.tmp` to write; once the body completes, fsync it and rename it to `path`.
    A body that raises leaves no file under `path` (and removes the temporary one)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + TMP_SUFFIX
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    os.replace(tmp, path)


@contextlib.contextmanager
def open_write(location: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Write a file that readers see whole or not at all.

    Local: written to `NAME.tmp`, fsynced, renamed. Object store: written to its final name; the
    upload is committed when the body completes and aborted when it raises (nothing appears).
    """
    if is_local(location):
        with _local_commit(local_path(location)) as tmp, open(tmp, "wb") as handle:
            yield handle
        return
    fs, path = filesystem(location)
    handle = fs.open(path, "wb")
    try:
        yield handle
    except BaseException:
        discard = getattr(handle, "discard", None)
        if discard is not None:
            discard()  # abort the upload: no object under the final name
            handle.closed = True
        raise
    handle.close()


def read_bytes(location: str | os.PathLike) -> bytes:
    with open_read(location) as handle:
        return handle.read()


def read_text(location: str | os.PathLike) -> str:
    return read_bytes(location).decode("utf-8")


def write_bytes(location: str | os.PathLike, data: bytes) -> None:
    with open_write(location) as handle:
        handle.write(data)


def write_json(location: str | os.PathLike, data: object) -> None:
    """Indented JSON with sorted keys and a final newline, written whole."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_bytes(location, text.encode("utf-8"))


def read_json(location: str | os.PathLike):
    return json.loads(read_bytes(location))


# ------------------------------------------------------------------------------------ Parquet and numpy


def write_parquet(table, location: str | os.PathLike, **options) -> None:
    """pq.write_table to a file that readers see whole or not at all (see `open_write`); a local
    one by pyarrow's own writer to a temporary name."""
    import pyarrow.parquet as pq

    if is_local(location):
        with _local_commit(local_path(location)) as tmp:
            pq.write_table(table, tmp, **options)
        return
    with open_write(location) as handle:
        pq.write_table(table, handle, **options)


def parquet_file(location: str | os.PathLike):
    """pq.ParquetFile of a location: pyarrow's own reader for a local path (memory-mapped reads
    are not needed; its buffered local reads are the fastest), an fsspec file otherwise."""
    import pyarrow.parquet as pq

    if is_local(location):
        return pq.ParquetFile(local_path(location))
    return pq.ParquetFile(open_read(location))


def read_parquet(location: str | os.PathLike, **options):
    import pyarrow.parquet as pq

    if is_local(location):
        return pq.read_table(local_path(location), **options)
    fs, path = filesystem(location)
    return pq.read_table(path, filesystem=fs, **options)


def save_npy(location: str | os.PathLike, array) -> None:
    import numpy as np

    with open_write(location) as handle:
        np.save(handle, array)


def load_npy(location: str | os.PathLike, mmap: bool = False):
    """np.load; a local file may be memory-mapped, a remote one is read whole."""
    import io

    import numpy as np

    if is_local(location):
        return np.load(local_path(location), mmap_mode="r" if mmap else None)
    return np.load(io.BytesIO(read_bytes(location)))


def load_npy_rows(location: str | os.PathLike, start: int, stop: int):
    """Rows start..stop of a 2-D or 1-D .npy file: a slice of the memory map locally, one ranged
    read of just those bytes from an object store."""
    import numpy as np

    if is_local(location):
        return np.array(np.load(local_path(location), mmap_mode="r")[start:stop])
    from numpy.lib import format as npy

    with open_read(location) as handle:
        version = npy.read_magic(handle)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran_order, dtype = read_header(handle)
        if fortran_order:
            raise ValueError(f"{location}: a Fortran-ordered array cannot be read by rows")
        row_items = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
        stop = min(stop, shape[0]) if shape else 0
        count = max(0, stop - start)
        handle.seek(handle.tell() + start * row_items * dtype.itemsize)
        data = handle.read(count * row_items * dtype.itemsize)
    return np.frombuffer(data, dtype=dtype).reshape((count, *shape[1:])).copy()
