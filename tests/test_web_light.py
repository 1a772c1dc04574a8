"""The web process stays light: daphne imports the ASGI app and the URLconf,
never the ML stack (torch, librosa, face-alignment). Only workers and the
CLI load it."""

from __future__ import annotations

import json
import os
import subprocess

from tests.processes import ROOT, python

HEAVY = ("torch", "librosa", "face_alignment", "numba", "sherpa_onnx", "onnxruntime", "espeakng_loader")
RSS_LIMIT_MIB = 150

PROBE = f"""
import json, sys
HEAVY = {HEAVY!r}
import psutil
from heygem_site.asgi import application
from django.urls import get_resolver, resolve, reverse
get_resolver().url_patterns
for name, args in (("home", []), ("projects:list", []), ("rendering:batch", [1]), ("rendering:history", []),
                   ("rendering:render_row", [1]), ("healthz", []), ("login", []),
                   ("speech:create", [1]), ("speech:detail", [1])):
    resolve(reverse(name, args=args))
print(json.dumps({{
    "heavy": sorted(m for m in HEAVY if m in sys.modules),
    "rss_mib": psutil.Process().memory_info().rss / 2**20,
}}))
"""


def test_the_web_process_imports_no_ml_stack(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="heygem_site.settings", HEYGEM_VAR_DIR=str(tmp_path / "var"))
    done = subprocess.run([python(), "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["rss_mib"] < RSS_LIMIT_MIB, result
