"""params.yaml: the defaults of every command, shared with DVC, checked before anything runs.

Each section is a frozen dataclass that owns its defaults, kept by the library that reads it
(DESIGN.md's arrows: pipelines composes, nothing imports pipelines). `SECTIONS` names them; a new
section is one line here, a new key one field in its dataclass. `load_params` checks the whole file
when a command starts: an unknown key, or a value of the wrong type, is one line naming the key
(`ParamsError`). `param()` reads a key, falling back to its dataclass default.

The sections are named, not imported, here: a command imports the modules of the sections it
reads, and scripts/stage_deps.py adds those of each stage's `params:` to its DVC deps.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from curation.config import ConfigError, check_value, from_mapping, section_keys, to_mapping, unknown_key

DEFAULT_PARAMS = Path("params.yaml")


@dataclass(frozen=True)
class RunParams:
    """`run:`: how stages execute (no effect on their output)."""

    workers: int | None = None  # Dask worker processes (None: one per core)
    scheduler: str | None = None  # None: a local cluster; "tcp://host:8786": an existing one; "sync": in-process
    shard_mb: float = 64  # target uncompressed text per Parquet shard
    mb_per_worker: float = 64  # input per local worker process: less input, fewer workers (one: in-process)
    # {protocol: {option: value}} for fsspec stores (s3: endpoint_url, ...); credentials are
    # better left to each backend's environment (curation/storage.py, docs/cluster.md)
    storage_options: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


# section -> "module:dataclass" holding its keys and defaults
SECTIONS = {
    "run": "pipelines.params:RunParams",
    "http": "sources.http_settings:HttpSettings",
    "pubmed": "sources.pubmed.settings:PubmedParams",
    "pmc": "sources.pmc.settings:PmcParams",
    "guidelines": "sources.guidelines.settings:GuidelinesParams",
    "replay": "sources.replay.spec:ReplayParams",
    "filter": "curation.filters.settings:FilterParams",
    "dedup": "curation.dedup.settings:DedupSettings",
    "tokenizer": "curation.tokenizer:TokenizerSection",
    "mix": "pipelines.stages.mix:MixParams",
    "card": "curation.card:CardParams",
}
SEED = 0  # `seed:`, the one top-level value: what anything random starts from


class ParamsError(ConfigError):
    pass


def section_class(name: str) -> type:
    module, _, cls = SECTIONS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def check_params(data: Any, source: str = "params") -> None:
    """Every section of a params mapping against its dataclass; ParamsError names the first bad key."""
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level")
    try:
        for key, value in data.items():
            if key == "seed":
                check_value(int, value, "seed")
            elif key in SECTIONS:
                from_mapping(section_class(key), value, key)
            else:
                raise unknown_key("", key, ["seed", *SECTIONS])
    except ConfigError as error:
        raise ParamsError(f"{source}: {error}") from None


def load_params(path: Path | str | None = None) -> dict:
    """params.yaml, checked; a missing default file gives empty params, a missing named file is an error."""
    explicit = path is not None
    path = Path(path) if explicit else DEFAULT_PARAMS
    if not path.is_file():
        if explicit:
            raise ParamsError(f"params file not found: {path}")
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not YAML: {' '.join(str(error).split())}") from None
    check_params(data, str(path))
    return data


def default(dotted: str) -> Any:
    """The dataclass default of a key (`filter.language.min_score` -> 0.8; a section as its YAML
    mapping); None when no section declares the key."""
    first, *rest = dotted.split(".")
    if first == "seed":
        return SEED
    if first not in SECTIONS:
        return None
    node: Any = section_class(first)()
    for key in rest:
        if not dataclasses.is_dataclass(node):
            return node.get(key) if isinstance(node, dict) else None
        fields = section_keys(type(node))
        if key not in fields:
            return None
        node = getattr(node, fields[key].name)
    return to_mapping(node) if dataclasses.is_dataclass(node) else node


def param(params: dict, dotted: str, fallback: Any = None) -> Any:
    """`param(p, "pmc.concurrency")` reads nested keys; a key not given takes its dataclass default
    (`fallback` only for keys no section declares)."""
    node: Any = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            found = default(dotted)
            return fallback if found is None else found
        node = node[key]
    return node


def pick(given: Any, params: dict, dotted: str, fallback: Any = None) -> Any:
    """A command-line value wins; otherwise params.yaml; otherwise the dataclass default."""
    return given if given is not None else param(params, dotted, fallback)
