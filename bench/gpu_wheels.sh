#!/usr/bin/env bash
# Download, here, the Python 3.12 x86-64 wheels the engine needs on a lent GPU
# machine that has CUDA PyTorch, numpy, OpenCV, scikit-image, scipy, numba and
# onnxruntime but no network: PyAV, librosa and its small dependencies, and
# face-alignment (without its dependencies: it asks for opencv-python, which
# would replace the headless build). About 37 MiB, into .whl/ (git-ignored
# through .git/info/exclude). Versions are the pinned ones (requirements*.txt).
# Then: bash bench/gpu_check.sh on that machine, carrying .whl.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2> /dev/null || echo /.whl/ >> .git/info/exclude
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
pin() { grep -i -h -E "^$1==" requirements.txt requirements-nodeps.txt | head -1; }
NAMES=(av librosa soxr audioread pooch decorator soundfile cffi pycparser face-alignment)
SPECS=()
for name in "${NAMES[@]}"; do
  spec=$(pin "$name")
  [ -n "$spec" ] || { echo "no pinned version of $name in requirements*.txt" >&2; exit 1; }
  SPECS+=("$spec")
done
rm -rf .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${SPECS[@]}"
du -sh .whl
