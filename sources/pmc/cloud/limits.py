"""What one sync or listing takes from a bucket at most: a remote may misbehave or be hostile.

Each cap is a `pmc.max_*` key of params.yaml (the CLI builds Limits from them); the defaults fit
the live bucket with room to spare and keep memory under a few hundred MB at any concurrency.
"""
from __future__ import annotations

from dataclasses import dataclass

from sources.errors import FetchError


@dataclass(frozen=True)
class Limits:
    list_pages: int = 100_000  # pages one ListObjectsV2 listing may take (live metadata/: ~9,300)
    list_page_bytes: int = 16 << 20  # one ListObjectsV2 answer (1,000 keys: ~350 KB)
    metadata_bytes: int = 1 << 20  # one metadata JSON (a few KB)
    object_bytes: int = 1 << 30  # one article XML (the largest are tens of MB)
    run_bytes: int | None = None  # article XML one sync downloads; later syncs go on (None: no cap)
    failed_share: float = 0.1  # share of a pass's fetches that may fail before the run fails

    def check_failures(self, what: str, failed: int, attempted: int, examples: list[dict]) -> None:
        """FetchError when more than `failed_share` of `attempted` fetches failed (a bucket answering
        403 to nearly everything must not end in a run that looks complete)."""
        if failed and failed > self.failed_share * attempted:
            first = "; ".join(f"{e['id']}: {e['reason']}" for e in examples[:3])
            raise FetchError(f"{failed} of {attempted} {what} failed, more than {self.failed_share:.0%} "
                             f"(pmc.max_failed_share); first: {first}")
