"""Bibliography citations in running text, and the brackets their removal leaves behind.

While a run of text is collected, each `<xref ref-type="bibr">` stands in it as a marker (two
private-use characters around its index in `Citations`); when the run is finished, the markers are
settled as a whole, because a citation's rendering depends on its neighbours:
- drop (default): a bracketed group ("[1, 2]", "(see 3–5)") goes with its brackets; a run of bare
  numbers ("shown 12,13.") goes with its separators; a narrative citation whose words all have a
  letter ("as Smith et al. (2001) showed") keeps its words;
- meditron: each cited reference becomes "[bib_ref] title (12 words)…, First author [/bib_ref]",
  the group's brackets and separators removed; an unresolved reference goes (as MEDITRON did).

What is taken out leaves `REMOVED` behind (as do footnote links and image-only inline formulas),
so that `drop_removal_remnants` can clean the brackets and separators the removal emptied ("(e.g.,
)", "(, p. 67)", "[; ]", "et al. .") without touching brackets the author wrote empty.
"""
from __future__ import annotations

import re

from lxml import etree

from curation.markers import tag
from sources.pmc.jats.text import all_text, plain_text
from sources.xml_text import clean_text

CIT = "\ue000"
CIT_END = "\ue001"
REMOVED = "\ue002"  # where a citation or a link was taken out of the text

_CIT_TOKEN = rf"{CIT}\d+{CIT_END}"
_CIT_SEP = r"(?:\s*(?:[,;\u2013\u2014\u2212-]|and|&)\s*|\s+)"
_CIT_GROUP = re.compile(
    rf"[\[(]\s*(?:(?:see|e\.g\.|cf\.|reviewed in|for (?:a )?review,? see)\s*,?\s*)?{_CIT_TOKEN}(?:{_CIT_SEP}{_CIT_TOKEN})*\s*[\])]"
)
_CIT_RUN = re.compile(rf"{_CIT_TOKEN}(?:{_CIT_SEP}?{_CIT_TOKEN})*")
_CIT_ONE = re.compile(rf"{CIT}(\d+){CIT_END}")

_BRACKETS = {"(": ")", "[": "]"}
# What may stand next to a citation without saying anything once the citation is gone: separators,
# and words that only introduce it ("see", "e.g.", "for a recent review", "Ref.").
_SEPARATOR = r"[\s,;:\u2013\u2014\u2212-]"
_LEAD_IN = (r"(?<![^\W\d_])(?i:see also|also see|but see|see|as in|e\.g\.?|cf\.?|i\.e\.?|reviewed in|(?:see )?reviews? in"
            r"|refs?\.|references?|and|or|&|for (?:an? |the )?(?:[a-z]+ )?(?:reviews?|discussions?|examples?|details"
            r"|overviews?|references?))(?![^\W\d_])")
_NOTHING_LEFT = re.compile(rf"(?:{_SEPARATOR}|{REMOVED}|{_LEAD_IN})*")
# Removals (with the words that introduced them) at the start, at the end, or between two
# separators of what a bracket still holds: "(R; ATCC)", "(CV, see R)", "(fig. 1N, O; R, fig. 3H)".
# A lead-in at the start stays for what follows: "(see R and Text S1)" -> "(see Text S1)".
_REMOVALS = rf"{REMOVED}(?:(?:{_SEPARATOR}|{_LEAD_IN})*{REMOVED})*"
_LEADING_REMOVAL = re.compile(rf"^(\s*(?:{_LEAD_IN}[\s,]*)*){_REMOVALS}[\s,;:]*(?:(?:and|or|&)\s+)?")
_TRAILING_REMOVAL = re.compile(rf"[\s,;:]*(?:(?<![^\W\d_])(?:of|in|within)\s+)?(?:{_LEAD_IN}[\s,]*)*{_REMOVALS}\s*$")
_INNER_REMOVAL = re.compile(rf"([,;:])\s*(?:{_LEAD_IN}[\s,]*)*{_REMOVALS}\s*[,;:]")
# "et al. [3]." would end with two full stops.
_BETWEEN_FULL_STOPS = re.compile(rf"\.\s*{REMOVED}[\s{REMOVED}]*\.")


