"""Structured log lines: one JSON object per line (or key=value pairs), so
journald, `make run` and any log shipper can filter by render, job or batch.

Context travels in ``extra=``: ``log.info("encoded", extra={"render_id": 57})``.
Only the names in CONTEXT_KEYS are copied, because Django puts whole objects
(the request, the socket) into ``extra`` of its own records.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

CONTEXT_KEYS = ("render_id", "batch_id", "job_id", "worker", "status_code")


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }
    for key in CONTEXT_KEYS:
        value = getattr(record, key, None)
        if value is not None:
            fields[key] = value
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback goes into "exc" (newlines are
    escaped by JSON, so a record never spans two lines)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return json.dumps(fields, ensure_ascii=False, default=str)


class KeyValueFormatter(logging.Formatter):
    """`ts level logger message key=value ...`: easier on the eyes in a
    terminal, still one line per record unless there is a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record)
        head = " ".join(str(fields.pop(k)) for k in ("ts", "level", "logger"))
        message = fields.pop("message")
        tail = "".join(f" {key}={_quote(value)}" for key, value in fields.items())
        line = f"{head} {message}{tail}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if not text or any(c.isspace() or c == '"' for c in text) else text
