"""Hostile input: every attack is an InputError/HostileInputError, nothing leaks, nothing is fetched.

The hostile documents are written here, in tmp_path; the secret is a temp file whose content must
never appear in anything the code returns or raises.
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
import zlib
from pathlib import Path

import pytest
from lxml import etree

from conftest import FIXTURES
from sources.errors import HostileInputError, InputError
from sources.pubmed.parse import Record, iter_file, parse_bytes
from sources.pubmed.record_scan import scan_records
from sources.safe_io import open_bytes, open_input, read_input, read_input_hashed, sha256_file
from sources.safe_xml import (
    check_prolog,
    check_tree,
    iterparse_safe,
    markup_count,
    parse_bytes_safe,
    safe_parser,
)

SECRET = "TOP-SECRET-7f3a9c"
DOCTYPE = ('<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
           '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">')


def article(pmid: int, title: str = "A title", abstract: str = "An abstract.") -> str:
    return (f'<PubmedArticle><MedlineCitation Status="MEDLINE"><PMID Version="1">{pmid}</PMID>'
            f"<Article><Journal><Title>J</Title></Journal><ArticleTitle>{title}</ArticleTitle>"
            f"<Abstract><AbstractText>{abstract}</AbstractText></Abstract><Language>eng</Language>"
            f"</Article><MedlineJournalInfo/></MedlineCitation>"
            f"<PubmedData><PublicationStatus>ppublish</PublicationStatus></PubmedData></PubmedArticle>")


def pubmed_set(n: int, doctype: str = DOCTYPE) -> bytes:
    body = "".join(article(1000 + i, abstract="word " * 200) for i in range(n))
    return f'<?xml version="1.0"?>\n{doctype}\n<PubmedArticleSet>{body}</PubmedArticleSet>'.encode()


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def drain(path: Path, **kwargs) -> tuple[list, BaseException | None]:
    """Everything iter_file yields before it raises, and what it raised."""
    items: list = []
    try:
        for item in iter_file(path, **kwargs):
            items.append(item)
    except Exception as exc:  # noqa: BLE001 - the test inspects the type
        return items, exc
    return items, None


def assert_no_secret(items: list, exc: BaseException | None) -> None:
    assert SECRET not in repr(items)
    assert exc is None or SECRET not in str(exc)


# --------------------------------------------------------------------------- decompression


@pytest.mark.parametrize("records", [400, 4000])  # truncated inside / after the first MiB
def test_truncated_gzip_yields_what_it_read_then_input_error(tmp_path, records):
    data = gzip.compress(pubmed_set(records))
    path = tmp_path / "truncated.xml.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    items, exc = drain(path)
    assert type(exc) is InputError and "gzip" in str(exc)
    assert 0 < len(items) < records
    assert all(isinstance(item, Record) for item in items)
    assert [item.pmid for item in items] == [str(1000 + i) for i in range(len(items))]


def test_corrupt_gzip_is_input_error(tmp_path):
    data = bytearray(gzip.compress(pubmed_set(50)))
    data[len(data) // 2: len(data) // 2 + 64] = b"\x00" * 64
    path = tmp_path / "corrupt.xml.gz"
    path.write_bytes(bytes(data))
    _, exc = drain(path)
    assert type(exc) is InputError


@pytest.mark.parametrize("offset", [-8, -1])  # the CRC32, then the size, of the gzip trailer
def test_gzip_trailer_mismatch_is_input_error(tmp_path, offset):
    data = bytearray(gzip.compress(pubmed_set(50)))
    data[offset] ^= 0x01
    path = tmp_path / "bad_trailer.xml.gz"
    path.write_bytes(bytes(data))
    _, exc = drain(path)
    assert type(exc) is InputError and "gzip" in str(exc)
    with pytest.raises(InputError):
        read_input(path)


def test_empty_file_and_empty_gzip_are_input_errors(tmp_path):
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    empty_gz = tmp_path / "empty.xml.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    for path in (empty, empty_gz):
        items, exc = drain(path)
        assert items == [] and type(exc) is InputError, path
        assert scan_records(path).events == []  # nothing counted; the parse puts the file in the error ledger
    with pytest.raises(InputError, match="cannot open"):
        open_input(tmp_path / "missing.xml.gz")


def test_gzip_bomb_stops_at_the_cap(tmp_path):
    bomb = tmp_path / "bomb.xml.gz"
    # 18 MiB of empty elements inside a valid document compress to ~18 KiB.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(bomb, "wb") as out:
        out.write(compressor.compress(b'<?xml version="1.0"?><PubmedArticleSet>'))
        for _ in range(16):
            out.write(compressor.compress(b"<Filler/>" * (1 << 17)))
        out.write(compressor.compress(b"</PubmedArticleSet>") + compressor.flush())
    assert bomb.stat().st_size < 1 << 18
    items, exc = drain(bomb, max_bytes=4 << 20)
    assert items == [] and type(exc) is HostileInputError and "exceeds" in str(exc)
    with open_input(bomb, max_bytes=4 << 20) as stream, pytest.raises(HostileInputError):
        stream.read()
    # Under a cap it fits, the same file reads fine: the cap is what stopped it.
    assert drain(bomb, max_bytes=32 << 20) == ([], None)


def test_gzip_detected_by_magic_not_name(tmp_path):
    doc = pubmed_set(3)
    disguised = tmp_path / "plain_name.xml"
    disguised.write_bytes(gzip.compress(doc))
    misnamed = tmp_path / "not_really.xml.gz"
    misnamed.write_bytes(doc)
    assert read_input(disguised) == doc == read_input(misnamed)
    assert [r.pmid for r in iter_file(disguised)] == ["1000", "1001", "1002"]
    assert sha256_file(disguised) == hashlib.sha256(disguised.read_bytes()).hexdigest()


def test_multi_member_gzip_and_zero_padding_read_fully(tmp_path):
    doc = pubmed_set(3)
    path = tmp_path / "members.xml.gz"
    path.write_bytes(gzip.compress(doc[:100]) + gzip.compress(doc[100:]) + b"\0" * 512)
    assert read_input(path) == doc
    path.write_bytes(gzip.compress(doc) + b"\0" * 16 + b"junk")
    with pytest.raises(InputError):
        read_input(path)


def test_read_input_hashed_is_read_input_and_sha256_file(tmp_path):
    """One read gives what the two give, errors and caps included."""
    doc = pubmed_set(3)
    plain, packed, padded = tmp_path / "plain.xml", tmp_path / "packed.xml.gz", tmp_path / "padded.xml.gz"
    plain.write_bytes(doc)
    packed.write_bytes(gzip.compress(doc))
    padded.write_bytes(gzip.compress(doc) + b"\0" * 64)
    for path in (plain, packed, padded):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert read_input_hashed(path) == (read_input(path), sha256_file(path)) == (doc, digest)
    # Over the cap: a plain file is refused, a gzip that inflates past it too (streamed, not loaded).
    with pytest.raises(HostileInputError):
        read_input_hashed(plain, max_bytes=len(doc) - 1)
    with pytest.raises(HostileInputError):
        read_input_hashed(packed, max_bytes=len(doc) - 1)
    assert read_input_hashed(packed, max_bytes=len(doc))[0] == doc
    empty, empty_gz, corrupt = tmp_path / "empty.xml", tmp_path / "empty.xml.gz", tmp_path / "corrupt.xml.gz"
    empty.write_bytes(b"")
    empty_gz.write_bytes(gzip.compress(b""))
    corrupt.write_bytes(gzip.compress(doc)[:-6])
    for path in (empty, empty_gz, corrupt, tmp_path / "missing.xml"):
        with pytest.raises(InputError):
            read_input_hashed(path)


# --------------------------------------------------------------------------- XML


def test_invalid_xml_yields_records_before_the_error(tmp_path):
    good = "".join(article(2000 + i) for i in range(5))
    path = tmp_path / "invalid.xml"
    path.write_text(f"<?xml version='1.0'?><PubmedArticleSet>{good}<PubmedArticle><Oops></PubmedArticle>")
    items, exc = drain(path)
    assert [item.pmid for item in items] == [str(2000 + i) for i in range(5)]
    assert type(exc) is InputError and "invalid XML" in str(exc)


def test_not_xml_at_all(tmp_path):
    path = tmp_path / "page.xml"
    path.write_text("<html><body>502 Bad Gateway</html>")
    assert type(drain(path)[1]) is InputError


def xxe_document(secret: Path) -> str:
    return (f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY leak SYSTEM "{secret.as_uri()}">]>'
            f"<PubmedArticleSet>{article(3000, title='&leak;')}</PubmedArticleSet>")


def test_external_entity_is_refused_and_nothing_leaks(tmp_path, secret):
    path = tmp_path / "xxe.xml"
    path.write_text(xxe_document(secret))
    items, exc = drain(path)
    assert items == [] and type(exc) is HostileInputError
    assert_no_secret(items, exc)
    # The byte scan reads no entity: it counts the record, which the stage then counts unread.
    assert scan_records(path).events == [("record", "3000", 1)]
    with pytest.raises(HostileInputError):
        parse_bytes_safe(path.read_bytes())


def test_parser_alone_never_reads_the_file(secret):
    """Second line of defence: even past the prolog scan, the parser leaves &leak; unexpanded
    and the tree check refuses the document."""
    root = etree.fromstring(xxe_document(secret).encode(), safe_parser())
    assert SECRET not in etree.tostring(root, encoding="unicode")
    with pytest.raises(HostileInputError):
        check_tree(root)


def test_entity_expansion_bomb_is_refused(tmp_path):
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)
    ]
    doc = (f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [{"".join(levels)}]>'
           f"<PubmedArticleSet>{article(3001, title='&lol9;')}</PubmedArticleSet>")
    path = tmp_path / "lol.xml.gz"
    path.write_bytes(gzip.compress(doc.encode()))
    items, exc = drain(path)
    assert items == [] and type(exc) is HostileInputError
    assert "lollollol" not in repr(items)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_entities_in_other_encodings_are_refused(tmp_path, secret, encoding):
    doc = xxe_document(secret).replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding.upper()}"?>')
    data = doc.encode(encoding)
    with pytest.raises(HostileInputError):
        check_prolog(data)
    path = tmp_path / "xxe16.xml"
    path.write_bytes(data)
    assert_no_secret(*drain(path))


def test_entity_declaration_hidden_after_a_comment_is_refused(secret):
    doc = (f'<?xml version="1.0"?><!DOCTYPE a [<!-- ]> <x> --><!ENTITY leak SYSTEM "{secret.as_uri()}">]>'
           "<a>&leak;</a>").encode()
    with pytest.raises(HostileInputError):
        check_prolog(doc)


def test_parameter_entities_fetch_nothing_from_disk_or_network(tmp_path, secret):
    """Out-of-band XXE through parameter entities: refused, and no request reaches the server."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(f'<!ENTITY % all "<!ENTITY send SYSTEM \'{secret.as_uri()}\'>">'.encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/evil.dtd"
        for doctype in (f'<!DOCTYPE a [<!ENTITY % remote SYSTEM "{url}"> %remote; %all;]>',
                        f'<!DOCTYPE a [<!ENTITY % file SYSTEM "{secret.as_uri()}"> %file;]>'):
            path = tmp_path / "oob.xml"
            path.write_text(f'<?xml version="1.0"?>{doctype}<PubmedArticleSet>{article(3002)}</PubmedArticleSet>')
            items, exc = drain(path)
            assert items == [] and type(exc) is HostileInputError
            assert_no_secret(items, exc)
        # An external DTD reference alone is allowed (every PubMed file has one) but never fetched.
        path = tmp_path / "ext.xml"
        path.write_text(f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet SYSTEM "{url}">'
                        f"<PubmedArticleSet>{article(3003)}</PubmedArticleSet>")
        assert [r.pmid for r in iter_file(path)] == ["3003"]
    finally:
        server.shutdown()
    assert hits == []


