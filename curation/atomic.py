"""Files that readers see whole or not at all, on local disk or in an object store.

Every writer of the project's outputs and raw stores goes through these (curation.storage), so a
run killed at any point (even `kill -9`) never leaves half a file under a final name: on local
disk a file is written under a temporary name, fsynced and renamed; in an object store the upload
is committed only when complete. A re-run rewrites it.
"""
from __future__ import annotations

from curation.storage import TMP_SUFFIX, open_write, write_bytes, write_json

atomic_file = open_write  # a context manager giving a binary handle
write_bytes_atomic = write_bytes
write_json_atomic = write_json

__all__ = ["TMP_SUFFIX", "atomic_file", "write_bytes_atomic", "write_json_atomic"]
