"""Back matter and sub-articles: appendices always; acknowledgements, funding, contributions,
notes and the like only when `back_matter` is on, but the captions of supplementary files always
(a "Supporting Information" section keeps its heading and its captions: they describe data and
figures of the paper); reviewer reports and responses only when `sub_articles` is on. The
reference list is never text (MEDITRON citations read it as a lookup)."""
from __future__ import annotations

import re

from lxml import etree

from sources.pmc.jats.renderer_parts import RendererParts
from sources.pmc.jats.text import is_element

BACK_MATTER_SEC_TYPES = frozenset({
    "supplementary-material", "coi-statement", "funding-information", "funding", "author-contributions",
    "data-availability", "ack", "acknowledgment", "acknowledgments", "abbreviations", "supplementary-materials",
})
# A body section that is back matter by its title (publishers put them in <body> too).
BACK_MATTER_TITLE = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?\s*)?(?:acknowledge?ments?|funding(?: information| sources?| statement)?|financial (?:support|disclosures?)"
    r"|(?:declaration of )?competing (?:financial )?interests?|conflicts? of interests?(?: statement)?|disclosures?"
    r"|authors?'? ?(?:s )?contributions?|contributors(?:hip)?|abbreviations|list of abbreviations|data (?:availability|accessibility|sharing)(?: statement)?"
    r"|availability of data(?: and materials?)?|supplementary (?:materials?|information|data|files?)|supporting information"
    r"|additional files?|electronic supplementary material)\s*:?\s*$",
    re.IGNORECASE,
)
# Footnotes that are metadata (contributions, conflicts, addresses), never text.
METADATA_FN_TYPES = frozenset({
    "abbr", "com", "con", "conflict", "coi-statement", "corresp", "current-aff", "deceased", "edited-by",
    "equal", "financial-disclosure", "on-leave", "other", "participating-researchers", "present-address",
    "presented-at", "presented-by", "previously-at", "study-group-members", "supplementary-material", "supported-by",
})


class BackMatter(RendererParts):
    """Renderer methods for `<back>` and `<sub-article>` (see renderer.py for the shared state)."""

    def back(self, back: etree._Element | None) -> list[str]:
        if back is None:
            return []
        out: list[str] = []
        for child in back:
            if not is_element(child):
                continue
            tag = child.tag
            if tag == "app-group":
                out.extend(self.container(child, depth=1))
            elif tag == "app":
                out.extend(self.section(child, 1))
            elif not self.o.back_matter:
                if tag != "ref-list":  # (the longest part of <back>, and never a supplement's)
                    out.extend(self.supplementary_captions(child, 1, self.inline_text(child.find("title"))))
            elif tag in ("ack", "sec", "notes", "glossary", "bio"):
                out.extend(self.section(child, 1, default_title="Acknowledgements" if tag == "ack" else ""))
            elif tag == "fn-group":
                for fn in child.iterfind("fn"):
                    if (fn.get("fn-type") or "").lower() not in METADATA_FN_TYPES:
                        out.extend(self.container(fn, depth=2))
        return out

    def supplementary_captions(self, el: etree._Element, depth: int, title: str = "") -> list[str]:
        """The captions of the `<supplementary-material>` inside a back-matter element, under its title."""
        captions = [block for supplement in el.iter("supplementary-material") for block in self.float_(supplement)]
        if not captions:
            return []
        return ([f"{'#' * min(depth, 3)} {title}"] if title else []) + captions

    @staticmethod
    def is_back_matter(sec: etree._Element, title: str) -> bool:
        kind = (sec.get("sec-type") or "").lower()
        return kind in BACK_MATTER_SEC_TYPES or bool(title and BACK_MATTER_TITLE.match(title)) or sec.tag == "ack"

    def sub_articles(self) -> list[str]:
        """Each `<sub-article>` under a `#` heading of its title (or its type)."""
        out: list[str] = []
        for sub in self.article.iterfind("sub-article"):
            title_el = sub.find("front-stub/title-group/article-title")
            if title_el is None:
                title_el = sub.find("front/article-meta/title-group/article-title")
            title = self.inline_text(title_el)
            blocks = self.container(sub.find("body"), depth=2)
            if blocks:
                out.append(f"# {title or (sub.get('article-type') or 'Sub-article').replace('-', ' ').capitalize()}")
                out.extend(blocks)
        return out
