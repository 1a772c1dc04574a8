#!/usr/bin/env python3
"""Render deploy/nginx/heygem.conf for one server.

    python3 deploy/render_nginx.py --env-file /etc/heygem/production.env \\
        --server-name heygem.example.org \\
        --tls-cert /etc/letsencrypt/live/heygem.example.org/fullchain.pem \\
        --tls-key /etc/letsencrypt/live/heygem.example.org/privkey.pem \\
        --htpasswd /etc/nginx/heygem.htpasswd > /etc/nginx/conf.d/heygem.conf

With --env-file, the upload limit, the X-Accel-Redirect prefix and the media
and static folders default to what Django uses (HEYGEM_MAX_UPLOAD_MB,
HEYGEM_ACCEL_REDIRECT_PREFIX, HEYGEM_MEDIA_ROOT, HEYGEM_VAR_DIR), so the two
cannot drift apart. Standard library only: runs without the venv.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx" / "heygem.conf"
PLACEHOLDER = re.compile(r"@([A-Z0-9_]+)@")
# Values land inside Nginx directives: refuse anything that could end one.
SAFE_VALUE = re.compile(r"^[^\s;{}#'\"\\$]*$")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (no expansion)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


def render(values: dict[str, str], template: str | None = None) -> str:
    text = TEMPLATE.read_text() if template is None else template
    missing = sorted({name for name in PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def basic_auth(htpasswd: str | None, realm: str) -> str:
    if not htpasswd:
        return "auth_basic off;  # rendered without --htpasswd"
    return f'auth_basic "{realm}";\n    auth_basic_user_file {htpasswd};'


def _path(value: str) -> str:
    path = Path(_safe(value))
    if not path.is_absolute():
        raise argparse.ArgumentTypeError(f"{value!r} must be an absolute path")
    return str(path).rstrip("/") or "/"


def _safe(value: str) -> str:
    if not SAFE_VALUE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r}: no spaces, quotes, ';', '{{', '}}', '#' or '$'")
    return value


def _prefix(value: str) -> str:
    value = _safe(value).rstrip("/")
    if not value.startswith("/") or value == "":
        raise argparse.ArgumentTypeError(f"{value!r} must start with / (e.g. /protected)")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--env-file", type=Path)
    known, _ = early.parse_known_args(argv)
    env = read_env_file(known.env_file) if known.env_file else {}
    var_dir = env.get("HEYGEM_VAR_DIR")

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, help="HeyGem production env file to take defaults from")
    parser.add_argument(
        "--server-name", type=_safe, nargs="+", required=True, help="one or more, e.g. heygem.example.org"
    )
    parser.add_argument("--tls-cert", type=_path, required=True, help="certificate chain (PEM)")
    parser.add_argument("--tls-key", type=_path, required=True, help="private key (PEM)")
    parser.add_argument("--htpasswd", type=_path, help="basic auth in front of everything (omit: no basic auth)")
    parser.add_argument("--realm", default="HeyGem", type=_safe)
    parser.add_argument("--upstream", default="127.0.0.1:8000", type=_safe, help="daphne host:port or unix:/path")
    parser.add_argument("--bind", default="", type=_safe, help="listen address, e.g. 127.0.0.1 (default: all)")
    parser.add_argument("--http-port", type=int, default=80)
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--no-ipv6", action="store_true", help="no [::] listeners (hosts without IPv6)")
    parser.add_argument("--max-upload-mb", type=int, default=int(env.get("HEYGEM_MAX_UPLOAD_MB") or 2048))
    parser.add_argument(
        "--protected-prefix",
        type=_prefix,
        default=env.get("HEYGEM_ACCEL_REDIRECT_PREFIX") or "/protected",
        help="must equal HEYGEM_ACCEL_REDIRECT_PREFIX",
    )
    parser.add_argument(
        "--media-root",
        type=_path,
        default=env.get("HEYGEM_MEDIA_ROOT") or (f"{var_dir}/media" if var_dir else None),
        help="HEYGEM_MEDIA_ROOT (default: $HEYGEM_VAR_DIR/media)",
    )
    parser.add_argument(
        "--static-root",
        type=_path,
        default=f"{var_dir}/static" if var_dir else None,
        help="where collectstatic writes (default: $HEYGEM_VAR_DIR/static)",
    )
    parser.add_argument("--static-url", default="/static/", type=_prefix)
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    for name in ("media_root", "static_root"):
        if getattr(args, name) is None:
            parser.error(f"--{name.replace('_', '-')} is required (or give --env-file with HEYGEM_VAR_DIR)")
    return args


def values_from(args: argparse.Namespace) -> dict[str, str]:
    return {
        "SERVER_NAME": " ".join(args.server_name),
        "UPSTREAM": args.upstream,
        "BIND": f"{args.bind}:" if args.bind else "",
        "IPV6": "# " if args.no_ipv6 else "",
        "HTTP_PORT": str(args.http_port),
        "HTTPS_PORT": str(args.https_port),
        "HTTPS_PORT_SUFFIX": "" if args.https_port == 443 else f":{args.https_port}",
        "TLS_CERT": args.tls_cert,
        "TLS_KEY": args.tls_key,
        "BASIC_AUTH": basic_auth(args.htpasswd, args.realm),
        # Django's limit on the upload URLs: the file plus 1 MB of multipart framing.
        "MAX_UPLOAD_BODY_MB": str(args.max_upload_mb + 1),
        "STATIC_URL": args.static_url + "/",
        "STATIC_ROOT": args.static_root,
        "PROTECTED_PREFIX": args.protected_prefix,
        "MEDIA_ROOT": args.media_root,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    text = render(values_from(args))
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
