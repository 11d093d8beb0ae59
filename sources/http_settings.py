"""params.yaml `http:`: the settings of the one HTTP client, with their defaults (the client's own)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class HttpSettings:
    timeout: float = 30.0             # seconds per connect and per wait for bytes
    retries: int = 6                  # attempts after the first (backoff, Retry-After honoured)
    deadline: float | None = 600.0    # seconds one attempt may take in all (slow-loris guard); None: none
    max_response_bytes: int = 64 << 20  # one answer read into memory (efetch batch, listing page, metadata JSON)
    max_download_bytes: int = 8 << 30   # one object streamed to disk

    def client_kwargs(self) -> dict:
        """HttpClient keyword arguments: every field is one (a new setting is one line above)."""
        return asdict(self)
