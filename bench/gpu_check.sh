#!/usr/bin/env bash
# One GPU session's checks for the engine (issue 14), in one go, for a machine
# with a CUDA device lent for ~15 minutes. Run from the repository root:
#   bash bench/gpu_check.sh            # everything, ~8-10 min on one GPU
#   QUICK=1 bash bench/gpu_check.sh    # tests + 720p only, ~4 min
# Writes a log to ${OUT:-bench/out}/gpu_check.log. Random weights: speed only.
set -u
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LOG_DIR=${OUT:-bench/out}
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/gpu_check.log"
: > "$LOG"
step() { echo "=== $*" | tee -a "$LOG"; "$@" 2>&1 | tee -a "$LOG"; }

step nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
step "$PY" -c "import torch, onnxruntime as o; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), o.__version__, o.get_available_providers())"
# CUDA-marked tests (fp16 parity figure printed with -s) and the backend parity tests on CUDA-capable torch.
step "$PY" -m pytest tests/ml/test_backends.py -q -s -x -m "cuda or not cuda"
# Model-only speed + parity per backend: fp32, fp16, channels-last (and onnx if onnxruntime-gpu is there).
step "$PY" bench/backends.py --device cuda --rounds 5
step "$PY" bench/backends.py --device cuda --rounds 5 --batch-size 128
# The whole render against the bare network, fp16 off and on, --box.
step "$PY" bench/e2e_vs_model.py --device cuda --backend auto --rounds 2
step "$PY" bench/e2e_vs_model.py --device cuda --backend torch --fp16 --rounds 2
if [ -z "${QUICK:-}" ]; then
  step "$PY" bench/e2e_vs_model.py --device cuda --backend torch --fp16 --rounds 2 --size 1080p
  # Detection versus a cached track (Haar: random S3FD weights find no face), and S3FD's cost per frame on the GPU.
  step "$PY" bench/cache.py --device cuda --backend torch
  step "$PY" bench/cache.py --device cuda --backend torch --size 1080p
  step "$PY" bench/detect_cost.py --device cuda
fi
echo "log: $LOG"
