"""Deduplication and benchmark decontamination over documents of every source.

Whole documents never travel between machines: each input shard is read for its narrow keys,
only (kind, hash, gid) rows are shuffled, the planner decides which rows drop and why, and each
shard applies its part of the plan. The passes, one module each:

1. shard_keys: per shard, text hashes (keys), MinHash signatures and LSH bands (minhash, on the
   word n-grams of ngrams), identifiers, benchmark contamination (decontam); shuffle keys
   partitioned by hash (shuffle);
2. partition_edges: per partition, duplicate pairs, LSH candidates verified by their signatures;
3. drop_plan: union-find over all edges, one survivor per cluster (survivor) and a reason for
   every other member (cluster_reasons); the per-shard plan, and splitting a shard by it;
4. applying the plan is the stage's (pipelines/stages/dedup.py), with curation.stats.table_stats for its counts.

settings holds the one settings dataclass; workdir the files the passes leave for each other.
"""
