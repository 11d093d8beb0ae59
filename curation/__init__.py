"""medcurate's library: the document contract, shard I/O, ledgers and curation steps.

Pure functions and small classes over documents and shards; no network and no CLI here.
"""
