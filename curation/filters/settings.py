"""params.yaml `filter:` as a type: what may be written there, checked before a stage runs.

`FilterRules` is what one source's chain is built from: the top level of `filter:`, and each entry
of `filter.sources` as a partial override of it. A step's section is its config dataclass, taken
from the chain's registry, so a new rule set needs no line here. The chain itself reads the
mapping as written (curation/filters/chain.py); a key left out takes the rule's own default.
"""
from __future__ import annotations

from dataclasses import field, make_dataclass

from curation.clean import CleanConfig
from curation.filters.chain import _RULE_SETS, DEFAULT_STEPS
from curation.filters.language import LanguageConfig
from curation.schema import MAX_TEXT_BYTES

# step -> its config dataclass (min_length reads the flat min_chars / min_words)
STEP_CONFIGS = {"language": LanguageConfig, **{step: config for step, (config, _) in _RULE_SETS.items()}}
STEPS = ("min_length", *STEP_CONFIGS)


def _check_steps(self) -> None:
    unknown = [step for step in self.steps if step not in STEPS]
    if unknown:
        raise ValueError(f"steps: unknown filter step {unknown[0]!r} (known: {', '.join(STEPS)})")


FilterRules = make_dataclass(
    "FilterRules",
    [
        ("max_text_bytes", int, MAX_TEXT_BYTES),   # larger texts are ledgered too_large before any filter reads them
        ("min_chars", int | None, None),           # min_length's thresholds (None: its defaults)
        ("min_words", int | None, None),
        ("steps", tuple[str, ...], DEFAULT_STEPS),
        ("medical", bool, True),
        ("clean", CleanConfig | bool, field(default_factory=CleanConfig)),  # false: no cleaning
        *((step, config, field(default_factory=config)) for step, config in STEP_CONFIGS.items()),
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
