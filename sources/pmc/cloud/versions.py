"""Article versions from their metadata JSON, and which one of each article to keep.

The bucket is organised by article version (`PMC<n>.<v>`): an author manuscript and the published
article can be two versions of one PMCID. Each version's `metadata/PMC<n>.<v>.json` states its
licence and flags (README §3); types are parsed leniently (flags as booleans or "yes"/"no",
`version`/`pmid` as numbers or strings, optional keys missing rather than null).
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import Iterable, Iterator

from sources.errors import InputError
from sources.pmc import licenses
from sources.pmc.cloud.s3 import key_and_md5
from sources.pmc.ids import bounded_int
from sources.safe_json import load_object, loads

_KEY = re.compile(r"^metadata/PMC(\d+)\.(\d+)\.json$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}


@dataclass(frozen=True, slots=True)
class ArticleVersion:
    pmcid: str  # "PMC7759461"
    version: int
    key: str  # metadata/PMC7759461.1.json
    etag: str | None = None  # of the metadata JSON, from the inventory or listing
    pmid: str | None = None
    doi: str | None = None
    citation: str | None = None
    open_access: bool | None = None  # is_pmc_openaccess: in the OA Subset
    manuscript: bool | None = None
    historical_ocr: bool | None = None
    retracted: bool | None = None
    license: str | None = None  # as stated: "CC BY", "TDM", …
    license_code: str | None = None  # normalised (sources.pmc.licenses)
    xml_key: str | None = None
    xml_md5: str | None = None

    @property
    def name(self) -> str:
        return f"{self.pmcid}.{self.version}"

    @property
    def number(self) -> int:
        return int(self.pmcid[3:])

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str, where: str = "listing") -> "ArticleVersion":
        """A line of a `pmc list` output; ValueError naming `where` for anything else.

        The keys are rebuilt from the PMCID and version and must equal the line's: a listing is
        data, and its keys become requests and store paths.
        """
        try:
            version = cls(**loads(line.encode("utf-8"), where))
            number, expected = bounded_int(version.number, "PMC number"), bounded_int(version.version, "version")
            wrong = [name for name, value, want in (
                ("pmcid", version.pmcid, f"PMC{number}"), ("key", version.key, metadata_key(number, expected)),
                ("xml_key", version.xml_key, version.xml_key and article_key(number, expected)),
                ("xml_md5", version.xml_md5, version.xml_md5 and _MD5.match(str(version.xml_md5)) and version.xml_md5),
            ) if value != want]
            if wrong:
                raise ValueError(f"{', '.join(wrong)} do not belong to {version.pmcid!r} version {version.version!r}")
            mistyped = [name for name in _TEXT_FIELDS if not isinstance(getattr(version, name), (str, type(None)))] + \
                [name for name in _FLAG_FIELDS if not isinstance(getattr(version, name), (bool, type(None)))]
            if mistyped:
                raise ValueError(f"{', '.join(mistyped)} of the wrong type")
            return version
        except (InputError, ValueError, TypeError) as exc:
            raise ValueError(f"{where}: not a `pmc list` line ({type(exc).__name__}: {exc})") from None


_TEXT_FIELDS = ("etag", "pmid", "doi", "citation", "license", "license_code")
_FLAG_FIELDS = ("open_access", "manuscript", "historical_ocr", "retracted")


def key_version(key: str) -> tuple[int, int] | None:
    """(PMC number, version) of a metadata key, or None for any other key; InputError for a
    metadata key whose numbers are out of range."""
    match = _KEY.match(key)
    if not match:
        return None
    try:
        return bounded_int(match.group(1), "PMC number"), bounded_int(match.group(2), "version")
    except ValueError as exc:
        raise InputError(f"{key[:80]}: {exc}") from None


def metadata_key(number: int, version: int) -> str:
    return f"metadata/PMC{number}.{version}.json"


def article_key(number: int, version: int) -> str:
    return f"PMC{number}.{version}/PMC{number}.{version}.xml"


def _flag(value) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _text(value) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def parse_version(data: bytes, key: str, etag: str | None = None) -> ArticleVersion:
    """One metadata JSON; InputError when it is not one or disagrees with its key."""
    where = key_version(key)
    if where is None:
        raise InputError(f"{key}: not a metadata key")
    meta = load_object(data, key)
    number, version = where
    stated = str(meta.get("pmcid") or "").upper().removeprefix("PMC")
    if stated != str(number) or str(meta.get("version")) != str(version):
        raise InputError(f"{key}: states pmcid {meta.get('pmcid')!r} version {meta.get('version')!r}")
    xml_key = xml_md5 = None
    if meta.get("xml_url"):
        xml_key, xml_md5 = key_and_md5(str(meta["xml_url"]))
        if xml_key != article_key(number, version):  # the store path comes from the key: no surprises
            raise InputError(f"{key}: xml_url names {xml_key!r}, not this version's XML")
    license_ = _text(meta.get("license_code"))
    return ArticleVersion(
        pmcid=f"PMC{number}", version=version, key=key, etag=etag,
        pmid=_text(meta.get("pmid")), doi=_text(meta.get("doi")), citation=_text(meta.get("citation")),
        open_access=_flag(meta.get("is_pmc_openaccess")), manuscript=_flag(meta.get("is_manuscript")),
        historical_ocr=_flag(meta.get("is_historical_ocr")), retracted=_flag(meta.get("is_retracted")),
        license=license_, license_code=licenses.from_list_value(license_),
        xml_key=xml_key, xml_md5=xml_md5,
    )


@dataclass(frozen=True)
class SelectionPolicy:
    """Which versions may be used. `families=None` keeps every licence."""

    families: frozenset[str] | None = frozenset(licenses.COMMERCIAL_FAMILIES)
    open_access_only: bool = True  # is_pmc_openaccess (author manuscripts are outside the OA Subset)
    manuscripts: bool = True
    historical_ocr: bool = False  # back-scanned journals: OCR text
    retracted: bool = False
    deny: frozenset[str] = field(default_factory=frozenset)  # PMCIDs never used (e.g. expired COVID-19 licences)

    def refusal(self, version: ArticleVersion) -> str | None:
        """Why one version may not be used on its own terms, or None."""
        if version.xml_key is None:
            return "no_xml"
        if self.open_access_only and not version.open_access:
            return "not_open_access"
        if self.families is not None and not licenses.allowed(version.license_code, self.families):
            return f"license_not_selected:{version.license or 'none'}"
        if version.manuscript and not self.manuscripts:
            return "manuscript"
        if version.historical_ocr and not self.historical_ocr:
            return "historical_ocr"
        return None


def choose(versions: list[ArticleVersion], policy: SelectionPolicy) -> tuple[ArticleVersion | None, dict[str, str]]:
    """(the version to use, {key: reason} for the others) among the versions of ONE article.

    A denied or retracted article gives nothing (a retraction of any version stands for the
    article: an older version must not come back in its place). Otherwise the published version
    wins over a manuscript, then the highest version number (numerically: .10 after .2).
    """
    if versions[0].pmcid in policy.deny:
        return None, {v.key: "deny_list" for v in versions}
    if not policy.retracted and any(v.retracted for v in versions):
        return None, {v.key: "retracted" for v in versions}
    refused = {v.key: reason for v in versions if (reason := policy.refusal(v))}
    usable = [v for v in versions if v.key not in refused]
    if not usable:
        return None, refused
    best = max(usable, key=lambda v: (not v.manuscript, v.version))
    refused.update({v.key: f"superseded_by:{best.name}" for v in usable if v is not best})
    return best, refused


def select(versions: Iterable[ArticleVersion], policy: SelectionPolicy) -> Iterator[tuple[ArticleVersion | None, dict[str, str]]]:
    """`choose` for each article of versions sorted by (PMC number, version)."""
    for _, group in groupby(versions, key=lambda v: v.number):
        yield choose(list(group), policy)
