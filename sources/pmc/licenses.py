"""PMC licences: every way a licence is stated -> one code, and selection by licence family.

Codes follow DESIGN.md: `CC-BY-4.0`, `CC-BY-NC-ND-3.0`, `CC-BY` (version not stated), `CC0-1.0`,
`public-domain`, `other` (a licence we cannot call open: copyright only, NLM's `NO-CC CODE`, the
COVID-19 "timebound" permissions, a publisher's own terms). `None` means nothing was stated.

Inputs handled: file-list / OA-service strings ("CC BY-NC", "CC0", "NO-CC CODE", "none"), licence
URLs (`xlink:href`, `ali:license_ref`), JATS `license-type` values and licence prose.
"""
from __future__ import annotations

import re
from typing import Iterable

from lxml import etree

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
ALI_REF = "{http://www.niso.org/schemas/ali/1.0/}license_ref"

OTHER = "other"
PUBLIC_DOMAIN = "public-domain"
# The families PMC puts in its commercial-use subset (oa_comm).
COMMERCIAL_FAMILIES = ("CC0", "CC-BY", "CC-BY-SA", "CC-BY-ND")

_CC_URL = re.compile(
    r"creativecommons\.org/(?:licen[cs]es/(?P<kind>[a-z-]+)(?:/(?P<version>\d(?:\.\d)?))?"
    r"|publicdomain/(?P<pd>zero|mark)(?:/(?P<pdversion>\d\.\d))?)",
    re.IGNORECASE,
)
_CC_SHORT = re.compile(r"^\s*CC[\s-]*(?P<kind>(?:BY)(?:[\s-]*(?:NC|SA|ND))*|0|ZERO)(?:[\s-]*(?P<version>\d\.\d))?\s*$", re.I)
_VERSION = re.compile(r"\b(\d\.\d)\b")
# Licence prose: the attribution variants, longest first.
_PROSE = [
    (re.compile(r"attribution[\s-]*non[\s-]*commercial[\s-]*no[\s-]*deriv", re.I), "CC-BY-NC-ND"),
    (re.compile(r"attribution[\s-]*non[\s-]*commercial[\s-]*share[\s-]*alike", re.I), "CC-BY-NC-SA"),
    (re.compile(r"attribution[\s-]*non[\s-]*commercial", re.I), "CC-BY-NC"),
    (re.compile(r"attribution[\s-]*share[\s-]*alike", re.I), "CC-BY-SA"),
    (re.compile(r"attribution[\s-]*no[\s-]*deriv", re.I), "CC-BY-ND"),
    (re.compile(r"\bCC[\s-]BY(?:[\s-](?:NC|SA|ND))*\b", re.I), None),  # "under the CC BY-NC-ND licence"
    (re.compile(r"creative\s+commons\s+attribution", re.I), "CC-BY"),
]
_CC0_PROSE = re.compile(r"\bCC0\b|CC\s+zero|public\s+domain\s+(?:dedication|declaration)", re.I)
_PD_PROSE = re.compile(r"\bpublic\s+domain\b|free of (?:all )?(?:known )?copyright", re.I)
# The COVID-19 public-health-emergency permissions are time-limited: not an open licence.
_TIMEBOUND = re.compile(r"timebound|public health emergency|covid-19 resource centre|for the duration of", re.I)


def _family_code(kind: str) -> str:
    parts = [p for p in re.split(r"[\s-]+", kind.upper()) if p]
    return "-".join(["CC"] + parts)


def _with_version(family: str, version: str | None) -> str:
    return f"{family}-{version}" if version else family


def from_url(url: str | None) -> str | None:
    """`http://creativecommons.org/licenses/by-nc/3.0` -> `CC-BY-NC-3.0`; None if not a CC URL."""
    match = _CC_URL.search(url or "")
    if match is None:
        return None
    if match.group("pd") == "zero":
        return _with_version("CC0", match.group("pdversion") or "1.0")
    if match.group("pd") == "mark":
        return PUBLIC_DOMAIN
    version = match.group("version")
    return _with_version(_family_code(match.group("kind")), version)


