"""A replay source as params.yaml names it, the inputs it expands to, and the reader for each.

    replay:
      sources:
        reuters:                      # documents get source `replay/reuters`
          format: reuters_sgml        # reuters_sgml | newsgroups_tar | jsonl | parquet | hf
          path: ../shared/corpora/general_english/reuters21578   # file, folder or glob
          license: other
          share: 0.005                # of the train tokens of the final mix (or `tokens: N`)
        web:
          format: hf
          path: json                  # a packaged builder or a local dataset folder
          data_files: data/web/*.jsonl.gz
          fields: {text: content, id: url, url: url}

`share`/`tokens` are read by the mix (the token budget); everything else by the reader.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator, Mapping

from curation.config import from_mapping
from sources.replay import newsgroups, records, reuters

# Which files of a folder each file-based format reads.
_SUFFIXES = {
    "reuters_sgml": (".sgm",),
    "newsgroups_tar": (".tar.gz", ".tgz", ".tar"),
    "jsonl": (".jsonl", ".jsonl.gz", ".json", ".json.gz"),
    "parquet": (".parquet",),
}
FORMATS = (*_SUFFIXES, "hf")


@dataclass(frozen=True)
class ReaderSpec:
    """What a reader needs to know of a source, as params.yaml `replay.sources.<name>` writes it."""

    format: str
    path: str  # file, folder or glob
    license: str | None = "other"
    fields: dict = field(default_factory=dict)
    data_files: Any = None
    split: str = "train"
    config: str | None = None
    streaming: bool = True
    max_members: int = newsgroups.MAX_MEMBERS
    # Read at most this many records from each input, in input order: a small, deterministic
    # sample for trials and the demo (the budget in the mix decides what is finally used).
    max_documents: int | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {list(FORMATS)}, not {self.format!r}")
        if not self.path:
            raise ValueError("no path")
        records.Fields.from_dict(self.fields)  # fail early on a typo


@dataclass(frozen=True)
class ReplaySourceParams(ReaderSpec):
    """One entry of params.yaml `replay.sources`: the reader's keys, and the mix's budget."""

    share: float | None = None  # of the train tokens of the final mix
    tokens: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.share is not None and self.tokens is not None:
            raise ValueError("give `share` or `tokens`, not both")


@dataclass(frozen=True)
class ReplayParams:
    """params.yaml `replay:`."""

    sources: dict[str, ReplaySourceParams] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplaySource(ReaderSpec):
    name: str = ""

    @classmethod
    def from_params(cls, name: str, values: Mapping[str, Any]) -> "ReplaySource":
        spec = from_mapping(ReplaySourceParams, values, f"replay.sources.{name}")
        return cls(name=name, **{f.name: getattr(spec, f.name) for f in fields(ReaderSpec)})

    def inputs(self) -> list[str]:
        """The files to read, one task each, sorted; an `hf` source is one input (its path)."""
        if self.format == "hf":
            return [self.path]
        path = Path(self.path)
        if path.is_file():
            return [str(path)]
        if path.is_dir():
            found = [p for p in path.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES[self.format])]
        else:
            found = [Path(p) for p in glob.glob(self.path, recursive=True) if Path(p).is_file()]
        if not found:
            raise ValueError(f"replay source {self.name!r}: no {self.format} input at {self.path}")
        return sorted(str(p) for p in found)

    def files_read(self, input: str) -> list[str]:
        """The files reading `input` opens: the input itself, or for an `hf` source the local
        files its `data_files` patterns name and the files of its dataset folder (so that a run
        knows when one of them was rewritten: pipelines.runner `inputs`)."""
        if self.format != "hf":
            return [input]
        patterns = self.data_files
        if isinstance(patterns, dict):
            patterns = [p for value in patterns.values() for p in ([value] if isinstance(value, str) else value)]
        elif isinstance(patterns, str):
            patterns = [patterns]
        found = {f for pattern in patterns or () for f in glob.glob(str(pattern), recursive=True) if Path(f).is_file()}
        if Path(input).is_dir():
            found.update(str(f) for f in Path(input).rglob("*") if f.is_file())
        return sorted(found)

    def read(self, input: str) -> Iterator[Any]:
        """Documents, Skipped and BadRecord items of one input; InputError if it cannot be read."""
        fields = records.Fields.from_dict(self.fields)
        if self.format == "reuters_sgml":
            return reuters.iter_file(input, self.name, self.license)
        if self.format == "newsgroups_tar":
            return newsgroups.iter_file(input, self.name, self.license, max_members=self.max_members)
        if self.format == "jsonl":
            return records.iter_jsonl(input, self.name, fields, self.license)
        if self.format == "parquet":
            return records.iter_parquet(input, self.name, fields, self.license)
        return records.iter_hf_dataset(
            input, self.name, fields, self.license, self.data_files, self.split, self.config, self.streaming
        )


def budgets_from_params(sources: Mapping[str, Mapping[str, Any]]) -> dict[str, dict]:
    """{`replay/<name>`: {"share": x} or {"tokens": n}} for the sources that set a budget."""
    budgets = {}
    for name, values in sources.items():
        given = {k: values[k] for k in ("share", "tokens") if values.get(k) is not None}
        if len(given) > 1:
            raise ValueError(f"replay source {name!r}: give `share` or `tokens`, not both")
        if given:
            budgets[f"replay/{name}"] = given
    return budgets
