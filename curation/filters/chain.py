"""Which filters run for a source, in which order, with which thresholds.

The configuration is params.yaml's `filter:` mapping. Top-level keys are the defaults for every
source; `sources:` maps a source name or glob (`pubmed`, `guidelines/*`) to overrides of the same
keys, merged in the order listed, so a threshold changes for one source only. Each step's keys
are its config dataclass's fields (unknown keys are an error, not a silent default).

    steps: [min_length, language, gopher_repetition, gopher_quality, c4, fineweb]
    medical: true             # structure-aware overrides for every rule set that has them
    wrapped: false            # true for hard-wrapped text: line rules judge paragraphs
    min_length: {min_chars: 200, min_words: 30}
    language: {min_score: 0.8, trust_declared: false}
    c4: {min_num_sentences: 5}
    sources:
      pubmed: {c4: {min_num_sentences: 3}}

A new rule is one module (a config dataclass and a class built from it) and one line in `RULES`.
"""
from __future__ import annotations

import copy
import dataclasses
import fnmatch
from dataclasses import dataclass
from typing import Callable

from curation.clean import CleanConfig, Cleaner
from curation.filters import config_from
from curation.filters.c4 import C4Config, C4Quality
from curation.filters.fineweb import FineWebConfig, FineWebQuality
from curation.filters.gopher_quality import GopherQuality, GopherQualityConfig
from curation.filters.gopher_repetition import GopherRepetition, GopherRepetitionConfig
from curation.filters.language import LanguageConfig, LanguageFilter
from curation.filters.length import MinLength, MinLengthConfig

# step name -> (config dataclass, the filter built from one).
RULES: dict[str, tuple[type, Callable]] = {
    "min_length": (MinLengthConfig, MinLength),
    "language": (LanguageConfig, LanguageFilter.from_config),
    "gopher_repetition": (GopherRepetitionConfig, GopherRepetition),
    "gopher_quality": (GopherQualityConfig, GopherQuality),
    "c4": (C4Config, C4Quality),
    "fineweb": (FineWebConfig, FineWebQuality),
}
# FineWeb's order (datatrove examples/fineweb.py), with the cheap length check first.
DEFAULT_STEPS = ("min_length", "language", "gopher_repetition", "gopher_quality", "c4", "fineweb")

# Flat keys of older params files -> (step, key). The only place they are read.
LEGACY_KEYS = {
    "min_chars": ("min_length", "min_chars"),
    "min_words": ("min_length", "min_words"),
    "languages": ("language", "languages"),
    "min_lang_score": ("language", "min_score"),
}


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def translate_legacy(config: dict) -> dict:
    """`min_chars: 200` -> `min_length: {min_chars: 200}`; a step's own key wins over a flat one."""
    out = {k: v for k, v in config.items() if k not in LEGACY_KEYS}
    for key, (step, field) in LEGACY_KEYS.items():
        if key in config:
            out[step] = {field: config[key], **(out.get(step) or {})}
    return out


def config_for_source(config: dict, source: str) -> dict:
    """The defaults merged with every `sources:` entry whose pattern matches `source`."""
    merged = translate_legacy({k: v for k, v in config.items() if k != "sources"})
    for pattern, override in (config.get("sources") or {}).items():
        if fnmatch.fnmatchcase(source, pattern):
            merged = _merge(merged, translate_legacy(override or {}))
    return merged


@dataclass
class Chain:
    cleaner: Cleaner | None
    filters: list


def build_step(step: str, config: dict, seed: int = 0):
    """One filter from its section of a merged source configuration; `medical`, `wrapped` and
    `seed` are filled in from the top level for the rule sets whose config has them."""
    if step not in RULES:
        raise ValueError(f"unknown filter step {step!r} (known: {', '.join(RULES)})")
    cls, build = RULES[step]
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {**({"medical": config.get("medical", True)} if "medical" in fields else {}),
              **({"wrapped": config.get("wrapped", False)} if "wrapped" in fields else {}),
              **({"seed": seed} if "seed" in fields else {}), **(config.get(step) or {})}
    return build(config_from(cls, values))


def build_chain(config: dict, seed: int = 0) -> Chain:
    """The cleaner and the filters of one (already merged) source configuration."""
    config = translate_legacy(config)
    cleaner = Cleaner(config_from(CleanConfig, config.get("clean"))) if config.get("clean", {}) is not False else None
    return Chain(cleaner, [build_step(step, config, seed) for step in config.get("steps", DEFAULT_STEPS)])


class SourceChains:
    """Builds each source's chain once, on first use (workers see few sources)."""

    def __init__(self, config: dict, seed: int = 0):
        self.config = config
        self.seed = seed
        self._chains: dict[str, Chain] = {}

    def __call__(self, source: str) -> Chain:
        if source not in self._chains:
            self._chains[source] = build_chain(config_for_source(self.config, source), self.seed)
        return self._chains[source]
