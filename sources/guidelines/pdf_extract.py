"""Guideline PDFs -> text: pypdf by default, a GROBID server when its URL is configured.

pypdf gives the text layer page by page, as the page's lines: a paragraph there is typeset over
several lines, and what reads lines (the filter's line rules) would judge each piece as a paragraph
(C4 took a short last line off its sentence). The lines of a page are joined back into its
paragraphs (`paragraphs`): a line as wide as the page's text continues onto the next, a shorter one
ends its paragraph (a paragraph's ragged last line, a heading), and a list item starts a new one;
words hyphenated across a line break are joined. The text layer has no other sign of a break: a
heading right after a paragraph whose last line fills the width joins that paragraph. GROBID (as MEDITRON used it) returns TEI with the section structure, rendered here as
`# heading` + paragraphs. A body that is not a PDF, is encrypted, or that pypdf cannot read is
an InputError (an error-ledger entry), never a crash; page count and text size are capped.
"""
from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from curation.markers import is_list_item
from sources.errors import InputError
from sources.safe_xml import parse_bytes_safe

if TYPE_CHECKING:
    from sources.http import HttpClient

MAX_PDF_PAGES = 1000
MAX_TEXT_CHARS = 5_000_000
_TEI = "{http://www.tei-c.org/ns/1.0}"


@dataclass(frozen=True)
class ExtractedPdf:
    title: str
    text: str
    pages: int
    engine: str  # "pypdf" or "grobid"


def extract_pdf(data: bytes, *, grobid_url: str | None = None, client: HttpClient | None = None) -> ExtractedPdf:
    if not data.lstrip()[:5] == b"%PDF-":
        raise InputError("not a PDF (no %PDF- header)")
    if grobid_url:
        if client is None:  # imported only here: a parse without GROBID never loads the HTTP client
            from sources.http import HttpClient

            client = HttpClient()
        return _grobid(data, grobid_url, client)
    return _pypdf(data)


def _pypdf(data: bytes) -> ExtractedPdf:
    import pypdf
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # per-object repair warnings are noise here
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise InputError("encrypted PDF")
        count = len(reader.pages)
        if count > MAX_PDF_PAGES:
            raise InputError(f"PDF has {count} pages (cap {MAX_PDF_PAGES})")
        parts, size = [], 0
        for page in reader.pages:
            text = page.extract_text() or ""
            size += len(text)
            if size > MAX_TEXT_CHARS:
                raise InputError(f"PDF text exceeds {MAX_TEXT_CHARS} characters")
            parts.append(text)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except InputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as exc:
        # pypdf raises many types on damaged files; all mean the same thing to us.
        raise InputError(f"unreadable PDF ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    text = "\n\n".join(_tidy(p) for p in parts if p.strip())
    title = " ".join(str(meta_title).split()) or next((line.strip() for line in text.split("\n") if line.strip()), "")
    return ExtractedPdf(title, text, count, "pypdf")


def _tidy(page_text: str) -> str:
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", page_text)  # "recommen-\ndation" -> "recommendation"
    return "\n\n".join(paragraphs([" ".join(line.split()) for line in text.split("\n") if line.strip()]))


FULL_LINE = 0.8  # of the page's text width: a line at least this long runs on into the next one
MIN_TEXT_WIDTH = 40  # characters: narrower "text" is a list, a table or a contents page, kept a line a paragraph


def paragraphs(lines: list[str]) -> list[str]:
    """A page's typeset lines joined into its paragraphs. The text width is the 90th percentile of
    the line lengths (a few long lines, a URL or a table row, do not set it); a page of short lines
    (a list, a table of contents: narrower than MIN_TEXT_WIDTH) stays a line a paragraph."""
    if not lines:
        return []
    width = max(sorted(map(len, lines))[int(0.9 * (len(lines) - 1))], MIN_TEXT_WIDTH)
    out: list[list[str]] = []
    runs_on = False
    for line in lines:
        if runs_on and not is_list_item(line):
            out[-1].append(line)
        else:
            out.append([line])
        runs_on = len(line) >= FULL_LINE * width
    return [" ".join(paragraph) for paragraph in out]


def _grobid(data: bytes, grobid_url: str, client: HttpClient) -> ExtractedPdf:
    from urllib3 import encode_multipart_formdata

    body, content_type = encode_multipart_formdata({"input": ("document.pdf", data, "application/pdf")})
    result = client.post(
        grobid_url.rstrip("/") + "/api/processFulltextDocument", data=body, headers={"Content-Type": content_type},
    )
    return tei_to_text(result.content)


def tei_to_text(tei: bytes) -> ExtractedPdf:
    root = parse_bytes_safe(tei, "GROBID TEI")
    title = " ".join("".join(root.find(f".//{_TEI}titleStmt/{_TEI}title").itertext()).split()) if root.find(f".//{_TEI}titleStmt/{_TEI}title") is not None else ""
    blocks = [f"# {title}"] if title else []
    abstract = root.find(f".//{_TEI}profileDesc/{_TEI}abstract")
    if abstract is not None:
        paras = [" ".join("".join(p.itertext()).split()) for p in abstract.iter(f"{_TEI}p")]
        if any(paras):
            blocks.append("## Abstract")
            blocks.extend(p for p in paras if p)
    body = root.find(f".//{_TEI}text/{_TEI}body")
    for div in body.iter(f"{_TEI}div") if body is not None else ():
        for child in div:
            text = " ".join("".join(child.itertext()).split())
            if not text:
                continue
            if child.tag == f"{_TEI}head":
                blocks.append(f"## {text}")
            elif child.tag in (f"{_TEI}p", f"{_TEI}list"):
                blocks.append(text)
    return ExtractedPdf(title, "\n\n".join(blocks), 0, "grobid")
