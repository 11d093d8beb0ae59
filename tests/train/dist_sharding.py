"""Run under torchrun (2 ranks, gloo): shard a tiny model and write what each rank holds.

Used by test_distributed.py; not collected by pytest (no test_ prefix).
"""
import json
import sys

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor

from train.config import ParallelConfig
from train.model import ModelArgs, Transformer
from train.parallel import destroy_distributed, init_distributed, parallelize

out = sys.argv[1]
info = init_distributed("cpu")
torch.manual_seed(0)
model = Transformer(ModelArgs(vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=48, max_seq_len=32))
model.init_weights()
full = {name: p.detach().clone() for name, p in model.named_parameters()}
parallelize(model, info, ParallelConfig())
report = {}
for name, p in model.named_parameters():
    local = p.to_local() if isinstance(p, DTensor) else p
    gathered = p.full_tensor() if isinstance(p, DTensor) else p
    report[name] = {
        "dtensor": isinstance(p, DTensor),
        "sharded_dim0": isinstance(p, DTensor) and [pl.is_shard(dim=0) for pl in p.placements] == [True],
        "full_shape": list(full[name].shape),
        "local_shape": list(local.shape),
        "full_matches": bool(torch.equal(gathered.detach(), full[name])),
        "local_sum": float(local.detach().double().sum()),
    }
with open(f"{out}.rank{info.rank}.json", "w") as fh:
    json.dump({"world": info.world_size, "params": report}, fh)
dist.barrier()
destroy_distributed()
