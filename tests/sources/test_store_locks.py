"""Every raw store has one writer: each fetch holds its store's lock (sources.store_lock), so a
second fetch into the same folder fails at once, before it asks the network for anything."""
import pytest

from sources.guidelines.fetcher import fetch_site
from sources.guidelines.sites import get_site
from sources.http import HttpClient
from sources.pmc.fetch import fetch_efetch, fetch_oai
from sources.pubmed.eutils import search
from sources.pubmed.fetch import fetch_bulk
from sources.store_lock import StoreBusyError, StoreLock

# Nothing listens on port 9 (discard) here: a fetch that got past the lock would fail to connect.
NOWHERE = "http://127.0.0.1:9"

FETCHES = {
    "pubmed fetch": lambda out, client: fetch_bulk(NOWHERE + "/pubmed", out, client=client),
    "pubmed search": lambda out, client: search("aspirin", out, base_url=NOWHERE, client=client),
    "pmc efetch": lambda out, client: fetch_efetch(["PMC1"], NOWHERE, out, client=client),
    "pmc oai": lambda out, client: fetch_oai(["PMC1"], NOWHERE, out, client=client),
    "guidelines fetch": lambda out, client: fetch_site(get_site("cdc_mmwr").with_base(NOWHERE), out, client=client),
}


@pytest.mark.parametrize("name", sorted(FETCHES))
def test_a_second_fetch_into_a_held_store_fails_at_once(tmp_path, name):
    client = HttpClient(retries=0, timeout=2)
    with StoreLock(tmp_path):
        with pytest.raises(StoreBusyError, match=f"raw store {tmp_path} is in use by pid"):
            FETCHES[name](tmp_path, client)
    # Released: the same call gets past the lock, and fails (or records failures) only for want
    # of a server.
    try:
        FETCHES[name](tmp_path, client)
    except StoreBusyError:
        raise
    except Exception as exc:
        assert "127.0.0.1:9" in str(exc)
    assert (tmp_path / ".lock").read_text() == ""
