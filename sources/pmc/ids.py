"""PMC identifiers as every PMC module writes them."""
from __future__ import annotations

import re

_PMCID = re.compile(r"^(?:PMC)?0*(\d{1,18})$", re.IGNORECASE)  # 18 digits: an SQLite integer


def normalize_pmcid(value: str | int | None) -> str | None:
    """"PMC123", "pmc123", "123" -> "PMC123"; anything else -> None."""
    match = _PMCID.match(str(value or "").strip())
    return f"PMC{int(match.group(1))}" if match else None
