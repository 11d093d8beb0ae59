"""WHO IRIS (iris.who.int, DSpace) through OAI-PMH, plus the guideline PDFs it links.

See sources/guidelines/api/oai_pmh.py; tested on responses built from the OAI-PMH 2.0 format.
Most IRIS items are CC BY-NC-SA 3.0 IGO (read per record from dc:rights): redistributable for
non-commercial use with attribution and share-alike, which the card must carry.
"""
from sources.guidelines.api.oai_pmh import OaiPmh
from sources.guidelines.site import Sections, Site

WHO = Site(
    name="who_iris",
    source="who",
    description="WHO IRIS guideline PDFs via OAI-PMH (oai_dc)",
    base_url="https://iris.who.int",
    license="CC-BY-NC-SA-3.0-IGO",
    redistributable=True,
    tested_on="responses built from the OAI-PMH 2.0 specification (ListRecords, oai_dc, resumptionToken)",
    sections=Sections(stop=(r"^annex(es)?\b", r"^web annex\b")),
    min_words=500,
    rate=0.5,
    max_pages=2000,
    adapter=OaiPmh(),
    options=(("endpoint", "/server/oai/request"), ("types", r"guideline"), ("languages", r"^en")),
)

SITES = (WHO,)
