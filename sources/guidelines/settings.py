"""params.yaml `guidelines:`: where the sites are served from and how politely they are crawled."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GuidelinesParams:
    base_url: str | None = None  # a root serving each site under ROOT/<site> (a mirror, the demo); None: the live sites
    sites: tuple[str, ...] = ()  # the sites dvc.yaml fetches and parses
    limit: int | None = None  # guideline pages per site (None: the site's own page cap)
    rate: float | None = None  # requests/s per host instead of the site's own
    grobid_url: str | None = None  # a GROBID server for PDFs; None: pypdf
    task_pages: int = 100  # stored pages per parse task
