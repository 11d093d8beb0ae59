"""Peak memory of HttpClient against hostile servers: one that never ends, one announcing a huge body.

    .venv/bin/python benchmarks/bench_http_caps.py [--download-cap-mib 1024] [--out benchmarks/results/http_caps.json]

Server: tests/sources/ncbi_server.LocalServer on 127.0.0.1 in this process: `/endless` sends zeros
until the client hangs up (no Content-Length), `/huge` announces a 10 GiB Content-Length and then
sends zeros forever.

Each case runs in a fresh child interpreter (so ru_maxrss is that case's alone): it imports
sources.http, makes one small warm-up GET (the baseline RSS is taken after it), then runs the case
with the shipped caps (params.yaml http: 64 MiB per answer, 8 GiB per download) except the
never-ending download, capped at `--download-cap-mib` to spare the disk (it streams, so its memory
does not depend on the cap). Recorded per case: the exception, baseline and peak RSS (MiB), wall
and CPU seconds, and the bytes left on disk.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "sources"))

from ncbi_server import LocalServer, Reply  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from sources.http import HttpClient

def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

client = HttpClient(retries=0, deadline=600)
client.get({warm!r})
baseline = rss_mib()
started, cpu = time.monotonic(), time.process_time()
try:
    {call}
    raised = None
except Exception as exc:
    raised = f"{{type(exc).__name__}}: {{exc}}"
dest = Path({dest!r})
left = sum(p.stat().st_size for p in dest.parent.iterdir()) if dest.parent.exists() else 0
print(json.dumps({{"raised": raised, "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(rss_mib(), 1),
                  "wall_s": round(time.monotonic() - started, 2), "cpu_s": round(time.process_time() - cpu, 2),
                  "bytes_left_on_disk": left}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--download-cap-mib", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "http_caps.json")
    args = parser.parse_args()
    routes = {"/endless": lambda request: Reply(200, {}, b"", endless=True),
              "/huge": lambda request: Reply(200, {}, b"", endless=True, length=10 << 30),
              "/warm": lambda request: Reply(200, {}, b"ok")}
    results = {}
    with LocalServer(routes=routes) as server, tempfile.TemporaryDirectory() as tmp:
        cap = args.download_cap_mib << 20
        cases = {
            "get, never-ending body (cap 64 MiB)": ("client.get({url!r})", "/endless"),
            "get, Content-Length 10 GiB (cap 64 MiB)": ("client.get({url!r})", "/huge"),
            f"download, never-ending body (cap {args.download_cap_mib} MiB)":
                (f"client.download({{url!r}}, {{dest!r}}, max_bytes={cap})", "/endless"),
            "download, Content-Length 10 GiB (cap 8 GiB)": ("client.download({url!r}, {dest!r})", "/huge"),
        }
        for number, (name, (call, path)) in enumerate(cases.items()):
            dest = str(Path(tmp) / f"case{number}" / "object.bin")
            code = CHILD.format(repo=str(REPO), warm=server.url("/warm"), dest=dest,
                                call=call.format(url=server.url(path), dest=dest))
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
            print(name, results[name], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
