"""Text helpers shared by the XML parsers (PubMed, JATS): cleaning extracted text, dates."""
from __future__ import annotations

import html
import re
from datetime import date

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


def month_number(value: str | None) -> int | None:
    """1-12 from "3", "03", "Mar" or "March"; None for anything else."""
    value = (value or "").strip()
    if value.isdigit():
        return int(value) if 1 <= int(value) <= 12 else None
    return MONTHS.get(value[:3].lower())


def iso_date(year: str | None, month: str | None, day: str | None) -> str | None:
    """YYYY-MM-DD, YYYY-MM or YYYY, as much as the parts say; None without a four-digit year."""
    year = (year or "").strip()
    if not (len(year) == 4 and year.isdigit()):
        return None
    month_value = month_number(month)
    if month_value is None:
        return year
    day = (day or "").strip()
    if day.isdigit():
        try:
            return date(int(year), month_value, int(day)).isoformat()
        except ValueError:
            pass
    return f"{year}-{month_value:02d}"
