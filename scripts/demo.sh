#!/usr/bin/env bash
# The end-to-end demo: serve the real sample data in ../shared on 127.0.0.1 the way NCBI lays
# it out, point the pipeline at it (params.yaml) and run every stage with `dvc repro`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
SHARED=${MEDCURATE_SHARED:-../shared}

python -m pipelines.demo_server --shared "$SHARED" --params params.yaml &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
base=$(python -c "from pipelines.params import load_params, param; print(param(load_params(), 'pubmed.base_url'))")
for _ in $(seq 50); do
  curl -sf -o /dev/null "$base/baseline/" && break
  kill -0 $server 2>/dev/null || { echo "demo: the sample server did not start" >&2; exit 1; }
  sleep 0.2
done

start=$(date +%s)
dvc repro "$@"
echo
echo "== summary (medcurate summary; every number is also in metrics/*.json, see dvc metrics show) =="
medcurate summary --metrics metrics
echo
echo "== outputs =="
echo "raw stores:     data/raw/{pubmed,pmc,guidelines/<site>} (each with its manifest)"
echo "stage folders:  data/parsed/<source>  data/filtered  data/dedup  data/mix/{train,validation}"
echo "ledgers:        <stage folder>/ledger/*.parquet   errors: <stage folder>/errors/*.parquet"
echo "dataset card:   data/mix/README.md (plots in data/mix/plots/)"
echo "model:          models/tiny-cpu (checkpoints/, hf/, metrics.jsonl); summary: metrics/train.json"
echo "demo finished in $(( $(date +%s) - start ))s"
