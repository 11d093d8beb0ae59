"""PubMed Central Open Access: listing, packages, fetch, JATS to training text, licences."""
