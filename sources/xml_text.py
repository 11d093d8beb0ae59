"""Text helpers shared by the XML parsers (PubMed, JATS): cleaning extracted text, month names."""
from __future__ import annotations

import html
import re

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
# Escaped entities left in the text by double-escaping upstream ("&amp;lt;" parses to "&lt;").
# A terminating ";" is required, so "R&D" or "AT&T" stay as they are.
ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def clean_text(raw: str | None) -> str:
    """Entities escaped twice upstream unescaped once, whitespace (incl. no-break) collapsed."""
    if not raw:
        return ""
    if "&" in raw:
        raw = ENTITY.sub(lambda m: html.unescape(m.group(0)), raw)
    # Already normal (most runs of text): the only whitespace str.split() knows that
    # isprintable() accepts is the ASCII space, so a printable text without doubled or outer
    # spaces is its own " ".join(raw.split()) (checked over every code point in the tests).
    if raw.isprintable() and "  " not in raw and raw[0] != " " and raw[-1] != " ":
        return raw
    return " ".join(raw.split())
