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


class _ProsePattern:
    """A case-insensitive pattern for licence prose, written in lower case.

    In ASCII text (nearly all licence statements) it matches where its case-sensitive twin
    matches the lowered text, which the regex engine scans several times faster (a literal
    prefix, no case folding per character): the twin rules out the usual miss, and the real
    search runs only when it finds something, so results are those of the real search.
    """

    def __init__(self, pattern: str):
        literal = pattern.replace("(?P<", "(")  # (named groups: syntax, not text)
        if literal != literal.lower():
            raise ValueError(f"prose patterns are written in lower case: {pattern!r}")
        self.pattern = re.compile(pattern, re.I)
        self._lowered = re.compile(pattern)

    def search(self, text: str, lowered: str | None) -> re.Match | None:
        """`self.pattern.search(text)`; `lowered` is `text.lower()` when text is ASCII, else None."""
        if lowered is not None and self._lowered.search(lowered) is None:
            return None
        return self.pattern.search(text)


# Licence prose: the attribution variants, longest first.
_PROSE = [
    (_ProsePattern(r"attribution[\s-]*non[\s-]*commercial[\s-]*no[\s-]*deriv"), "CC-BY-NC-ND"),
    (_ProsePattern(r"attribution[\s-]*non[\s-]*commercial[\s-]*share[\s-]*alike"), "CC-BY-NC-SA"),
    (_ProsePattern(r"attribution[\s-]*non[\s-]*commercial"), "CC-BY-NC"),
    (_ProsePattern(r"attribution[\s-]*share[\s-]*alike"), "CC-BY-SA"),
    (_ProsePattern(r"attribution[\s-]*no[\s-]*deriv"), "CC-BY-ND"),
    (_ProsePattern(r"\bcc[\s-]by(?:[\s-](?:nc|sa|nd))*\b"), None),  # "under the CC BY-NC-ND licence"
    (_ProsePattern(r"creative\s+commons\s+attribution"), "CC-BY"),
]
_CC_URL_PROSE = _ProsePattern(_CC_URL.pattern)
_CC0_PROSE = _ProsePattern(r"\bcc0\b|cc\s+zero|public\s+domain\s+(?:dedication|declaration)")
_PD_PROSE = _ProsePattern(r"\bpublic\s+domain\b|free of (?:all )?(?:known )?copyright")
# The COVID-19 public-health-emergency permissions are time-limited: not an open licence.
_TIMEBOUND = _ProsePattern(r"timebound|public health emergency|covid-19 resource centre|for the duration of")


def _family_code(kind: str) -> str:
    parts = [p for p in re.split(r"[\s-]+", kind.upper()) if p]
    return "-".join(["CC"] + parts)


def _with_version(family: str, version: str | None) -> str:
    return f"{family}-{version}" if version else family


def from_url(url: str | None) -> str | None:
    """`http://creativecommons.org/licenses/by-nc/3.0` -> `CC-BY-NC-3.0`; None if not a CC URL."""
    return _from_url_match(_CC_URL.search(url or ""))


def _from_url_match(match: re.Match | None) -> str | None:
    if match is None:
        return None
    public_domain = (match.group("pd") or "").lower()  # the pattern ignores case: so must this
    if public_domain == "zero":
        return _with_version("CC0", match.group("pdversion") or "1.0")
    if public_domain == "mark":
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
    lowered = text.lower() if text.isascii() else None
    url_code = _from_url_match(_CC_URL_PROSE.search(text, lowered))
    if url_code:
        return url_code
    if _TIMEBOUND.search(text, lowered):
        return OTHER
    if _CC0_PROSE.search(text, lowered):
        return "CC0-1.0"
    version = _VERSION.search(text)
    for pattern, family in _PROSE:
        match = pattern.search(text, lowered)
        if match:
            family = family or _family_code(match.group(0)[2:].strip(" -"))
            return _with_version(family, version.group(1) if version and "creative" in text.lower() else None)
    if _PD_PROSE.search(text, lowered):
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
    meta = next((m for f in article if f.tag == "front" for m in f if m.tag == "article-meta"), None)
    if meta is None:
        return None, None
    # permissions/license, then license; the same for copyright-statement (one pass, no ElementPath).
    in_permissions: dict[str, list] = {"license": [], "copyright-statement": []}
    direct: dict[str, list] = {"license": [], "copyright-statement": []}
    for child in meta:
        if child.tag == "permissions":
            for node in child:
                if node.tag in in_permissions:
                    in_permissions[node.tag].append(node)
        elif child.tag in direct:
            direct[child.tag].append(child)
    statements = in_permissions["license"] + direct["license"]
    copyright_lines = [_text(node) for node in in_permissions["copyright-statement"] + direct["copyright-statement"]]
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
