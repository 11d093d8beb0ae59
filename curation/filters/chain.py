"""Which filters run for a source, in which order, with which thresholds.

The configuration is params.yaml's `filter:` mapping. Top-level keys are the defaults for every
source; `sources:` maps a source name or glob (`pubmed`, `guidelines/*`) to overrides of the same
keys, merged in the order listed, so a threshold changes for one source only. A rule set's keys
are its config dataclass's fields (unknown keys are an error, not a silent default).

    steps: [min_length, language, gopher_repetition, gopher_quality, c4, fineweb]
    medical: true             # medical overrides for every rule set that has them
    language: {min_score: 0.8, trust_declared: false}
    c4: {min_num_sentences: 5}
    sources:
      pubmed: {c4: {min_num_sentences: 3}}

Legacy flat keys (`min_chars`, `min_words`, `languages`, `min_lang_score`) still work.
"""
from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass

from curation.clean import CleanConfig, Cleaner
from curation.filters import config_from
from curation.filters.c4 import C4Config, C4Quality
from curation.filters.fineweb import FineWebConfig, FineWebQuality
from curation.filters.gopher_quality import GopherQuality, GopherQualityConfig
from curation.filters.gopher_repetition import GopherRepetition, GopherRepetitionConfig
from curation.filters.language import LanguageConfig, LanguageFilter
from curation.filters.length import MinLength

# FineWeb's order (datatrove examples/fineweb.py), with the cheap length check first.
DEFAULT_STEPS = ("min_length", "language", "gopher_repetition", "gopher_quality", "c4", "fineweb")
_RULE_SETS = {
    "gopher_quality": (GopherQualityConfig, GopherQuality),
    "gopher_repetition": (GopherRepetitionConfig, GopherRepetition),
    "c4": (C4Config, C4Quality),
    "fineweb": (FineWebConfig, FineWebQuality),
}


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def config_for_source(config: dict, source: str) -> dict:
    """The defaults merged with every `sources:` entry whose pattern matches `source`."""
    merged = {k: v for k, v in config.items() if k != "sources"}
    for pattern, override in (config.get("sources") or {}).items():
        if fnmatch.fnmatchcase(source, pattern):
            merged = _merge(merged, override or {})
    return merged


@dataclass
class Chain:
    cleaner: Cleaner | None
    filters: list


def build_chain(config: dict, seed: int = 0) -> Chain:
    """The cleaner and the filters of one (already merged) source configuration."""
    medical = config.get("medical", True)
    cleaner = Cleaner(config_from(CleanConfig, config.get("clean"))) if config.get("clean", {}) is not False else None
    filters = []
    for step in config.get("steps", DEFAULT_STEPS):
        if step == "min_length":
            filters.append(MinLength(config.get("min_chars", 200), config.get("min_words", 30)))
        elif step == "language":
            values = {"languages": config.get("languages", ["en"]), "min_score": config.get("min_lang_score", 0.8)}
            values.update(config.get("language") or {})
            values["languages"] = tuple(values["languages"])
            values["seed"] = seed
            filters.append(LanguageFilter.from_config(config_from(LanguageConfig, values)))
        elif step in _RULE_SETS:
            cls, rule = _RULE_SETS[step]
            values = {"medical": medical, **(config.get(step) or {})}
            filters.append(rule(config_from(cls, values)))
        else:
            raise ValueError(f"unknown filter step {step!r} (known: min_length, language, {', '.join(_RULE_SETS)})")
    return Chain(cleaner, filters)


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
