"""Guideline HTML -> markdown-like text: headings as `#`, lists as `- `, tables as ` | ` rows.

Steps, each for a reason:
1. lxml parses the page as data (no network, comments and processing instructions dropped); script,
   style, forms, navigation and other never-content elements go, as do elements whose class or id
   names cookie banners, share bars, breadcrumbs or "last reviewed" stamps.
2. The site's body XPath (first match) narrows the page to the guideline; the site's remove XPaths
   drop what sits inside it (tool bars, "on this page" boxes).
3. Headings are flattened to plain text and the body becomes an `<article>`: trafilatura 2.3 drops
   a heading whose text sits in a child `<b>` (legacy MMWR `<h4><b>New York</b></h4>`), and a
   body that is a `<td>` outside its table would be discarded by the HTML parser.
4. trafilatura extracts the main content as XML (recall mode when the site named a body, since the
   page is already narrowed), and we render that XML ourselves: its markdown output escapes `<`,
   `[` and `|` with backslashes, which would damage medical notation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.etree
import lxml.html
import trafilatura

from curation.markers import code_block, table_row
from sources.errors import HostileInputError, InputError
from sources.safe_xml import MAX_NODES, check_markup

_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "form", "button", "input", "select",
              "textarea", "nav", "svg", "object", "embed", "header", "footer")
# Class/id tokens of boilerplate containers on any site.
_BOILERPLATE = re.compile(
    r"(^|[-_ ])(cookie\w*|consent|share\w*|social|breadcrumbs?|last-?reviewed|skip-?nav|print-?page|"
    r"page-?tools|feedback|newsletter|subscribe)($|[-_ ])",
    re.IGNORECASE,
)
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_DATE_META = ("citation_publication_date", "dc.date", "dcterms.date", "article:published_time",
              "cdc:first_published", "date", "dc.date.issued")


@dataclass(frozen=True)
class ExtractedHtml:
    title: str
    text: str  # markdown-like; empty when nothing could be extracted
    date: str | None
    body_matched: bool  # the site's body XPath found the guideline body
    link_density: float  # share of the body's text inside links (listing pages are mostly links)
    rights: str | None  # a rights statement the page carries (<meta name="DC.Rights...">)


# libxml2's HTML parser compares each attribute of a tag with the ones before it: 40,000 in one
# tag take 1.7 s, the 2.5 million of a 20 MB page hours. Real tags hold a handful.
MAX_TAG_ATTRIBUTES = 10_000
_LONG_TAG = re.compile(rb"<[A-Za-z][^<>]{16384,}")  # only a tag this long can hold that many


def check_tags(data: bytes) -> None:
    """Refuse a page with a tag of more than MAX_TAG_ATTRIBUTES attributes (an upper bound: the
    whitespace and `=` inside it; a long data: URI in quotes has neither)."""
    for match in _LONG_TAG.finditer(data):
        tag = match.group()
        attributes = sum(tag.count(c) for c in (b" ", b"\t", b"\n", b"\r", b"="))
        if attributes > MAX_TAG_ATTRIBUTES:
            raise HostileInputError(f"HTML: a tag of up to {attributes} attributes (cap {MAX_TAG_ATTRIBUTES})")


def parse_html(data: bytes, encoding: str | None = None) -> lxml.html.HtmlElement:
    """`encoding` from the HTTP Content-Type wins; without it lxml reads the page's <meta charset>."""
    if not data.strip():
        raise InputError("empty HTML body")
    check_markup(data, "HTML", MAX_NODES, "page")  # 21 MB of "<i></i>" is a 1.6 GB tree
    check_tags(data)
    try:
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, encoding=encoding)
    except LookupError:  # a charset name Python does not know: let lxml guess
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise InputError(f"unparseable HTML ({exc})") from None
    return root


def extract_html(data: bytes, *, body: tuple[str, ...] = (), remove: tuple[str, ...] = (),
                 encoding: str | None = None) -> ExtractedHtml:
    root = parse_html(data, encoding)
    title = _page_title(root)
    date = _meta_date(root)
    rights = _meta(root, ("dc.rights.copyright", "dc.rights", "dcterms.rights"))
    for element in root.iter(*_DROP_TAGS):
        _remove(element)
    for element in list(root.iter()):
        if isinstance(element.tag, str) and _BOILERPLATE.search(f"{element.get('class', '')} {element.get('id', '')}"):
            _remove(element)
    node, matched = _select(root, body)
    for xpath in remove:
        for element in node.xpath(xpath):
            _remove(element)
    for sup in node.xpath(".//sup[a[starts-with(@href, '#')]]"):  # in-page citation links: [1] as superscript
        if re.fullmatch(r"[\s\d,–-]+", sup.text_content() or ""):
            _remove(sup)
    total = len(" ".join(node.text_content().split()))
    linked = sum(len(" ".join(a.text_content().split())) for a in node.iter("a"))
    for heading in node.iter(*_HEADINGS):
        text = " ".join(heading.text_content().split())
        for child in list(heading):
            heading.remove(child)
        heading.text = text
    h1 = node.xpath(".//h1")
    if h1 and h1[0].text:
        title = h1[0].text
    node.tag = "article"
    node.attrib.clear()
    html = "<html><body>" + lxml.html.tostring(node, encoding="unicode") + "</body></html>"
    xml = trafilatura.extract(
        html, output_format="xml", include_tables=True, include_comments=False, include_links=False,
        include_images=False, include_formatting=False, favor_recall=matched, favor_precision=not matched,
        deduplicate=False, with_metadata=False,
    )
    text = render(xml) if xml else ""
    return ExtractedHtml(title, text, date, matched, linked / total if total else 0.0, rights)


