"""Run every benchmark in turn (engine: CPU, random weights; web: stream_memory.py): `make bench`.

Each script prints its own numbers and targets; see docs/engine.md.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["backends.py", "e2e_vs_model.py", "cache.py", "s3fd_first_render.py", "memory.py", "detect_cost.py", "stream_memory.py"]

if __name__ == "__main__":
    failed = []
    for script in SCRIPTS:
        print(f"=== {script}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *sys.argv[1:]], cwd=HERE.parent).returncode:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
