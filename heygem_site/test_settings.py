"""Settings for the test suite: the real settings, with a private var/ and,
when REDIS_URL is not given, the embedded redis-server on a free port.

Processes the tests start (worker, daphne) inherit the environment set here,
so they share the same Redis, database and media folder.
"""

import atexit
import os
import tempfile
from pathlib import Path

if not os.environ.get("HEYGEM_VAR_DIR"):
    os.environ["HEYGEM_VAR_DIR"] = tempfile.mkdtemp(prefix="heygem-test-")

if not os.environ.get("REDIS_URL"):
    from heygem_site import embedded_redis
    from heygem_site.lifecycle import die_with_parent

    _port = embedded_redis.free_port()
    _redis = embedded_redis.start(
        _port, Path(os.environ["HEYGEM_VAR_DIR"]) / "redis", persist=False, preexec_fn=die_with_parent
    )
    atexit.register(_redis.terminate)
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{_port}/0"
    os.environ["HEYGEM_TEST_EMBEDDED_REDIS"] = "1"

# Every test installs its own random checkpoint in a fresh folder: "auto"
# would export an ONNX graph and time both backends for each of them. Tests
# that are about the backend choice set HEYGEM_ENGINE_BACKEND themselves.
os.environ.setdefault("HEYGEM_ENGINE_BACKEND", "torch")

from heygem_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Processes started by the tests (worker, daphne) must see the test database:
# an SQLite test database is a file, not the default in-memory one.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
