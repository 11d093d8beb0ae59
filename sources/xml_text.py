"""Text helpers shared by the XML parsers (PubMed, JATS): cleaning extracted text, dates.

Markup that reached the text escaped (`&lt;PRE&gt;3&lt;/PRE&gt;`, `&lt;i&gt;`, `&lt;sup&gt;` in
older MEDLINE records, or escaped twice upstream) reads as the markup would: inline formatting
carries no meaning for training text, so the tags go and their words stay ("mm3", as a real
`<sup>3</sup>` reads). Only formatting tag names count, so "p<0.05" or "-0.170<A(CP)" are untouched;
a lone one-letter opening tag ("a<b>c") is left, being as likely an inequality as markup.
"""
from __future__ import annotations

import html
import re
from datetime import date

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
# Escaped entities left in the text by double-escaping upstream ("&amp;lt;" parses to "&lt;").
# A terminating ";" is required, so "R&D" or "AT&T" stay as they are.
ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# Formatting tags seen escaped in MEDLINE and publisher text (HTML's and JATS's inline names).
_FORMATTING = (r"i|b|u|s|em|strong|sup|sub|inf|pre|sc|tt|small|big|strike|del|ins|span|font|mark"
               r"|italic|bold|underline|overline|monospace|roman|sans-serif")
_TAG_PAIR = re.compile(rf"<({_FORMATTING})(?:\s[^<>]*)?>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
# Left over after the pairs: closing tags, self-closing tags, line breaks, and opening tags of
# more than one letter (a lone "<b>" may be "a<b>c").
_LONE_TAG = re.compile(rf"</(?:{_FORMATTING})\s*>|<(?:{_FORMATTING})\s*/>"
                       rf"|<(?!(?:i|b|u|s)\s*>)(?:{_FORMATTING})(?:\s[^<>]*)?>", re.IGNORECASE)
_LINE_BREAK = re.compile(r"<br\s*/?>|</p\s*>", re.IGNORECASE)


def clean_text(raw: str | None) -> str:
    """Entities escaped twice upstream unescaped once, escaped markup read as markup (see above),
    whitespace (incl. no-break) collapsed."""
    if not raw:
        return ""
    if "&" in raw:
        raw = ENTITY.sub(lambda m: html.unescape(m.group(0)), raw)
    if "<" in raw:
        raw = strip_escaped_markup(raw)
    # Already normal (most runs of text): the only whitespace str.split() knows that
    # isprintable() accepts is the ASCII space, so a printable text without doubled or outer
    # spaces is its own " ".join(raw.split()) (checked over every code point in the tests).
    if raw.isprintable() and "  " not in raw and raw[0] != " " and raw[-1] != " ":
        return raw
    return " ".join(raw.split())


def strip_escaped_markup(text: str) -> str:
    """Formatting tags that are text (escaped in the XML) taken out, their content kept; a line
    break (`<br>`, `</p>`) is a space."""
    for _ in range(8):  # nested pairs come out one level a pass
        unpaired = _TAG_PAIR.sub(r"\2", text)
        if unpaired == text:
            break
        text = unpaired
    return _LINE_BREAK.sub(" ", _LONE_TAG.sub("", text))


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
