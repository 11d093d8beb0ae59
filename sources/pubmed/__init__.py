"""PubMed abstracts: baseline/update bulk files, E-utilities, and PubMed XML parsing."""
