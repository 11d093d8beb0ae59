"""OA packages: only the .nxml is read, hostile archives are refused; fetch into a raw store."""
import gzip
import io
import json
import tarfile

import pytest

from conftest import FIXTURES
from sources.errors import HostileInputError, InputError
from sources.http import HttpClient
from sources.pmc.fetch import fetch_efetch, fetch_oai, fetch_packages, package_url
from sources.pmc.listing import OaRecord
from sources.pmc.packages import read_articles, read_package

try:
    from tests.sources.ncbi_server import LocalServer, Reply
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from ncbi_server import LocalServer, Reply

NXML = (FIXTURES / "pmc_jats" / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml").read_bytes()


def build(members: list[tuple], fmt=tarfile.PAX_FORMAT) -> bytes:
    """A .tar.gz from (name, data) regular files or (name, kind, target) links/dirs/fifos."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w", format=fmt) as tar:
        for member in members:
            info = tarfile.TarInfo(member[0])
            if len(member) == 2:
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
            else:
                info.type = {"sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "dir": tarfile.DIRTYPE, "fifo": tarfile.FIFOTYPE}[member[1]]
                info.linkname = member[2]
                tar.addfile(info)
    return buffer.getvalue()


def read(data: bytes, **caps):
    return read_articles(io.BytesIO(data), "test.tar.gz", **caps)


def test_genuine_package_gives_only_the_nxml():
    data = build([("PMC3166277/", "dir", ""), ("PMC3166277/1471-2180-11-174-1.jpg", b"\xff\xd8" * 5000),
                  ("PMC3166277/1471-2180-11-174.nxml", NXML), ("PMC3166277/1471-2180-11-174.pdf", b"%PDF-1.4")])
    (member,) = read(data)
    assert member.name == "PMC3166277/1471-2180-11-174.nxml" and member.data == NXML


@pytest.mark.parametrize("members, message", [
    ([("../../evil.nxml", NXML)], "leaves the package"),
    ([("PMC1/../../etc/x.nxml", NXML)], "leaves the package"),
    ([("/abs/evil.nxml", NXML)], "absolute"),
    ([("PMC1/a.nxml", "sym", "/etc/passwd")], "link"),
    ([("PMC1/a.nxml", NXML), ("PMC1/b.nxml", "hard", "PMC1/a.nxml")], "link"),
    ([("PMC1/pipe", "fifo", "")], "special"),
    ([("PMC1/huge.nxml", b"x" * 2048)], "cap"),
    ([(f"PMC1/f{i}.jpg", b"x") for i in range(30)] + [("PMC1/a.nxml", NXML)], "more than"),
])
def test_hostile_archives_are_refused(members, message):
    with pytest.raises(HostileInputError, match=message):
        read(build(members), max_nxml_bytes=1024 if message == "cap" else 1 << 20, max_members=20)


def test_total_size_cap_bounds_skipped_media():
    with pytest.raises(HostileInputError, match="add up"):
        read(build([("PMC1/big.tif", b"\0" * 10_000), ("PMC1/a.nxml", NXML)]), max_total_bytes=5_000)


def test_damaged_or_empty_packages_are_input_errors(tmp_path):
    good = build([("PMC1/a.nxml", NXML)])
    with pytest.raises(InputError, match="corrupt or truncated"):
        read(good[: len(good) // 2])
    with pytest.raises(InputError, match="no article XML"):
        read(build([("PMC1/a.jpg", b"x")]))
    with pytest.raises(InputError):
        read_package(tmp_path / "missing.tar.gz")


def test_package_url_rebases_listed_links():
    assert package_url("http://127.0.0.1:1/pmc/", "ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_package/f1/69/PMC7906746.tar.gz") == \
        "http://127.0.0.1:1/pmc/oa_package/f1/69/PMC7906746.tar.gz"
    assert package_url("https://ftp.ncbi.nlm.nih.gov/pub/pmc", "oa_package/08/e0/PMC13900.tar.gz") == \
        "https://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_package/08/e0/PMC13900.tar.gz"


def client() -> HttpClient:
    return HttpClient(retries=3, backoff=0.0, jitter=0.0, timeout=5)


def test_fetch_packages_writes_only_articles_resumes_and_records_hostile_ones(tmp_path):
    files = {
        "/pmc/oa_package/aa/bb/PMC3166277.tar.gz": build([("PMC3166277/x.nxml", NXML), ("PMC3166277/f.jpg", b"j" * 100)]),
        "/pmc/oa_package/cc/dd/PMC2.tar.gz": build([("../../../escape.nxml", NXML)]),
    }
    records = [OaRecord("PMC3166277", "CC BY", "CC-BY", links={"tgz": "oa_package/aa/bb/PMC3166277.tar.gz"}),
               OaRecord("PMC2", "CC BY", "CC-BY", links={"tgz": "ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_package/cc/dd/PMC2.tar.gz"})]
    raw = tmp_path / "raw"
    with LocalServer(files, fault_rate=0.3, seed=3) as server:
        report = fetch_packages(records, server.url("/pmc"), raw, client=client())
        assert report.fetched == ["PMC3166277"] and [f["id"] for f in report.failed] == ["PMC2"]
        assert (raw / "articles" / "PMC3166277.nxml").read_bytes() == NXML
        written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
        assert written == ["raw/articles/PMC3166277.nxml", "raw/manifest.jsonl"]  # no media, no package, no escape
        manifest = [json.loads(line) for line in (raw / "manifest.jsonl").read_text().splitlines()]
        assert {e["pmcid"]: bool(e.get("error")) for e in manifest} == {"PMC3166277": False, "PMC2": True}
        before = (raw / "manifest.jsonl").read_bytes()
        served = len(server.seen("/pmc/oa_package/aa"))
        again = fetch_packages(records[:1], server.url("/pmc"), raw, client=client())
        assert again.skipped == ["PMC3166277"] and len(server.seen("/pmc/oa_package/aa")) == served
        assert (raw / "manifest.jsonl").read_bytes() == before


EFETCH = (FIXTURES / "eutils" / "efetch_pmc_8435807_correction.xml").read_bytes()
OAI = (FIXTURES / "pmc_jats" / "PMC6500000_oai-pmh-getrecord.xml").read_bytes()
OAI_ERROR = (b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>x</responseDate>'
             b'<request>x</request><error code="idDoesNotExist">unknown</error></OAI-PMH>')


def test_fetch_efetch_and_oai(tmp_path):
    def efetch(request):
        return Reply(200, {}, EFETCH if request.query.get("db") == "pmc" else b"<eFetchResult><ERROR>bad</ERROR></eFetchResult>")

    def oai(request):
        return Reply(200, {}, OAI if request.query["identifier"].endswith(":6500000") else OAI_ERROR)

    with LocalServer(routes={"/eutils/efetch.fcgi": efetch, "/oai": oai}) as server:
        report = fetch_efetch(["PMC8435807"], server.url("/eutils"), tmp_path / "raw", client=client(), api_key="k" * 20)
        assert report.fetched == ["efetch/pmc-8435807-8435807.xml"]
        assert (tmp_path / "raw" / "efetch" / "pmc-8435807-8435807.xml").read_bytes() == EFETCH
        assert "k" * 20 not in (tmp_path / "raw" / "manifest.jsonl").read_text()
        report = fetch_oai(["PMC6500000", "PMC1"], server.url("/oai"), tmp_path / "raw", client=client())
    assert report.fetched == ["PMC6500000"] and report.failed[0]["id"] == "PMC1"
    assert "idDoesNotExist" in report.failed[0]["reason"]
    assert (tmp_path / "raw" / "oai" / "PMC6500000.xml").read_bytes() == OAI