def _remove(element: lxml.html.HtmlElement) -> None:
    """Remove an element but keep its tail text (the words after it belong to the parent)."""
    parent = element.getparent()
    if parent is None:
        return
    element.drop_tree()


def _select(root: lxml.html.HtmlElement, body: tuple[str, ...]) -> tuple[lxml.html.HtmlElement, bool]:
    for xpath in body:
        found = root.xpath(xpath)
        if found and isinstance(found[0], lxml.html.HtmlElement):
            return found[0], True
    bodies = root.xpath("//body")
    return (bodies[0] if bodies else root), False


def _page_title(root) -> str:
    for value in root.xpath("//meta[@property='og:title']/@content | //meta[@name='citation_title']/@content | //title/text()"):
        text = " ".join(value.split())
        if text:
            return text
    return ""


def _meta(root, names: tuple[str, ...]) -> str | None:
    for meta in root.iter("meta"):
        key = (meta.get("name") or meta.get("property") or "").lower()
        if key in names and meta.get("content", "").strip():
            return meta.get("content").strip()
    return None


def _meta_date(root) -> str | None:
    value = _meta(root, _DATE_META)
    if value:
        match = re.match(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value)
        if match:
            return "-".join(part for part in match.groups() if part)
    year = _meta(root, ("year",))
    return year if year and re.fullmatch(r"\d{4}", year) else None


# --- trafilatura XML -> text ------------------------------------------------------------------------------
def render(xml: str) -> str:
    """trafilatura's XML (<head rend="hN">, <p>, <list>/<item>, <table>/<row>/<cell>) as text blocks."""
    try:
        root = lxml.etree.fromstring(xml.encode("utf-8"), lxml.etree.XMLParser(resolve_entities=False, no_network=True))
    except lxml.etree.XMLSyntaxError:
        return ""
    main = root.find("main")
    if main is None:
        return ""
    blocks: list[str] = []
    _blocks(main, blocks, depth=0)
    # Heading levels by rank: pages skip levels (h1 then h4), the text should not (# then ##).
    rank = {level: i + 1 for i, level in enumerate(sorted({b[1] for b in blocks if b.startswith("\x00")}))}
    out = []
    for block in blocks:
        if block.startswith("\x00"):
            block = "#" * rank[block[1]] + " " + block[2:]
        out.append(block)
    return "\n\n".join(out)


def _text(element) -> str:
    parts = []
    for node in element.iter():
        if node.tag == "lb":
            parts.append("\n")
        if node is element:
            parts.append(node.text or "")
        else:
            if node.tag != "lb":
                parts.append(node.text or "")
            parts.append(node.tail or "")
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _blocks(element, blocks: list[str], depth: int) -> None:
    for child in element:
        tag = child.tag
        if tag == "head":
            text = _text(child)
            if text:
                level = re.match(r"h(\d)", child.get("rend", "h2"))
                blocks.append(f"\x00{level.group(1) if level else 2}{text}")
        elif tag == "list":
            items = []
            _list(child, items, depth)
            if items:
                blocks.append("\n".join(items))
        elif tag == "table":
            rows = []
            for row in child.iter("row"):
                cells = [" ".join(_text(cell).split()) for cell in row.iter("cell")]
                if any(cells):
                    rows.append(table_row(c for c in cells if c))
            if rows:
                blocks.append("\n".join(rows))
        elif tag in ("div", "main"):
            _blocks(child, blocks, depth)
        elif tag == "code":  # a <pre> or <code> block: its lines as they are, indentation included
            lines = [line.rstrip() for line in "".join(child.itertext()).split("\n")]
            text = "\n".join(lines).strip("\n")
            if text.strip():
                blocks.append(code_block(text))
        else:  # p, quote, and anything else that carries text
            text = _text(child)
            if text:
                blocks.append(text)


def _list(element, items: list[str], depth: int) -> None:
    indent = "  " * depth
    for item in element.iter("item"):
        if item.getparent() is not element:
            continue
        nested = item.findall("list")
        for sub in nested:
            item.remove(sub)
        text = " ".join(_text(item).split())
        if text:
            items.append(f"{indent}- {text}")
        for sub in nested:
            _list(sub, items, depth + 1)
