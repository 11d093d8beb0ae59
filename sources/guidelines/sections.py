"""Start, stop, drop and remove rules over extracted markdown (see `Sections`).

Rules match headings (`#` lines) by their text, so they survive layout changes that keep the
section names; `remove_lines` matches any single line or paragraph.
"""
from __future__ import annotations

import re

from sources.guidelines.site import Sections

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")

# Sections that are never guideline content, on any site (MEDITRON's stoppers and removers).
COMMON = Sections(
    stop=(r"^references?$", r"^bibliography$", r"^(references and )?notes$", r"^acknowledge?ments?$",
          r"^disclaimers?$", r"^related (content|pages|links|resources|guidance)$", r"^author information$",
          r"^(page )?last (reviewed|updated)\b", r"^footnotes?$"),
    drop=(r"^(guideline )?committee members?\b", r"^(panel|committee|working group|update) members?$",
          r"^conflicts? of interest$", r"^(competing|declarations? of) interests?$", r"^funding$",
          r"^on this page$", r"^contents$", r"^table of contents$", r"^share( this page)?$"),
    remove_lines=(r"^(this )?page last (reviewed|updated)\b", r"^last (reviewed|updated)\s*:", r"^return to top\.?$",
                  r"^(back to )?top$", r"^(skip to (main )?content)$", r"^print( this page)?$",
                  r"^(share|tweet|email) this\b", r"^we use cookies\b", r"^this (web)?site uses cookies\b",
                  r"^accept( all)? cookies$"),
)


def _matches(patterns: tuple[str, ...], text: str) -> bool:
    return any(re.search(p, text, re.IGNORECASE) for p in patterns)


def _heading_text(text: str) -> str:
    # "3. References", "References:" and "REFERENCES" all name the same section.
    return re.sub(r"^[\dIVX]+[.)]\s*", "", text.strip()).rstrip(":. ").strip()


def apply_sections(text: str, rules: Sections) -> str:
    blocks = [b for b in text.split("\n\n") if b.strip()]
    # start: from the first matching heading on (the first block, usually the title, stays).
    if rules.start:
        for i, block in enumerate(blocks):
            m = _HEADING.match(block)
            if i > 0 and m and _matches(rules.start, _heading_text(m.group(2))):
                blocks = blocks[:1] + blocks[i:] if _HEADING.match(blocks[0]) else blocks[i:]
                break
    out: list[str] = []
    dropping_level: int | None = None
    for block in blocks:
        m = _HEADING.match(block)
        if m:
            level, name = len(m.group(1)), _heading_text(m.group(2))
            if dropping_level is not None and level <= dropping_level:
                dropping_level = None
            if out and _matches(rules.stop, name):
                break
            if dropping_level is None and _matches(rules.drop, name):
                dropping_level = level
                continue
        if dropping_level is not None:
            continue
        lines = [line for line in block.split("\n") if not _matches(rules.remove_lines, line.strip().lstrip("- "))]
        if lines:
            out.append("\n".join(lines))
    return "\n\n".join(out)
