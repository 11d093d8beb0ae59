"""The block structure: abstracts, body, sections with `#` headings by depth, lists, boxed text.

A block renders to a list of text blocks (joined by blank lines in the document); what is inside
a paragraph is running_text.py's, figures and tables floats.py's, back matter back_matter.py's.
"""
from __future__ import annotations

from lxml import etree

from curation.markers import code_block
from sources.pmc.jats.renderer_parts import RendererParts
from sources.pmc.jats.text import is_element, plain_text
from sources.xml_text import clean_text

# Elements whose text never belongs in running text.
SKIP = frozenset({
    "ref-list", "contrib-group", "contrib", "aff", "aff-alternatives", "author-notes", "corresp",
    "fn", "fn-group", "object-id", "graphic", "inline-graphic", "media", "target", "label",
    "permissions", "history", "alt-text", "long-desc", "attrib", "processing-meta", "sub-article",
})
BLOCKS = frozenset({
    "p", "sec", "list", "fig", "fig-group", "table-wrap", "table-wrap-group", "disp-formula",
    "disp-formula-group", "boxed-text", "disp-quote", "def-list", "statement", "supplementary-material",
    "preformat", "code", "verse-group", "speech", "glossary", "array", "table", "ref-list",
    "chem-struct-wrap", "title", "caption", "question-wrap", "answer", "explanation",
})
_MAIN_ABSTRACT_TYPES = frozenset({"", "main", "abstract", "structured", "unstructured"})
# The heading of a kept abstract that has no title of its own.
_ABSTRACT_LABELS = {"summary": "Author summary", "editor": "Editors' summary", "editors-summary": "Editors' summary",
                    "patient": "Patient summary"}
_ASIDES = ("boxed-text", "disp-quote", "statement", "question-wrap", "verse-group", "speech")


class Sections(RendererParts):
    """Renderer methods for the block structure (see renderer.py for the state they share)."""

    def abstracts(self, abstracts: list[etree._Element]) -> list[str]:
        """The `<abstract>`s to keep: the first main one, and the other types the options name (by
        default the plain-language summaries), each under a heading: its own title, else its kind's
        ("# Author summary")."""
        out: list[str] = []
        main_done = False
        for abstract in abstracts:
            kind = (abstract.get("abstract-type") or "").lower()
            is_main = kind in _MAIN_ABSTRACT_TYPES and not main_done
            if not is_main and kind not in self.o.abstract_types and "all" not in self.o.abstract_types:
                continue
            heading = self.inline_text(abstract.find("title")) or (
                "Abstract" if is_main else _ABSTRACT_LABELS.get(kind, kind.replace("-", " ").capitalize()))
            blocks = self.container(abstract, depth=2)
            if blocks:
                out.append(f"# {heading}")
                out.extend(blocks)
                main_done = main_done or is_main
        return out

    def container(self, node: etree._Element | None, depth: int) -> list[str]:
        """Blocks of an element holding paragraphs, sections and floats."""
        if node is None:
            return []
        return [text for child in node.iterchildren(etree.Element) for text in self.block(child, depth)]

    def block(self, el: etree._Element, depth: int) -> list[str]:
        tag = el.tag
        if tag == "p":
            text = self.paragraph(el)
            return [text] if text else []
        if tag in ("sec", "app", "ack"):
            return self.section(el, depth)
        if tag == "list":
            return [self.list_(el, 0)] if len(el) else []
        if tag in ("fig", "table-wrap", "chem-struct-wrap"):
            return self.float_(el)
        if tag in ("fig-group", "table-wrap-group", "disp-formula-group"):
            caption = self.float_(el) if el.find("caption") is not None else []
            return caption + self.container(el, depth)
        if tag == "disp-formula":
            formula = self.formula(el)
            return [formula] if formula else []
        if tag in _ASIDES:
            title = self.inline_text(el.find("caption/title")) or self.inline_text(el.find("title"))
            inner = self.container(el, depth + 1)
            return ([title] if title and inner else []) + inner
        if tag == "def-list":
            return self.def_list(el)
        if tag in ("preformat", "code"):
            text = "\n".join(line.rstrip() for line in "".join(el.itertext()).strip("\n").splitlines())
            return [code_block(text)] if text.strip() else []
        if tag == "supplementary-material":
            return self.float_(el)  # its caption, as the `captions` option says
        if tag in SKIP or tag in ("title", "caption", "table", "alternatives", "array"):
            return []
        if tag in ("answer", "explanation", "glossary", "notes", "bio"):
            return self.container(el, depth)
        # Unknown wrappers (custom elements, <named-content> at block level): keep their words.
        text = self.inline_text(el)
        return [text] if text else []

    def section(self, sec: etree._Element, depth: int, default_title: str = "") -> list[str]:
        """A heading of `depth` #s (at most three) over the section's blocks; back matter only when
        asked, except the captions of its supplementary files ("Supporting Information")."""
        title = self.inline_text(sec.find("title")) or default_title
        if not self.o.back_matter and self.is_back_matter(sec, title):
            return self.supplementary_captions(sec, depth, title)
        inner = self.container(sec, depth + 1)
        if not inner:
            return []
        if not title:
            return inner
        label = plain_text(sec.find("label"))
        heading = f"{label} {title}" if label and not title.startswith(label) else title
        return [f"{'#' * min(depth, 3)} {heading}"] + inner

    def list_(self, el: etree._Element, level: int) -> str:
        """`- item` lines, nested lists indented by two spaces a level."""
        lines: list[str] = []
        indent = "  " * level
        for item in el.iterfind("list-item"):
            parts: list[str] = []
            nested: list[str] = []
            for child in item:
                if not is_element(child) or child.tag == "label":
                    continue
                if child.tag == "list":
                    nested.append(self.list_(child, level + 1))
                elif child.tag == "title":
                    parts.append(self.inline_text(child))
                else:
                    parts.extend(self.block(child, 2))
            if not parts and not nested and item.text and item.text.strip():
                parts = [clean_text(item.text)]
            text = " ".join(p for p in parts if p)
            if text:
                lines.append(f"{indent}- {text}")
            lines.extend(n for n in nested if n)
        return "\n".join(lines)

    def def_list(self, el: etree._Element) -> list[str]:
        """`- term: definition` lines."""
        lines = []
        for item in el.iterfind("def-item"):
            term = self.inline_text(item.find("term"))
            definition = " ".join(self.inline_text(d) for d in item.iterfind("def"))
            if term or definition:
                lines.append(f"- {term}: {definition}" if term and definition else f"- {term or definition}")
        return ["\n".join(lines)] if lines else []
