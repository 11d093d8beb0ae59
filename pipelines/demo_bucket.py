"""The demo's copy of the PMC Cloud Service bucket, built from the JATS articles in ../shared.

Laid out like `s3://pmc-oa-opendata` (reference/pmc_cloud_2026.md): per version
`PMC<n>.1/PMC<n>.1.xml` and `.json`, the same JSON under `metadata/`, and one daily inventory
snapshot (manifest.json + a csv.gz shard) naming every metadata key with its MD5 ETag. The demo
server answers ListObjectsV2 (`?list-type=2`) over any folder of its tree with `list_objects_v2`.

Articles: the .nxml fixtures, the `<article>` inside each OAI-PMH GetRecord fixture (the bucket's
XML is the article XML OAI-PMH serves), and the full-text corpus files that carry a PMCID. The
metadata JSON states what the article states (ids, title, licence); the flags are the OA Subset's
(open access, not a manuscript), `is_historical_ocr` for back-scanned items (a `pmc-scan` id).
Everything is built the same, byte for byte, at every start.
"""
from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

BUCKET = "pmc-oa-opendata"
SNAPSHOT = "2026-09-01T01-00Z"
LAST_MODIFIED = "2026-08-31T12:00:00.000Z"
INVENTORY = f"inventory-reports/{BUCKET}/metadata/"
# How the bucket's JSON spells a licence family (sources.pmc.licenses codes -> README values).
_SPELLED = {"CC0": "CC0", "CC-BY": "CC BY", "CC-BY-SA": "CC BY-SA", "CC-BY-ND": "CC BY-ND", "CC-BY-NC": "CC BY-NC",
            "CC-BY-NC-SA": "CC BY-NC-SA", "CC-BY-NC-ND": "CC BY-NC-ND"}


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _article_files(shared: Path) -> list[Path]:
    fixtures = shared / "fixtures" / "pmc_jats"
    fulltext = shared / "corpora" / "fulltext"
    return sorted(fixtures.glob("*.nxml")) + sorted(fixtures.glob("*_oai-pmh-getrecord.xml")) + \
        sorted(fulltext.glob("*/*.nxml")) + sorted(fulltext.glob("*/*.xml"))


def _article_xml(path: Path) -> tuple[bytes, etree._Element] | None:
    """The article XML an object would hold (the first `<article>` of a wrapper), and its tree."""
    from sources.safe_xml import parse_bytes_safe

    data = path.read_bytes()
    root = parse_bytes_safe(data, path.name)
    if _local(root) == "article":
        return data, root
    article = next((node for node in root.iter() if _local(node) == "article"), None)
    if article is None:
        return None
    return etree.tostring(article, encoding="UTF-8", xml_declaration=True), article


def _metadata(doc: dict, article: etree._Element, xml_md5: str) -> dict:
    from sources.pmc.licenses import family

    number, version = doc["pmcid"][3:], 1
    name = f"PMC{number}.{version}"
    ids = {node.get("pub-id-type"): node.text for node in article.iter() if _local(node) == "article-id"}
    meta = json.loads(doc["meta"])
    citation = " ".join(filter(None, [meta.get("journal"), doc.get("date")])) or None
    return {
        "pmcid": doc["pmcid"], "version": version, "pmid": int(doc["pmid"]) if (doc.get("pmid") or "").isdigit() else None,
        "doi": doc.get("doi"), "title": doc.get("title"), "citation": citation,
        "is_pmc_openaccess": True, "is_manuscript": False, "is_historical_ocr": "pmc-scan" in ids, "is_retracted": False,
        "license_code": _SPELLED.get(family(doc.get("license")) or ""),
        "xml_url": f"s3://{BUCKET}/{name}/{name}.xml?md5={xml_md5}",
    }


def bucket_objects(shared: Path) -> dict[str, bytes]:
    """Object key -> bytes of the demo bucket: the articles and an inventory of them."""
    objects = article_objects(shared)
    return {**objects, **inventory_objects(objects)}


