#!/usr/bin/env bash
# One GPU session's checks for the engine (issue 14), in one go, for a machine
# with a CUDA device lent for ~15 minutes. Run from the repository root:
#   bash bench/gpu_check.sh            # everything, ~8-10 min on one GPU
#   QUICK=1 bash bench/gpu_check.sh    # tests + 720p only, ~4 min
# Writes a log to ${OUT:-bench/out}/gpu_check.log. Random weights: speed only.
#
# On a machine with CUDA PyTorch but without the engine's other packages (the
# lent GPU machines: Python 3.12, no network), first download their wheels
# here with `bash bench/gpu_wheels.sh` (into .whl/, git-ignored) and carry
# .whl with the call: this script installs them into /tmp/site first.
set -u
if [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "installing the carried wheels failed"; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export PYTHONUNBUFFERED=1
LOG_DIR=${OUT:-bench/out}
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/gpu_check.log"
: > "$LOG"
step() { echo "=== $*" | tee -a "$LOG"; "$@" 2>&1 | tee -a "$LOG"; }

step nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
step "$PY" -c "import torch, onnxruntime as o, av, librosa, face_alignment; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), o.__version__, o.get_available_providers(), 'av', av.__version__)"
# The backend and CUDA-marked tests (fp16 and bf16 parity figures printed with -s).
# Where Django is not installed (the engine alone), pytest runs without its plugin.
NO_DJANGO=()
"$PY" -c "import django, pytest_django" 2> /dev/null || NO_DJANGO=(-p no:django -p no:cacheprovider)
step "$PY" -m pytest tests/ml/test_backends.py -q -s -x "${NO_DJANGO[@]}"
# Model-only speed + parity per backend: fp32, fp16, bf16, channels-last (and onnx if onnxruntime-gpu is there).
step "$PY" bench/backends.py --device cuda --rounds 5
step "$PY" bench/backends.py --device cuda --rounds 5 --batch-size 128
# The whole render against the bare network, fp16 off and on, --box.
step "$PY" bench/e2e_vs_model.py --device cuda --backend auto --rounds 2
step "$PY" bench/e2e_vs_model.py --device cuda --backend torch --precision fp16 --rounds 2
if [ -z "${QUICK:-}" ]; then
  step "$PY" bench/e2e_vs_model.py --device cuda --backend auto --rounds 2 --size 1080p
  step "$PY" bench/e2e_vs_model.py --device cuda --backend torch --precision fp16 --rounds 2 --size 1080p
  # Detection versus a cached track (Haar: random S3FD weights find no face), and S3FD's cost per frame on the GPU.
  step "$PY" bench/cache.py --device cuda --backend torch
  step "$PY" bench/cache.py --device cuda --backend torch --size 1080p
  step "$PY" bench/detect_cost.py --device cuda
fi
echo "log: $LOG"
