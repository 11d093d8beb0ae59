"""Continued pretraining of a Llama-architecture decoder on the mix stage's shards.

One concern per module: model (no distributed code), attention (backend dispatch), data
(Parquet streaming + packing), parallel (FSDP2 and friends, applied from outside), optim,
checkpoint (DCP), hf_io (Hugging Face format), metrics, config, trainer (the loop), launch.
Imports from the rest of the project: curation.schema and curation.tokenizer only.
"""
