"""A local copy of the PMC Cloud bucket for the cloud client's tests (tests/sources/test_pmc_cloud*.py).

`serve(objects)` is a LocalServer holding the objects under /pmc-oa-opendata/ that answers
ListObjectsV2 at the bucket root from whatever it holds at the time (`listing_route`);
`publish` replaces the objects and adds a fresh inventory of them.
"""
from __future__ import annotations

from typing import Callable

from pipelines.demo_bucket import inventory_objects, list_objects_v2
from sources.http import HttpClient

try:
    from tests.sources.ncbi_server import LocalServer, Reply
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from ncbi_server import LocalServer, Reply

BUCKET = "/pmc-oa-opendata"


def client(retries: int = 6) -> HttpClient:
    return HttpClient(retries=retries, backoff=0.0, jitter=0.0, timeout=5)


def listing_route(server: LocalServer, rewrite: Callable[[bytes], bytes] = lambda body: body):
    """ListObjectsV2 over what `server` holds under the bucket, its answer passed through `rewrite`."""
    return lambda request: Reply(200, {"Content-Type": "application/xml"}, rewrite(list_objects_v2(
        {p[len(BUCKET) + 1:]: d for p, d in server.files.items() if p.startswith(BUCKET + "/")}, request.query)))


def serve(objects: dict[str, bytes], **kwargs) -> LocalServer:
    """A LocalServer holding the bucket `objects`, answering ListObjectsV2 at the bucket root."""
    server = LocalServer({f"{BUCKET}/{k}": v for k, v in objects.items()}, **kwargs)
    server.routes[f"{BUCKET}/"] = listing_route(server)
    return server


def publish(server: LocalServer, objects: dict[str, bytes], **inventory) -> None:
    """Replace what the server holds by `objects` and a fresh inventory of them (`snapshot=` to name it)."""
    server.files = {f"{BUCKET}/{k}": v for k, v in {**objects, **inventory_objects(objects, **inventory)}.items()}