def article_objects(shared: Path) -> dict[str, bytes]:
    """Object key -> bytes of each article version: its XML and metadata JSON (twice, as in the bucket)."""
    from sources.pmc.jats import Article, parse_bytes

    objects: dict[str, bytes] = {}
    for path in _article_files(shared):
        found = _article_xml(path)
        if found is None:
            continue
        data, article = found
        item = parse_bytes(data, path.name)[0]
        if not isinstance(item, Article) or not item.doc.get("pmcid"):
            continue  # the bucket is keyed by PMCID: articles without one are not in it
        name = f"{item.doc['pmcid']}.1"
        if f"{name}/{name}.xml" in objects:
            continue
        meta = json.dumps(_metadata(item.doc, article, hashlib.md5(data).hexdigest()), indent=1).encode()
        objects[f"{name}/{name}.xml"] = data
        objects[f"{name}/{name}.json"] = meta
        objects[f"metadata/{name}.json"] = meta
    return objects


def inventory_objects(objects: dict[str, bytes], snapshot: str = SNAPSHOT, etags: dict[str, str] | None = None) -> dict[str, bytes]:
    """One inventory snapshot (manifest + one csv.gz shard) of the metadata keys among `objects`,
    each listed with its MD5 as ETag or the one `etags` gives (what an S3 server assigned)."""
    metadata = {key: data for key, data in objects.items() if key.startswith("metadata/")}
    rows = io.StringIO()
    writer = csv.writer(rows, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for key in sorted(metadata):
        writer.writerow([BUCKET, key, LAST_MODIFIED, (etags or {}).get(key) or hashlib.md5(metadata[key]).hexdigest()])
    shard = gzip.compress(rows.getvalue().encode(), mtime=0)
    shard_key = f"{INVENTORY}data/{uuid.uuid5(uuid.NAMESPACE_URL, hashlib.sha256(shard).hexdigest())}.csv.gz"
    manifest = {
        "sourceBucket": BUCKET, "destinationBucket": f"arn:aws:s3:::{BUCKET}", "version": "2016-11-30",
        "creationTimestamp": "1756688400000", "fileFormat": "CSV", "fileSchema": "Bucket, Key, LastModifiedDate, ETag",
        "files": [{"key": shard_key, "size": len(shard), "MD5checksum": hashlib.md5(shard).hexdigest()}],
    }
    return {shard_key: shard, f"{INVENTORY}{snapshot}/manifest.json": json.dumps(manifest, indent=2).encode()}


def list_objects_v2(objects: dict[str, bytes], query: dict[str, str], bucket: str = BUCKET) -> bytes:
    """A ListObjectsV2 answer over `objects` (prefix, delimiter, max-keys, continuation-token)."""
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter") or None
    max_keys = max(1, min(1000, int(query.get("max-keys") or 1000)))
    after = base64.urlsafe_b64decode(query["continuation-token"]).decode() if query.get("continuation-token") else ""
    entries: list[tuple[str, bool]] = []  # (key, or common prefix when True), in key order
    for key in sorted(objects):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if delimiter and delimiter in rest:
            folder = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if not entries or entries[-1] != (folder, True):
                entries.append((folder, True))
        else:
            entries.append((key, False))
    entries = [entry for entry in entries if entry[0] > after]
    page, truncated = entries[:max_keys], len(entries) > max_keys
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
           f"<Name>{bucket}</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(page)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"]
    if delimiter:
        out.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
    out.append(f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
    for name, is_prefix in page:
        if is_prefix:
            out.append(f"<CommonPrefixes><Prefix>{escape(name)}</Prefix></CommonPrefixes>")
        else:
            data = objects[name]
            out.append(f"<Contents><Key>{escape(name)}</Key><LastModified>{LAST_MODIFIED}</LastModified>"
                       f"<ETag>&quot;{hashlib.md5(data).hexdigest()}&quot;</ETag><Size>{len(data)}</Size>"
                       f"<StorageClass>STANDARD</StorageClass></Contents>")
    if truncated:
        out.append(f"<NextContinuationToken>{base64.urlsafe_b64encode(page[-1][0].encode()).decode()}</NextContinuationToken>")
    out.append("</ListBucketResult>")
    return "".join(out).encode()
