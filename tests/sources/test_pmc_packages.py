"""OA packages (local archives): only the .nxml is read, hostile archives are refused; efetch and OAI-PMH fetches."""
import gzip
import json
import io
import tarfile

import pytest

from conftest import FIXTURES
from sources.errors import HostileInputError, InputError
from sources.http import HttpClient
from sources.pmc.fetch import fetch_efetch, fetch_oai
from sources.pmc.packages import iter_articles, read_articles, read_package

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


def test_article_members_are_handed_on_one_at_a_time_under_a_cap_on_them_all():
    """Each article member is read only when asked for (the first is in hand before the second's
    header is read), and the article XML of all members together is capped: the member whose
    header takes it past `max_nxml_bytes` is refused before its body is read."""
    second = (FIXTURES / "pmc_jats" / "PMC2329613_bmc-oral-health_1472-6831-8-11.nxml").read_bytes()
    data = build([("PMC1/a.nxml", NXML), ("PMC1/f1.jpg", b"x" * 100), ("PMC1/b.nxml", second)])
    members = iter_articles(io.BytesIO(data), "two.tar.gz", max_nxml_bytes=len(NXML) + len(second) - 1)
    first = next(members)
    assert (first.name, first.data) == ("PMC1/a.nxml", NXML)
    with pytest.raises(HostileInputError, match=f"member 'PMC1/b.nxml' of {len(second)} bytes takes the article XML past"):
        next(members)
    assert [m.data for m in read(data, max_nxml_bytes=len(NXML) + len(second))] == [NXML, second]
    # A package cut inside its second article: the first was handed on before the damage was met.
    cut = gzip.compress(gzip.decompress(data)[: 512 * 5 + len(NXML)], mtime=0)
    members = iter_articles(io.BytesIO(cut), "cut.tar.gz")
    assert next(members).data == NXML
    with pytest.raises(InputError, match="corrupt or truncated"):
        next(members)


def test_damaged_or_empty_packages_are_input_errors(tmp_path):
    good = build([("PMC1/a.nxml", NXML)])
    with pytest.raises(InputError, match="truncated"):
        read(good[: len(good) // 2])
    with pytest.raises(InputError, match="no article XML"):
        read(build([("PMC1/a.jpg", b"x")]))
    with pytest.raises(InputError):
        read_package(tmp_path / "missing.tar.gz")


def client() -> HttpClient:
    return HttpClient(retries=3, backoff=0.0, jitter=0.0, timeout=5)


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


def test_a_package_whose_pax_header_claims_a_gigabyte_is_refused_unread():
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, 1 << 30
    hostile = gzip.compress(info.tobuf(format=tarfile.PAX_FORMAT) + b"\0" * (1 << 20), mtime=0)
    with pytest.raises(HostileInputError, match="header"):
        read(hostile)


def test_pmc_efetch_never_stores_or_reports_an_echoed_key(tmp_path):
    key = "e" * 12 + "1234567890"
    echoed = EFETCH.replace(b"</pmc-articleset>", f"<!-- api_key={key} --></pmc-articleset>".encode())

    def efetch(request):
        if request.query.get("id") == "1":
            return Reply(200, {}, f"<eFetchResult><ERROR>bad key {key}</ERROR></eFetchResult>".encode())
        return Reply(200, {}, echoed)

    with LocalServer(routes={"/eutils/efetch.fcgi": efetch}) as server:
        report = fetch_efetch(["PMC8435807"], server.url("/eutils"), tmp_path / "raw", client=client(), api_key=key)
        failed = fetch_efetch(["PMC1"], server.url("/eutils"), tmp_path / "raw", client=client(), api_key=key)
    assert report.fetched and failed.failed and key not in failed.failed[0]["reason"]
    for path in (tmp_path / "raw").rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
    entry = next(json.loads(line) for line in (tmp_path / "raw" / "manifest.jsonl").read_text().splitlines() if "ids" in line)
    assert entry["redacted"] is True
