"""How an article is rendered: the choices a corpus builder may want either way."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping


SUMMARY_ABSTRACT_TYPES = ("summary", "editor", "editors-summary", "patient", "synopsis")


@dataclass(frozen=True)
class JatsOptions:
    """How an article is rendered; every field has the corpus default (MEDITRON's where it was right)."""

    citations: str = "drop"  # drop | meditron ("[bib_ref] cited title…, Author [/bib_ref]")
    figure_refs: str = "plain"  # plain ("Figure 2") | meditron ("[fig_ref] Figure 2: caption… [/fig_ref]")
    captions: str = "tagged"  # tagged ([fig] … [/fig], [table] … [/table]) | plain | drop
    tables: str = "drop"  # drop (caption only) | linearize (rows as "| cell | cell |" lines)
    formulas: str = "tagged"  # display formulas: tagged ([formula] … [/formula]) | plain | drop; inline math stays text
    # Other abstracts to keep, or "all". Default: the plain-language summaries written as prose for
    # readers (PLOS author, editors' and patient summaries, synopses); highlights, teasers, table-of-
    # contents blurbs and graphical abstracts repeat the abstract in a line or a picture and are opt-in.
    abstract_types: frozenset = frozenset(SUMMARY_ABSTRACT_TYPES)
    back_matter: bool = False  # keep acknowledgements, funding, contributions, … sections
    sub_articles: bool = False  # keep reviewer reports, decision letters, responses
    abstract_only: bool = True  # an article with an abstract but no body is still a document

    _CHOICES = {
        "citations": ("drop", "meditron"), "figure_refs": ("plain", "meditron"),
        "captions": ("tagged", "plain", "drop"), "tables": ("drop", "linearize"),
        "formulas": ("tagged", "plain", "drop"),
    }

    def __post_init__(self) -> None:
        for name, choices in self._CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"pmc option {name}={getattr(self, name)!r}: expected one of {', '.join(choices)}")
        object.__setattr__(self, "abstract_types", frozenset(t.lower() for t in self.abstract_types))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "JatsOptions":
        """Options from params.yaml / the command line; unknown keys are an error, None means default."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (values or {}).items() if v is not None}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown pmc render options: {sorted(unknown)}")
        if "abstract_types" in values:
            values["abstract_types"] = frozenset(values["abstract_types"])
        return cls(**values)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["abstract_types"] = sorted(self.abstract_types)
        return out
