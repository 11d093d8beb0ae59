"""One module or package per source: it knows its remote layout, fetches raw bytes politely
into a raw store, and parses raw bytes into documents (curation.schema)."""
