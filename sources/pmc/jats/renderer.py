"""The renderer: one walk over one article, its methods grouped by concern in
sections.py, back_matter.py, floats.py and running_text.py; the state they share is here, and
what they may ask of each other is named in renderer_parts.py."""
from __future__ import annotations

from lxml import etree

from curation.markers import tag
from sources.pmc.jats.back_matter import BackMatter
from sources.pmc.jats.citations import Citations
from sources.pmc.jats.floats import FloatTarget, Floats
from sources.pmc.jats.formulas import formula_text, is_image_only
from sources.pmc.jats.options import JatsOptions
from sources.pmc.jats.running_text import RunningText
from sources.pmc.jats.sections import Sections


class Renderer(Sections, BackMatter, Floats, RunningText):
    """Renders the parts of one article as text blocks; holds the per-article lookups."""

    def __init__(self, article: etree._Element, options: JatsOptions):
        self.article = article
        self.o = options
        self.citations = Citations(article)
        self.seen_captions: set[str] = set()  # casefolded captions said so far
        self.image_only_formulas = 0  # display formulas with no text, counted for the meta
        self._float_targets: dict[str, FloatTarget] | None = None

    def formula(self, el: etree._Element) -> str:
        """A display formula as the `formulas` option says; image-only ones are counted, not kept."""
        if self.o.formulas == "drop":
            return ""
        text = formula_text(el)
        if not text:
            if is_image_only(el):
                self.image_only_formulas += 1
            return ""
        return tag("formula", text) if self.o.formulas == "tagged" else text
