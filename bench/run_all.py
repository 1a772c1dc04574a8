"""Run every benchmark in turn (engine: CPU, random weights; web: stream_memory.py): `make bench`.

Each script prints its own numbers and targets; see docs/engine.md. Where the
device has a reduced precision (bf16 on a CPU with AVX-512 BF16/AMX), the
end-to-end benchmark runs a second time with it (opt-in per worker).
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["backends.py", "e2e_vs_model.py", "cache.py", "s3fd_first_render.py", "memory.py", "detect_cost.py", "stream_memory.py"]


def reduced_precision_runs(argv: list[str]) -> list[list[str]]:
    if "--precision" in argv or "--fp16" in argv:
        return []
    sys.path.insert(0, str(HERE.parent))
    from ml.infer import pick_device, precision_unsupported

    device = argv[argv.index("--device") + 1] if "--device" in argv else "cpu"
    reduced = [p for p in ("bf16", "fp16") if precision_unsupported(pick_device(device), p) is None]
    return [["e2e_vs_model.py", "--precision", p] for p in reduced]


if __name__ == "__main__":
    failed = []
    runs = [[script] for script in SCRIPTS] + reduced_precision_runs(sys.argv[1:])
    for script, *extra in runs:
        print(f"=== {script} {' '.join(extra)}".rstrip(), flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *sys.argv[1:], *extra], cwd=HERE.parent).returncode:
            failed.append(" ".join([script, *extra]))
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
