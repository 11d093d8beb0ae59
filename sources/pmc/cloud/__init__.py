"""PMC article datasets from the PMC Cloud Service bucket `pmc-oa-opendata` (anonymous HTTPS).

Since 2026-08 this is the only bulk route to PMC full text: the FTP packages, `oa_file_list.csv`
and the OA web service (oa.fcgi) are gone (../shared/reference/pmc_cloud_2026.md). The bucket
holds one folder per article version, `PMC<n>.<v>/` with `PMC<n>.<v>.xml` (JATS) and
`PMC<n>.<v>.json` (metadata; also under `metadata/`), plus a daily inventory of the metadata keys.

    s3.py         ListObjectsV2 paging and object URLs
    inventory.py  the daily inventory: newest complete snapshot, MD5-verified shards, rows
    versions.py   a version's metadata JSON, the selection policy, one version per article
    sync.py       the incremental fetch into a raw store, with tombstones for removed versions
    tombstones.py the tombstone file (articles/removed.jsonl) the sync writes and `pmc parse` ledgers
    manifest.py   the store's SQLite manifest
    limits.py     what one sync reads from the bucket at most
"""

LIVE_BUCKET_URL = "https://pmc-oa-opendata.s3.amazonaws.com"  # pmc.base_url null means this
# Hosts a redirect may lead to: the bucket's own, and NCBI's API hosts (`pmc fetch --via efetch|oai`).
ALLOWED_HOSTS = ("pmc-oa-opendata.s3.amazonaws.com", "pmc.ncbi.nlm.nih.gov", "www.ncbi.nlm.nih.gov",
                 "eutils.ncbi.nlm.nih.gov")
