"""Entry point: `torchrun --nproc_per_node=N -m train.launch --config FILE`, or plain `python -m train.launch`.

Without torchrun's environment it runs as a single process (a 1-rank group, the same code path).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml

from train.config import load_config
from train.parallel import destroy_distributed, init_distributed
from train.trainer import RunSummary, Trainer, format_summary


def run(config_path: Path, overrides: dict | None = None) -> RunSummary:
    cfg = load_config(config_path, overrides)
    dist_info = init_distributed(cfg.device)
    logging.basicConfig(
        level=logging.INFO if dist_info.is_main else logging.WARNING,
        format=f"%(asctime)s [rank {dist_info.rank}] %(message)s", stream=sys.stderr,
    )
    try:
        summary = Trainer(cfg, dist_info).train()
        if dist_info.is_main:
            print(format_summary(summary, dist_info.device), flush=True)
        return summary
    finally:
        destroy_distributed()


def parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {pair!r}")
        out[key] = yaml.safe_load(value)  # numbers, booleans and lists as YAML reads them
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train.launch", description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.lr=1e-3 --set steps=10")
    args = parser.parse_args(argv)
    run(args.config, parse_overrides(args.set))
    return 0


if __name__ == "__main__":
    sys.exit(main())
