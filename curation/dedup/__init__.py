"""Deduplication: keys, survivor choice and the drop plan, over narrow rows (ids and hashes).

Whole documents never travel to the planner: a stage reads narrow rows per shard, the planner
decides which ids drop and why, and each shard applies its part of the plan.
"""