def from_list_value(value: str | None) -> str | None:
    """A licence as a file list or the OA service states it: "CC BY-NC", "CC0", "NO-CC CODE", "none"."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    match = _CC_SHORT.match(value)
    if match:
        kind = match.group("kind").upper()
        if kind in ("0", "ZERO"):
            return _with_version("CC0", match.group("version"))
        return _with_version(_family_code(kind), match.group("version"))
    if value.lower() in ("public domain", "public-domain", "pd"):
        return PUBLIC_DOMAIN
    return from_url(value) or OTHER  # "NO-CC CODE", "none", a publisher's own label


def from_prose(text: str | None) -> str | None:
    """The licence a sentence grants, or None when it names none (e.g. a bare copyright line)."""
    if not text:
        return None
    url_code = from_url(text)
    if url_code:
        return url_code
    if _TIMEBOUND.search(text):
        return OTHER
    if _CC0_PROSE.search(text):
        return "CC0-1.0"
    version = _VERSION.search(text)
    for pattern, family in _PROSE:
        match = pattern.search(text)
        if match:
            family = family or _family_code(match.group(0)[2:].strip(" -"))
            return _with_version(family, version.group(1) if version and "creative" in text.lower() else None)
    if _PD_PROSE.search(text):
        return PUBLIC_DOMAIN
    return None


def from_license_type(value: str | None) -> str | None:
    """JATS `license-type`: only a few values name a licence ("open-access" does not)."""
    value = (value or "").strip().lower()
    if not value:
        return None
    if value in ("public-domain", "publicdomain", "pd"):
        return PUBLIC_DOMAIN
    if value in ("cc0", "cc-zero"):
        return "CC0-1.0"
    match = re.fullmatch(r"cc[\s-]?(by(?:[\s-]?(?:nc|sa|nd))*)(?:[\s-]?(\d\.\d))?", value)
    if match:
        return _with_version(_family_code(match.group(1)), match.group(2))
    return None


def _text(node: etree._Element) -> str:
    return " ".join("".join(node.itertext()).split())


def article_license(article: etree._Element) -> tuple[str | None, str | None]:
    """(code, the raw statement it came from) for a JATS article (namespace-free JATS tags).

    Most specific first: `ali:license_ref`, `<license xlink:href>`, `license-type`, the licence
    prose, then a copyright statement that names a licence (old PLoS files). A copyright
    statement that grants nothing gives `other`; no permissions at all give (None, None).
    """
    meta = article.find("front/article-meta")
    if meta is None:
        return None, None
    statements = list(meta.iterfind("permissions/license")) + list(meta.iterfind("license"))
    copyright_lines = [
        _text(node) for node in (list(meta.iterfind("permissions/copyright-statement")) + list(meta.iterfind("copyright-statement")))
    ]
    for license_ in statements:
        for ref in license_.iter(ALI_REF):
            code = from_url(ref.text)
            if code:
                return code, (ref.text or "").strip()
        code = from_url(license_.get(XLINK_HREF))
        if code:
            return code, license_.get(XLINK_HREF)
        prose = _text(license_)
        code = from_license_type(license_.get("license-type")) or from_prose(prose)
        if code:
            return code, prose or license_.get("license-type")
    for line in copyright_lines:
        code = from_prose(line)
        if code:
            return code, line
    raw = " ".join(filter(None, [*(_text(s) for s in statements), *copyright_lines])) or None
    return (OTHER, raw) if raw else (None, None)


def family(code: str | None) -> str | None:
    """`CC-BY-NC-4.0` -> `CC-BY-NC`; `CC0-1.0` -> `CC0`; other codes unchanged."""
    if code is None:
        return None
    return re.sub(r"-\d(?:\.\d)?$", "", code)


def normalize_families(values: Iterable[str]) -> frozenset[str]:
    """Accept list spellings ("CC BY", "CC-BY-4.0", "public-domain") in configuration."""
    out = set()
    for value in values:
        code = from_list_value(value)
        if code is None or (code == OTHER and value.strip().lower() != OTHER):
            raise ValueError(f"unknown licence in selection: {value!r}")
        out.add(family(code))
    return frozenset(out)


def allowed(code: str | None, families: Iterable[str] = COMMERCIAL_FAMILIES) -> bool:
    """Whether a licence code falls in the selected families (an unknown licence never does)."""
    return code is not None and family(code) in set(families)
