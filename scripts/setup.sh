#!/usr/bin/env bash
# Create .venv and install medcurate with its dev extra. Idempotent: a second run is quick.
# torch comes first, pinned, so that pip takes the CPU wheel stored on these machines rather
# than a multi-GB CUDA build from the index.
#
# scripts/setup.sh --gpu (on a CUDA machine) then adds flash-attn, which `pip install .[gpu]` alone
# cannot do: flash-attn's setup.py imports torch, and pip builds it in an isolated environment
# without torch. So the [gpu] extra holds only its build tools, and flash-attn is installed
# against the torch already in .venv with --no-build-isolation (a prebuilt wheel when one matches
# torch/CUDA/Python, else a compile: minutes with ninja, MAX_JOBS limits its memory).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
gpu=0
for arg in "$@"; do
  case "$arg" in
    --gpu) gpu=1 ;;
    -h|--help) echo "usage: scripts/setup.sh [--gpu]"; exit 0 ;;
    *) echo "setup.sh: unknown argument $arg (usage: scripts/setup.sh [--gpu])" >&2; exit 2 ;;
  esac
done
if [ "$gpu" = 1 ]; then
  # Before installing anything: without a driver there is nothing to build flash-attn for.
  smi=${NVIDIA_SMI:-nvidia-smi}
  if ! "$smi" -L >/dev/null 2>&1; then
    echo "setup.sh --gpu: no CUDA GPU here ($smi -L failed or is missing). flash-attn needs an NVIDIA GPU" \
         "and driver; run plain scripts/setup.sh for the CPU install (training then uses SDPA)." >&2
    exit 3
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.medcurate-installed
want=$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet torch==2.13.0
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  echo "$want" > "$stamp"
fi
[ "$gpu" = 1 ] || exit 0

if ! .venv/bin/python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  cuda=$(.venv/bin/python -c "import torch; print(torch.__version__, 'CUDA', torch.version.cuda)")
  echo "setup.sh --gpu: the torch in .venv ($cuda) cannot use this GPU: it is a CPU build or does not" \
       "match the driver. Install a CUDA build first, e.g." \
       ".venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128, then rerun." >&2
  exit 3
fi
.venv/bin/python -m pip install --quiet -e '.[dev,gpu]'   # flash-attn's build tools (ninja, packaging, ...)
if ! .venv/bin/python -c "import flash_attn" 2>/dev/null; then
  echo "setup.sh --gpu: installing flash-attn against $(.venv/bin/python -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)')"
  MAX_JOBS=${MAX_JOBS:-4} .venv/bin/python -m pip install "flash-attn>=2.6" --no-build-isolation
fi
# The check the trainer makes at start-up: one tiny varlen call against SDPA on this GPU.
.venv/bin/python - <<'PY'
import torch
from train.attention import smoke_call
for impl in ("flash_attn", "varlen"):
    problem = smoke_call(impl, torch.device("cuda"), torch.bfloat16)
    print(f"setup.sh --gpu: {impl}: {'works' if problem is None else 'not usable: ' + problem}")
PY
