"""Structured logs: one parseable line per record, carrying the render, batch
and job a message is about."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from heygem_site.logging import JsonFormatter, KeyValueFormatter
from tests.processes import ROOT, python


def make_record(message: str = "encoded %d frames", *args, exc_info=None, **extra) -> logging.LogRecord:
    if not args and "%d" in message:
        args = (750,)
    record = logging.LogRecord("rendering.jobs", logging.INFO, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_json_line_carries_the_render_id():
    line = JsonFormatter().format(make_record(render_id=57, batch_id=12, job_id="a1b2"))
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["message"] == "encoded 750 frames"
    assert fields["level"] == "INFO"
    assert fields["logger"] == "rendering.jobs"
    assert fields["ts"].endswith("+00:00")
    assert (fields["render_id"], fields["batch_id"], fields["job_id"]) == (57, 12, "a1b2")


def test_json_line_leaves_out_absent_ids_and_objects_django_adds():
    fields = json.loads(JsonFormatter().format(make_record(request=object(), status_code=404)))
    assert "render_id" not in fields
    assert "request" not in fields
    assert fields["status_code"] == 404


def test_a_traceback_stays_on_one_line():
    try:
        raise ValueError("no face found")
    except ValueError:
        record = make_record("render failed", exc_info=sys.exc_info(), render_id=3)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    fields = json.loads(line)
    assert "ValueError: no face found" in fields["exc"]
    assert fields["render_id"] == 3


def test_key_value_line():
    line = KeyValueFormatter().format(make_record("stage done", render_id=57, job_id="job 1"))
    assert line.endswith('INFO rendering.jobs stage done render_id=57 job_id="job 1"')


def test_settings_send_json_to_stdout_and_to_the_log_file(tmp_path):
    log_file = tmp_path / "log" / "heygem.log"
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('rendering.worker').warning('render started', extra={'render_id': 99})"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "heygem_site.settings",
        "HEYGEM_VAR_DIR": str(tmp_path),
        "HEYGEM_LOG_FILE": str(log_file),
    }
    result = subprocess.run([python(), "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for output in (result.stdout, log_file.read_text()):
        records = [json.loads(line) for line in output.splitlines() if line.strip()]
        started = [r for r in records if r["message"] == "render started"]
        assert started and started[0]["render_id"] == 99 and started[0]["level"] == "WARNING"
