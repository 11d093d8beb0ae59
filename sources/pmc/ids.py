"""PMC identifiers as every PMC module writes them."""
from __future__ import annotations

import re

_PMCID = re.compile(r"^(?:PMC)?0*(\d{1,18})$", re.IGNORECASE)  # 18 digits: an SQLite integer
MAX_NUMBER = 2**63 - 1  # PMC numbers and versions are stored as SQLite integers


def normalize_pmcid(value: str | int | None) -> str | None:
    """"PMC123", "pmc123", "123" -> "PMC123"; anything else -> None."""
    match = _PMCID.match(str(value or "").strip())
    return f"PMC{int(match.group(1))}" if match else None


def bounded_int(value, what: str) -> int:
    """A PMC number or version as an int (an int or a string of digits, 0 to 2^63-1); ValueError otherwise."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        raise ValueError(f"{what} {value!r} is not a whole number")
    number = int(value)
    if not 0 <= number <= MAX_NUMBER:
        raise ValueError(f"{what} {str(value)[:30]!r} is out of range")
    return number
