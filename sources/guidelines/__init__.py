"""Clinical practice guidelines: a polite crawler, per-site adapters, HTML and PDF extraction.

fetch:  site (sites/) -> adapter.discover -> Fetcher (robots.txt, resume, caps) -> PageStore
parse:  PageStore page -> adapter.parse -> extraction -> sections -> cleaning -> classify -> Outcome
"""
