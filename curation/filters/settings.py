"""params.yaml `filter:` as a type: what may be written there, checked before a stage runs.

`FilterRules` is what one source's chain is built from: the top level of `filter:`, and each entry
of `filter.sources` as a partial override of it. A step's section is its config dataclass, taken
from the chain's registry (RULES), so a new rule set needs no line here. The chain itself reads the
mapping as written (curation/filters/chain.py); a key left out takes the rule's own default.
"""
from __future__ import annotations

import typing
from dataclasses import field, make_dataclass

from curation.clean import CleanConfig
from curation.filters.chain import DEFAULT_STEPS, LEGACY_KEYS, RULES
from curation.schema import MAX_TEXT_BYTES

# step -> its config dataclass: a section of `filter:` (and of each `filter.sources` entry) per step
STEP_CONFIGS = {step: config for step, (config, _) in RULES.items()}
STEPS = tuple(STEP_CONFIGS)


def _check_steps(self) -> None:
    unknown = [step for step in self.steps if step not in STEPS]
    if unknown:
        raise ValueError(f"steps: unknown filter step {unknown[0]!r} (known: {', '.join(STEPS)})")


def _legacy_type(step: str, key: str):
    return typing.get_type_hints(STEP_CONFIGS[step])[key] | None


FilterRules = make_dataclass(
    "FilterRules",
    [
        ("max_text_bytes", int, MAX_TEXT_BYTES),   # larger texts are ledgered too_large before any filter reads them
        ("steps", tuple[str, ...], DEFAULT_STEPS),
        ("medical", bool, True),
        ("wrapped", bool, False),  # hard-wrapped text (Reuters, newsgroups): line rules judge paragraphs
        ("clean", CleanConfig | bool, field(default_factory=CleanConfig)),  # false: no cleaning
        *((step, config, field(default_factory=config)) for step, config in STEP_CONFIGS.items()),
        # flat keys of older params files, read as their step's key (chain.LEGACY_KEYS)
        *((key, _legacy_type(step, name), None) for key, (step, name) in LEGACY_KEYS.items()),
    ],
    frozen=True,
    namespace={"__post_init__": _check_steps, "__module__": __name__},
)


FilterParams = make_dataclass(
    "FilterParams",
    [("sources", dict, field(default_factory=dict, metadata={"overrides": FilterRules}))],  # source or glob -> partial FilterRules
    bases=(FilterRules,),
    frozen=True,
    namespace={"__module__": __name__},
)