def test_dtd_only_entities_do_not_crash(tmp_path):
    """&nbsp; is defined only in NLM's DTD, which is never loaded: the record still parses."""
    items = parse_bytes(pubmed_set(0).replace(
        b"</PubmedArticleSet>", article(3004, title="Heart&nbsp;failure").encode() + b"</PubmedArticleSet>"))
    assert [item.doc["title"] for item in items] == ["Heart failure"]
    # Without any DOCTYPE the name is undefined: a clean InputError, not a crash.
    with pytest.raises(InputError):
        parse_bytes(f"<PubmedArticleSet>{article(3005, title='a&nbsp;b')}</PubmedArticleSet>".encode())


def test_markup_count_bounds_the_nodes_of_real_documents():
    """The byte count is an upper bound on the elements, attributes and entity references that
    lxml builds, on real JATS and PubMed files (and not far above it)."""
    for path in [*sorted((FIXTURES / "pmc_jats").glob("*.nxml")), FIXTURES / "pubmed_xml" / "efetch_pubmed_33515491_lancet_pmc7906746.xml"]:
        data = path.read_bytes()
        root = parse_bytes_safe(data, path.name)
        nodes = sum(1 + len(e.attrib) for e in root.iter() if isinstance(e.tag, str))
        nodes += sum(1 for e in root.iter() if isinstance(e, etree._Entity))
        assert nodes <= markup_count(data) <= 2 * nodes, path.name


