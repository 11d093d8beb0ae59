"""params.yaml `pmc:`: what to fetch from the PMC Cloud bucket, and how to render it (`pmc.parse`)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

from sources.pmc import packages
from sources.pmc.cloud.limits import Limits
from sources.pmc.jats.options import JatsOptions
from sources.pmc.licenses import COMMERCIAL_FAMILIES
from sources.safe_xml import MAX_NODES

OAI_URL = "https://pmc.ncbi.nlm.nih.gov/api/oai/v1/mh/"


@dataclass(frozen=True)
class ReadLimits:
    """What one input file may cost; over a cap it is an error-ledger entry (params pmc.parse.max_*)."""

    # Article XML of one file, decompressed (a package's .nxml members together): an efetch batch
    # of 100 articles is ~15 MB, the largest single articles a few MB.
    max_file_bytes: int = 64 << 20
    # XML nodes (elements, attributes, entity references) one document may build, ~200 MB of tree.
    max_xml_nodes: int = MAX_NODES
    max_package_members: int = packages.MAX_MEMBERS
    max_package_bytes: int = packages.MAX_TOTAL_BYTES  # every member decompressed, media included

    @classmethod
    def from_mapping(cls, values: dict | None) -> "ReadLimits":
        """The limits among `values` (pmc.parse); None or absent keeps the default."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in (values or {}).items() if k in names and v is not None})


@dataclass(frozen=True)
class PmcParseParams(JatsOptions, ReadLimits):
    """`pmc.parse`: the rendering options, what one input file may cost, and how parse tasks are cut
    and which licences they keep."""

    files_per_task: int = 500
    licenses: str | list[str] | None = None  # None or "all": every licence (the listing already selected)

    def jats_options(self) -> JatsOptions:
        return JatsOptions(**{name: getattr(self, name) for name in JatsOptions.__dataclass_fields__})


@dataclass(frozen=True)
class PmcParams:
    base_url: str | None = None  # root of the PMC Cloud bucket (None: the live bucket, sources.pmc.cloud.LIVE_BUCKET_URL)
    enumerate: Literal["inventory", "list"] = "inventory"  # the newest daily inventory, or ListObjectsV2
    licenses: str | list[str] | None = field(default_factory=lambda: list(COMMERCIAL_FAMILIES))  # or "all"
    open_access_only: bool = True  # is_pmc_openaccess: the OA Subset
    manuscripts: bool = True  # author manuscripts, when their licence is selected
    historical_ocr: bool = False  # back-scanned journals (OCR text)
    include_retracted: bool = False  # a retraction of any version drops the article
    deny_list: str | None = None  # file of PMCIDs never used
    concurrency: int = 8  # parallel downloads
    rate: float | None = None  # requests/s to the bucket's host (None: bounded by concurrency only)
    limit: int | None = None
    # A sync refuses to remove more than max_removed articles when that is also more than
    # max_removed_share of the stored ones (--allow-mass-removal overrides).
    max_removed: int = 100
    max_removed_share: float = 0.05
    # What one sync or listing reads from the bucket at most (sources.pmc.cloud.limits).
    max_list_pages: int = Limits.list_pages
    max_list_page_bytes: int = Limits.list_page_bytes
    max_metadata_bytes: int = Limits.metadata_bytes
    max_object_bytes: int = Limits.object_bytes
    max_run_bytes: int | None = Limits.run_bytes
    max_failed_share: float = Limits.failed_share
    oai_url: str = OAI_URL
    parse: PmcParseParams = field(default_factory=PmcParseParams)
