"""The settings of a dedup run (params.yaml `dedup:`), one dataclass for every pass."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from curation import storage
from curation.dedup.cluster_reasons import IDENTIFIERS
from curation.dedup.decontam import DecontamConfig
from curation.dedup.minhash import MinhashConfig
from curation.schema import MAX_TEXT_BYTES


@dataclass(frozen=True)
class DedupSettings:
    """Also params.yaml's `dedup:` section (`decontamination:` names `decontam`)."""

    minhash: MinhashConfig = MinhashConfig()
    near: bool = True
    exact: bool = True
    identifiers: tuple[str, ...] = IDENTIFIERS
    benchmarks: tuple[str, ...] = ()
    decontam: DecontamConfig = field(default=DecontamConfig(), metadata={"key": "decontamination"})
    partitions: int = 16
    batch_rows: int = 4096
    # Texts longer than this (UTF-8 bytes) are ledgered `too_large` instead of hashed: the passes
    # take memory in proportion to a text (about 30 bytes per byte for its n-grams).
    max_text_bytes: int = MAX_TEXT_BYTES
    keep_work: bool = False
    # Folder of built benchmark indexes, by content (curation.dedup.decontam.cache_index); None:
    # $MEDCURATE_CACHE, else $XDG_CACHE_HOME/medcurate, else ~/.cache/medcurate.
    index_cache: str | None = None
    # Where the passes leave files for each other (curation.dedup.workdir): a path or URL that
    # every worker reaches; None: DIR/_work beside the output.
    scratch: str | None = None

    @property
    def index_cache_dir(self) -> Path:
        if self.index_cache:
            return Path(self.index_cache)
        if os.environ.get("MEDCURATE_CACHE"):
            return Path(os.environ["MEDCURATE_CACHE"])
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medcurate"

    def digest_items(self) -> dict:
        """What the output depends on (keep_work does not), benchmark files by path and size."""
        data = asdict(self)
        data.pop("keep_work")
        data.pop("index_cache")
        data.pop("scratch")
        data["benchmark_files"] = [file_identity(spec.partition("=")[2] or spec) for spec in self.benchmarks]
        return data


def file_identity(path: str) -> list:
    return [str(path), storage.size(path)]