@pytest.mark.parametrize("filler, over", [(b"<a/>", True), (b'<a b=""/>', True), (b"&amp;", False), (b"word ", False)])
def test_a_document_over_the_node_cap_is_refused_before_it_is_parsed(filler, over):
    """Over max_nodes: refused with a one-line reason. Text and predefined entities (resolved
    into text) count as markup too, but a document shorter than 3 bytes a node is never counted."""
    data = b"<article><body><p>x</p>" + filler * 40_000 + b"</body></article>"
    if over:
        with pytest.raises(HostileInputError, match=r"^doc: document of \d+ elements, attributes and references \(cap 30000\)$"):
            parse_bytes_safe(data, "doc", max_nodes=30_000)
    else:
        assert parse_bytes_safe(data, "doc", max_nodes=len(data) // 3).tag == "article"
    parse_bytes_safe(data, "doc", max_nodes=100_000)  # under the cap: parsed


def test_a_streamed_record_over_the_node_cap_is_refused_and_the_records_before_it_kept():
    records = pubmed_set(3)
    at = records.rindex(b"</Article>")
    # 2.4 MB in the last record: past the first chunk (the 1 MiB head, parsed before any check)
    hostile = records[:at] + b"<a/>" * 600_000 + records[at:]
    seen = []
    with pytest.raises(HostileInputError, match=r"^test: record of more than 50000 elements, attributes and references$"):
        for element in iterparse_safe(open_bytes(hostile, "test"), "PubmedArticle", chunk_size=1 << 14, max_nodes=50_000):
            seen.append(element.findtext("MedlineCitation/PMID"))
    assert seen == ["1000", "1001"]
    assert len(list(iterparse_safe(open_bytes(hostile, "test"), "PubmedArticle", chunk_size=1 << 14, max_nodes=1_000_000))) == 3


def test_iterparse_frees_consumed_records():
    seen = 0
    for element in iterparse_safe(open_bytes(pubmed_set(300), "test"), "PubmedArticle"):
        seen += 1
        # Memory stays flat: at most the previous record is still there, and it is emptied.
        before = list(element.itersiblings(preceding=True))
        assert len(before) <= 1 and all(len(old) == 0 for old in before)
    assert seen == 300


def test_millions_of_tiny_non_record_elements_are_not_kept():
    """2 million tiny elements that are no records - flat under the root before the first record,
    nested in a container around the second, and after the last - never pile up in the tree:
    at every record the whole tree holds at most about a chunk's worth of elements (it held
    them all before: memory grew without bound), and the records themselves arrive intact."""
    junk = "<a/>" * 1_000_000
    document = (f'<?xml version="1.0"?>\n{DOCTYPE}\n<PubmedArticleSet>{junk}{article(4001)}'
                f"<Wrapper>{junk}{article(4002)}</Wrapper>{article(4003)}{junk}</PubmedArticleSet>").encode()
    seen, largest = [], 0
    for element in iterparse_safe(open_bytes(document, "junk.xml"), "PubmedArticle"):
        seen.append((element.findtext("MedlineCitation/PMID"), element.findtext(".//AbstractText")))
        largest = max(largest, sum(1 for _ in element.getroottree().getroot().iter()))
    assert seen == [(str(pmid), "An abstract.") for pmid in (4001, 4002, 4003)]
    assert largest < 100_000  # a 256 KiB chunk holds at most ~65,000 of them; the file 2,000,000


def test_pruning_never_touches_the_record_being_read():
    """A record split over many small chunks, with junk inside it: it arrives whole."""
    inner = "<x/>" * 5_000
    document = f"<PubmedArticleSet><a/><a/>{article(4100, abstract=inner + 'text')}<a/></PubmedArticleSet>".encode()
    seen = [(record.findtext("MedlineCitation/PMID"), len(record.find(".//AbstractText")))
            for record in iterparse_safe(open_bytes(document, "split.xml"), "PubmedArticle", chunk_size=64)]
    assert seen == [("4100", 5_000)]


def test_security_options_cannot_be_weakened():
    with pytest.raises(ValueError):
        safe_parser(resolve_entities=True)
    assert safe_parser(remove_blank_text=True) is not None
