"""PMC listing: the OA web service (paging, errors in 200 answers) and every bulk list layout."""
import json

import pytest

from conftest import FIXTURES
from sources.errors import InputError
from sources.http import HttpClient
from sources.pmc.listing import OaServiceError, lookup_ids, iter_oa_service, parse_file_list, parse_oa_response, select

try:
    from tests.sources.ncbi_server import LocalServer, Reply
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from ncbi_server import LocalServer, Reply

OA = FIXTURES / "pmc_oa_service"
CSV_ROWS = (OA / "oa_file_list_2020-02_first150rows_noheader.csv").read_text().splitlines()
RECORDED = (OA / "oa_fcgi_id_PMC7906746_record_tgz.xml").read_bytes()
# The error body NCBI sends with HTTP 200 (formats.md §2, observed form).
NOT_OA = (b'<OA><responseDate>2026-01-02 10:00:00</responseDate><request>https://www.ncbi.nlm.nih.gov/pmc/utils/oa/oa.fcgi'
          b'</request><error code="idIsNotOpenAccess">identifier \'PMC145899\' is not Open Access</error></OA>')


def client() -> HttpClient:
    return HttpClient(retries=1, backoff=0.0, jitter=0.0, timeout=5)


def test_recorded_oa_answer():
    records, next_url = parse_oa_response(RECORDED)
    assert next_url is None
    (record,) = records
    assert record.pmcid == "PMC7906746" and record.retracted is False and record.updated == "2022-12-16 07:10:15"
    assert record.links == {"tgz": "ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_package/f1/69/PMC7906746.tar.gz"}
    assert json.loads(record.to_json())["license"] == "none"


def test_error_inside_a_200_answer():
    with pytest.raises(OaServiceError) as caught:
        parse_oa_response(NOT_OA)
    assert caught.value.code == "idIsNotOpenAccess"
    with pytest.raises(InputError):
        parse_oa_response(b"<html><body>maintenance</body></html>")


def _page(records: str, token: str | None) -> bytes:
    resumption = (f'<resumption><link token="{token}" href="https://www.ncbi.nlm.nih.gov/pmc/utils/oa/oa.fcgi?'
                  f'resumptionToken={token}"/></resumption>') if token else ""
    return f'<OA><responseDate>x</responseDate><request>x</request><records returned-count="1" total-count="2">{records}{resumption}</records></OA>'.encode()


def test_date_window_follows_resumption_tokens_on_the_configured_host():
    first = RECORDED.split(b"<records")[1].split(b">", 1)[1].split(b"</records>")[0].decode()
    second = first.replace("PMC7906746", "PMC7906747").replace('license="none"', 'license="CC BY"')
    pages = {None: _page(first, "TOKEN-2"), "TOKEN-2": _page(second, None)}

    def route(request):
        return Reply(200, {}, pages[request.query.get("resumptionToken")])

    with LocalServer(routes={"/oa.fcgi": route}) as server:
        records = list(iter_oa_service(client(), server.url("/oa.fcgi"), from_date="2022-12-01", until="2022-12-31"))
        asked = [seen.request.query for seen in server.seen("/oa.fcgi")]
    assert [r.pmcid for r in records] == ["PMC7906746", "PMC7906747"]
    assert asked[0] == {"from": "2022-12-01", "until": "2022-12-31", "format": "tgz"}
    assert asked[1] == {"resumptionToken": "TOKEN-2"}  # the token, sent to our host, not the href's
    assert [r.pmcid for r in select(records)] == ["PMC7906747"]


def test_lookup_by_id_reports_refusals():
    def route(request):
        return Reply(200, {}, RECORDED if request.query["id"] == "PMC7906746" else NOT_OA)

    with LocalServer(routes={"/oa.fcgi": route}) as server:
        found, refused = lookup_ids(client(), server.url("/oa.fcgi"), ["PMC7906746", "PMC145899"])
    assert [r.pmcid for r in found] == ["PMC7906746"] and refused == {"PMC145899": "idIsNotOpenAccess"}


def test_headerless_legacy_csv():
    records = parse_file_list("\n".join(CSV_ROWS).encode())
    first = records[0]
    assert (first.pmcid, first.pmid, first.updated, first.links) == (
        "PMC13900", "11250746", "2019-11-05 11:56:12", {"tgz": "oa_package/08/e0/PMC13900.tar.gz"})
    assert first.citation == "Breast Cancer Res. 2001 Nov 2; 3(1):55-60"


def test_txt_list_and_headed_csv_give_the_same_records():
    rows = [row.split(",") for row in CSV_ROWS[:20]]
    # Citations hold commas only inside quotes in the real list; the first 20 rows have none.
    assert all(len(r) == 6 for r in rows)
    txt = "2020-02-01 00:00:00\n" + "".join(f"{r[0]}\t{r[1]}\t{r[2]}\tPMID:{r[4]}\t{r[5]}\n" for r in rows)
    header = "File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License\n"
    from_txt = parse_file_list(txt.encode())
    from_csv = parse_file_list((header + "\n".join(CSV_ROWS[:20])).encode())
    assert [(r.pmcid, r.pmid, r.license, r.links) for r in from_txt] == [(r.pmcid, r.pmid, r.license, r.links) for r in from_csv]
    assert len(from_csv) == 20


def test_bulk_filelist_and_cloud_version_metadata():
    filelist = ('Article File,Article Citation,AccessionID,LastUpdated (YYYY-MM-DD HH:MM:SS),PMID,License,Retracted\n'
                'PMC006xxxxxx/PMC6908519.xml,"Front Oncol. 2019 Dec 6; 9:1306",PMC6908519,"2024-02-07 23:35:31",31867269,"CC BY",no\n'
                'PMC006xxxxxx/PMC6908520.xml,"X. 2019",PMC6908520,"2024-02-07 23:35:31",,"CC BY",yes\n')
    records = parse_file_list(filelist.encode())
    assert [(r.pmcid, r.license_code, r.retracted, r.links) for r in records] == [
        ("PMC6908519", "CC-BY", False, {"xml": "PMC006xxxxxx/PMC6908519.xml"}),
        ("PMC6908520", "CC-BY", True, {"xml": "PMC006xxxxxx/PMC6908520.xml"}),
    ]
    assert [r.pmcid for r in select(records)] == ["PMC6908519"]  # retracted ones stay out by default
    meta = {"pmcid": "PMC7759461", "version": 1, "pmid": 32939066, "license_code": "CC BY", "is_pmc_openaccess": True,
            "is_retracted": False, "xml_url": "s3://pmc-oa-opendata/PMC7759461.1/PMC7759461.1.xml?md5=2ba3"}
    closed = dict(meta, pmcid="PMC1", is_pmc_openaccess=False)
    (record,) = parse_file_list((json.dumps(meta) + "\n" + json.dumps(closed) + "\n").encode())
    assert (record.pmcid, record.pmid, record.license_code, record.links["xml"][:5]) == ("PMC7759461", "32939066", "CC-BY", "s3://")


def test_select_by_date_and_pmcid():
    records = parse_file_list("\n".join(CSV_ROWS).encode())
    recent = select(records, families=None, since="2019-01-01")
    assert recent and all(r.updated >= "2019-01-01" for r in recent)
    assert len(recent) < len(records)
    picked = select(records, families=None, pmcids=["13901", "PMC13900", "PMC99999999"])
    assert [r.pmcid for r in picked] == ["PMC13900", "PMC13901"]
