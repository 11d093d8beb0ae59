"""params.yaml `pubmed:`: where PubMed's bulk files and E-utilities are, with their defaults."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
LIVE_URL = "https://ftp.ncbi.nlm.nih.gov/pubmed"  # pubmed.base_url null means this, as every source's null means its live site


@dataclass(frozen=True)
class PubmedParams:
    base_url: str | None = None        # root of the tree holding baseline/ and updatefiles/ (None: LIVE_URL)
    limit: int | None = None           # fetch at most N data files
    eutils_url: str = EUTILS_URL
    email: str | None = None           # sent to NCBI with every E-utilities request

    # params.yaml is committed and copied into dvc.lock: a key there would leak.
    REFUSED_KEYS: ClassVar[dict] = {"api_key": "must not be in params.yaml; set the NCBI_API_KEY environment variable"}
