"""The hardened XML layer every source parses through (PubMed, PMC/JATS, E-utilities, OA service).

Three defences, each enough on its own against the attacks we know, kept together on purpose:

1. the parser never resolves entities, never touches the network, never loads a DTD and keeps
   libxml2's size limits (`huge_tree=False`): an external entity stays an unexpanded reference;
2. before a byte reaches the parser, the prolog is scanned and a DOCTYPE whose internal subset
   declares entities is refused (XXE and billion-laughs documents have no other reason to exist
   in PubMed or JATS data);
3. once parsed, libxml2's own view of the internal subset is checked for entity declarations,
   which catches what a byte scan could miss (an exotic encoding, a subset longer than the scan).

A fourth bounds memory rather than meaning: libxml2 builds a node of ~100-200 bytes for every
element, attribute and entity reference, so 76 MB of `<a/>` becomes a 2.5 GB tree. Before a
document (or one streamed record) is parsed, the markup its bytes can hold is counted and a
document over `max_nodes` is refused (`markup_count`, an upper bound counted at byte speed).

Failures are `InputError` (invalid XML, undefined entity) or `HostileInputError`.
"""
from __future__ import annotations

import codecs
import re
from typing import BinaryIO, Iterable, Iterator

from lxml import etree

from sources.errors import HostileInputError, InputError
from sources.redaction import redact

SAFE_OPTIONS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    attribute_defaults=False,
    huge_tree=False,
)
# How much of the stream's start is scanned for a DOCTYPE; real prologs are a few hundred bytes.
HEAD_BYTES = 1 << 20
# Feed size for streaming: measured fastest on PubMed files (fits in cache, few Python calls).
CHUNK_BYTES = 1 << 18
# Nodes (elements, attributes, entity references) one document or record may build: ~200 MB of
# tree. A real JATS article has ~4,000 (the largest of 127 PLOS articles 31,000), an efetch batch
# of 100 articles ~400,000, a PubMed record a few hundred.
MAX_NODES = 1_000_000
# The smallest node takes 3 bytes (`&a;`; `<a/>` 4, ` a=""` 5), so fewer bytes cannot exceed a cap
# of a third of them: only longer documents, and records past UNCOUNTED_RECORD_BYTES, are counted
# (the count costs ~2 ms/MB, 6% of a JATS parse, 13% of a PubMed parse).
MIN_NODE_BYTES = 3
UNCOUNTED_RECORD_BYTES = 1 << 20  # real PubMed records are a few KB

_DOCTYPE_RE = re.compile(
    r"""<!DOCTYPE\s+[^\s\[>]+(?:\s+(?:SYSTEM\s+("[^"]*"|'[^']*')|PUBLIC\s+("[^"]*"|'[^']*')\s+("[^"]*"|'[^']*')))?\s*([\[>])""",
)


def safe_parser(**options) -> etree.XMLParser:
    """A hardened lxml parser; extra non-security options (e.g. remove_blank_text) are allowed."""
    clash = set(options) & set(SAFE_OPTIONS)
    if clash:
        raise ValueError(f"security options cannot be overridden: {sorted(clash)}")
    return etree.XMLParser(**SAFE_OPTIONS, **options)