class Citations:
    """The citations of one article, in the order met: markers index into this list, which only
    grows, so nested renderings (a caption inside a paragraph) never invalidate the markers of
    the text around them."""

    def __init__(self, article: etree._Element):
        self.article = article
        self._cited: list[etree._Element] = []  # the xrefs (their text is read only where it stays)
        self._references: dict[str, tuple[str, str]] | None = None

    def marker(self, xref: etree._Element) -> str:
        """Record a bibliography xref; its placeholder in the running text."""
        self._cited.append(xref)
        return f"{CIT}{len(self._cited) - 1}{CIT_END}"

    def settle(self, raw: str, style: str) -> str:
        """Replace the markers of a run of text as `style` (drop | meditron) says."""
        if CIT not in raw:
            return raw
        if style == "meditron":
            # "[1, 2]" -> one [bib_ref] per reference, without the brackets and separators.
            raw = _CIT_GROUP.sub(lambda m: " " + "".join(f"{CIT}{i}{CIT_END}" for i in _CIT_ONE.findall(m.group(0))), raw)
            return _CIT_ONE.sub(lambda m: self._bib_ref(int(m.group(1))) or REMOVED, raw)
        raw = _CIT_GROUP.sub(REMOVED, raw)
        # What is left stands in the sentence: a narrative "Smith et al. (2001)" keeps its words,
        # a bare number ("…shown 12,13.") goes with its separators.
        return _CIT_RUN.sub(self._narrative, raw)

    def _narrative(self, match: re.Match) -> str:
        """A run of markers standing in the sentence: the xrefs' words when every one has a
        letter ("Smith et al."), else nothing (bare numbers)."""
        texts = [all_text(self._cited[int(index)]) for index in _CIT_ONE.findall(match.group(0))]
        if not all(_has_letter(text) for text in texts):
            return REMOVED
        return "; ".join(clean_text(text) for text in texts)

    def _bib_ref(self, index: int) -> str:
        rendered = []
        for rid in (self._cited[index].get("rid") or "").split():
            title, author = self.references().get(rid, ("", ""))
            if not title and not author:
                continue  # MEDITRON drops unresolved references
            words = title.split()
            short = " ".join(words[:12]) + ("…" if len(words) > 12 else "")
            rendered.append(f" {tag('bib_ref', ', '.join(x for x in (short, author) if x))} ")
        return "".join(rendered)

    def references(self) -> dict[str, tuple[str, str]]:
        """Reference id -> (cited title, first author's surname or collaboration)."""
        if self._references is None:
            self._references = {}
            for ref in self.article.iter("ref"):
                rid = ref.get("id")
                if not rid:
                    continue
                title = next(ref.iter("article-title", "chapter-title", "source"), None)
                surname = next(ref.iter("surname"), None)
                author = plain_text(surname if surname is not None else next(ref.iter("collab"), None))
                self._references[rid] = (plain_text(title).rstrip("."), author)
        return self._references


def _has_letter(text: str) -> bool:
    """Whether a citation's text has a letter ("Smith et al.", not "12" or "3–5")."""
    return any(character.isalpha() for character in text)


def drop_removal_remnants(text: str) -> str:
    """Clean the brackets that removals emptied, then drop the removal marks.

    A bracket pair holding a removal and nothing else but separators and lead-in words ("see",
    "e.g.") goes, and counts as a removal in the pair around it ("(e.g., [7, 8])"); one that
    still holds words keeps them, without the separators the removal left at its edges or
    doubled inside ("(, p. 67)" -> "(p. 67)"). Pairs without a removal are left as written. A
    removal between two full stops leaves one ("et al. [3]." -> "et al.").
    """
    if REMOVED not in text:
        return text
    out: list[str] = []
    open_at: list[tuple[int, str]] = []  # (index in out, opening bracket) of the pairs still open
    for piece in re.split(r"([()\[\]])", text):
        if piece in _BRACKETS:
            open_at.append((len(out), piece))
            out.append(piece)
        elif open_at and piece == _BRACKETS[open_at[-1][1]]:
            start, opening = open_at.pop()
            content = "".join(out[start + 1:])
            del out[start:]
            out.append(_settled_pair(opening, content, piece))
        else:
            out.append(piece)
    return _BETWEEN_FULL_STOPS.sub(".", "".join(out)).replace(REMOVED, "")


def _settled_pair(opening: str, content: str, closing: str) -> str:
    if REMOVED not in content:
        return opening + content + closing
    if _NOTHING_LEFT.fullmatch(content):
        return REMOVED
    content = _TRAILING_REMOVAL.sub("", _LEADING_REMOVAL.sub(r"\1", content))
    content = _INNER_REMOVAL.sub(r"\1 ", content)
    return opening + content + closing if content.strip(f" {REMOVED}") else REMOVED