def _decode_head(head: bytes) -> str:
    """Text of the stream's start for scanning, whatever its encoding family."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
                       (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, errors="ignore")
    if head[:4] == b"<\0\0\0":
        return head.decode("utf-32-le", errors="ignore")
    if head[:4] == b"\0\0\0<":
        return head.decode("utf-32-be", errors="ignore")
    if head[:2] == b"<\0":
        return head.decode("utf-16-le", errors="ignore")
    if head[:2] == b"\0<":
        return head.decode("utf-16-be", errors="ignore")
    # UTF-8 and every ASCII-compatible encoding: markup bytes read the same in latin-1.
    return head.decode("latin-1")


def check_prolog(head: bytes, name: str = "<input>") -> None:
    """Refuse a document whose DOCTYPE has an internal subset declaring entities.

    `head` is the start of the document. An internal subset that does not end within it is
    refused too: no legitimate PubMed or JATS file has one that large.
    """
    text = _decode_head(head)
    match = _DOCTYPE_RE.search(text)
    if match is None:
        if "<!ENTITY" in text:
            # An entity declaration outside a recognisable DOCTYPE: malformed or evasive.
            raise HostileInputError(f"{name}: entity declaration in document prolog")
        return
    if match.group(4) == ">":
        return  # external DTD reference only; it is never loaded
    subset = text[match.end():]
    if "<!ENTITY" in subset:
        raise HostileInputError(f"{name}: DOCTYPE internal subset declares entities (XXE / entity expansion)")
    if "]" not in subset and len(head) >= HEAD_BYTES:
        raise HostileInputError(f"{name}: DOCTYPE internal subset longer than {HEAD_BYTES} bytes")


def check_tree(element: etree._Element, name: str = "<input>") -> None:
    """Refuse a parsed document whose internal DTD declares entities (libxml2's own view)."""
    dtd = element.getroottree().docinfo.internalDTD
    if dtd is not None and next(iter(dtd.iterentities()), None) is not None:
        raise HostileInputError(f"{name}: DOCTYPE internal subset declares entities (XXE / entity expansion)")


def markup_count(data: bytes) -> int:
    """An upper bound on the element, attribute and entity-reference nodes `data` can parse into.

    Every element has a start tag (`<` not followed by `/`), every attribute and namespace
    declaration an `=`, every reference an `&`; comments, text and CDATA only add to the count.
    Byte counts run at memory speed, so the bound costs a small fraction of the parse.
    """
    return data.count(b"<") - data.count(b"</") + data.count(b"=") + data.count(b"&")


def check_markup(data: bytes, name: str, max_nodes: int, what: str = "document") -> None:
    """Refuse XML `data` when it could build more than `max_nodes` nodes (see `markup_count`)."""
    if len(data) <= MIN_NODE_BYTES * max_nodes:
        return
    count = markup_count(data)
    if count > max_nodes:
        raise HostileInputError(
            f"{name}: {what} of {count} elements, attributes and references (cap {max_nodes})"
        )


def parse_bytes_safe(data: bytes, name: str = "<input>", max_nodes: int = MAX_NODES) -> etree._Element:
    """Parse a whole (small) document, e.g. one JATS article or an E-utilities response."""
    if not data.strip():
        raise InputError(f"{name}: empty document")
    check_prolog(data[:HEAD_BYTES], name)
    check_markup(data, name, max_nodes)
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{name}: invalid XML ({_one_line(exc)})") from None
    check_tree(root, name)
    return root


def iterparse_safe(
    fileobj: BinaryIO,
    tags: str | Iterable[str],
    name: str | None = None,
    chunk_size: int = CHUNK_BYTES,
    max_nodes: int = MAX_NODES,
) -> Iterator[etree._Element]:
    """Stream the elements named `tags` (at their end) from a binary stream, memory-bounded.

    Each element is cleared, with its already-seen siblings, as soon as the consumer asks for the
    next one, so a consumer must take what it needs before advancing. Everything else that is
    complete (elements that are not records, at any depth: siblings, containers, junk) is
    deleted after every chunk, so what the tree holds is bounded by one chunk plus the record
    being read, however many non-record elements the file has. The record being read is bounded
    by `max_nodes` (plus one chunk): past UNCOUNTED_RECORD_BYTES its markup is counted chunk by
    chunk (the bytes before count as a third of a node each), and a record that could hold more
    is refused (HostileInputError) before its next chunk is parsed.
    Everything parsed before a failure is yielded first; then InputError / HostileInputError is
    raised.
    """
    name = name or getattr(fileobj, "name", None) or "<input>"
    tags = (tags,) if isinstance(tags, str) else tuple(tags)

    head, read_failure = _read_head(fileobj)
    if not head.strip():
        raise read_failure or InputError(f"{name}: empty document")
    check_prolog(head, name)

    # The tree is pruned from its root, so the root must be in hand before any record shows up
    # (a file may hold millions of other elements first): its tag, read from the head, joins the
    # filter. Records get start events too, so the pruning knows which element is being built.
    root_tag = _root_tag(head)
    handle_only = root_tag is not None and root_tag not in tags
    # Not collect_ids=False: with it, lxml 6.1 / libxml2 try to fetch an external DTD (refused
    # by no_network, but the refusal fails the parse) - observed on the 2021 baseline files.
    parser = etree.XMLPullParser(
        events=("start", "end"), tag=tags + ((root_tag,) if handle_only else ()), **SAFE_OPTIONS,
    )

    root: etree._Element | None = None
    open_records: list[etree._Element] = []  # records started and not yet ended, outermost first
    record_bytes = record_markup = 0  # fed while the open record was being read; its markup once counted
    uncounted = min(UNCOUNTED_RECORD_BYTES, MIN_NODE_BYTES * max_nodes)  # a third of a node per byte
    chunk: bytes | None = head
    while True:
        failure: Exception | None = None
        try:
            if chunk:
                if open_records:  # the record kept whole: bounded before libxml2 builds it
                    record_bytes += len(chunk)
                    if record_bytes > uncounted:
                        record_markup += markup_count(chunk)
                    if uncounted // MIN_NODE_BYTES + record_markup > max_nodes:
                        raise HostileInputError(
                            f"{name}: record of more than {max_nodes} elements, attributes and references"
                        )
                parser.feed(chunk)
            else:
                closed = parser.close()
                if root is None:
                    check_tree(closed, name)
        except etree.XMLSyntaxError as exc:
            failure = InputError(f"{name}: invalid XML ({_one_line(exc)})")
        # Events parsed before a syntax error are still delivered, so the caller keeps them.
        for event, element in parser.read_events():
            if root is None:
                root = element.getroottree().getroot()
                check_tree(root, name)
            if handle_only and element.tag == root_tag:
                continue
            if event == "start":
                open_records.append(element)
                continue
            if open_records:
                open_records.pop()
            record_bytes = record_markup = 0
            yield element
            # Free the consumed element and everything before it: memory stays flat over a file.
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
        if root is not None:
            _prune(root, open_records[0] if open_records else None)
        if failure is not None:
            raise failure
        if not chunk:
            return
        if read_failure is not None:
            raise read_failure  # a truncated stream: what it held has been delivered
        chunk = fileobj.read(chunk_size)


def _root_tag(head: bytes) -> str | None:
    """The root element's tag (`{namespace}name`), found by parsing the head up to its start tag.

    None when the head does not reach it or is not XML; the caller then prunes from the first
    record on, and the main parse reports any error.
    """
    probe = etree.XMLPullParser(events=("start",), **SAFE_OPTIONS)
    try:
        for offset in range(0, len(head), 4096):
            probe.feed(head[offset:offset + 4096])
            for _event, element in probe.read_events():
                return element.tag
    except etree.XMLSyntaxError:
        return None
    return None


def _prune(root: etree._Element, keep: etree._Element | None) -> None:
    """Delete every complete element that no one needs any more.

    Walks the open path from the root down (at each level the last child is the only one that
    may still be open) and deletes the children before it: all consumed records, or elements
    that are no records at all. It stops at `keep`, the record being read, whose content is
    needed whole.
    """
    node = root
    while node is not keep:
        count = len(node)
        if count == 0:
            return
        if count > 1:
            del node[: count - 1]
        node = node[0]


def _read_head(fileobj: BinaryIO) -> tuple[bytes, InputError | None]:
    """The first HEAD_BYTES of the stream (less at its end), and a read failure met on the way.

    A truncated stream's failure is returned, not raised, so the records before it still get
    parsed; a hostile one (a bomb) is raised at once.
    """
    parts: list[bytes] = []
    got = 0
    while got < HEAD_BYTES:
        try:
            data = fileobj.read(HEAD_BYTES - got)
        except HostileInputError:
            raise
        except InputError as exc:
            return b"".join(parts), exc
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts), None


def _one_line(exc: BaseException) -> str:
    """A parser error on one line, secrets redacted: libxml2 quotes the body's names (a tag, an
    entity), and a server may have echoed an API key as one."""
    return redact(" ".join(str(exc).split()))
