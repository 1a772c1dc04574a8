"""`make run`: the whole platform on one machine.

Starts (as children of this process) the bundled redis-server when no
REDIS_URL is set, daphne serving HTTP + WebSocket, and one rq worker. A child
that dies is started again, as systemd's Restart=always does in production:
a killed redis-server comes back with its data (append-only file), and web
and worker reconnect to it. Ctrl-C (or SIGTERM) stops every child; children
also die with this process if it is killed outright (PR_SET_PDEATHSIG), so
nothing is left behind.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from heygem_site import embedded_redis
from heygem_site.lifecycle import die_with_parent

#: A child that dies more often than this within a minute is not started again: HeyGem stops.
MAX_RESTARTS_PER_MINUTE = 5


def daphne_command(host: str, port: int) -> list[str]:
    args = [sys.executable, "-m", "heygem_site.webserver", "-b", host, "-p", str(port)]
    if settings.HEYGEM_TRUST_PROXY_HEADERS:
        # Only behind a proxy that overwrites X-Forwarded-For: otherwise a
        # client could name any address and walk around the login lockout.
        args.append("--proxy-headers")
    return [*args, "heygem_site.asgi:application"]


class Command(BaseCommand):
    help = "Start redis (embedded unless REDIS_URL is set), daphne and one worker; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="start no rq worker")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options):
        # In start order (redis, web, worker); stopped in reverse.
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.starters: dict[str, Callable[[], subprocess.Popen]] = {}
        self.stopping = False
        # Logs go to the terminal and to var/log/heygem.log (JSON lines).
        self.env = dict(os.environ)
        self.env.setdefault("HEYGEM_LOG_FILE", str(settings.VAR_DIR / "log" / "heygem.log"))
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self._start(host, port, no_worker)
            self._supervise()
        finally:
            self._stop_all()

    def _on_signal(self, signum, frame):
        self.stopping = True

    def _add(self, name: str, starter: Callable[[], subprocess.Popen]) -> None:
        self.starters[name] = starter
        self.children.append((name, starter()))

    def _spawner(self, args: list[str]) -> Callable[[], subprocess.Popen]:
        # Own process group: the terminal's Ctrl-C reaches only this supervisor,
        # which then stops the children in order (worker and web before redis).
        return lambda: subprocess.Popen(args, start_new_session=True, preexec_fn=die_with_parent, env=self.env)

    def _start(self, host: str, port: int, no_worker: bool) -> None:
        if settings.REDIS_EMBEDDED:
            redis_port = settings.EMBEDDED_REDIS_PORT
            self.stdout.write(f"Starting embedded redis-server on 127.0.0.1:{redis_port}")
            self._add(
                "redis",
                lambda: embedded_redis.start(
                    redis_port, settings.VAR_DIR / "redis", start_new_session=True, preexec_fn=die_with_parent
                ),
            )
        call_command("migrate", interactive=False, verbosity=0)
        self._ensure_admin()
        manage = str(settings.BASE_DIR / "manage.py")
        self._add("web", self._spawner(daphne_command(host, port)))
        if not no_worker:
            self._add("worker", self._spawner([sys.executable, manage, "renderworker", "--queues", "gpu", "default"]))
        self.stdout.write(self.style.SUCCESS(f"HeyGem is running at http://{host}:{port}/  (Ctrl-C to stop)"))
        self.stdout.write(f"Logs: {self.env['HEYGEM_LOG_FILE']}")

    def _ensure_admin(self) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = os.environ.get("HEYGEM_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "", password)
        shown = "(from HEYGEM_ADMIN_PASSWORD)" if os.environ.get("HEYGEM_ADMIN_PASSWORD") else password
        self.stdout.write(self.style.WARNING(f"Created the admin account: user 'admin', password {shown}"))
        self.stdout.write("This password is shown only once; change it after logging in.")

    def _supervise(self) -> None:
        restarts: dict[str, list[float]] = {name: [] for name in self.starters}
        while not self.stopping:
            for index, (name, proc) in enumerate(self.children):
                if proc.poll() is None:
                    continue
                # A dead child (out of memory, killed) is replaced, as systemd's
                # Restart=always does in production. A new worker marks the
                # render its predecessor was running as failed; a new redis-server
                # reloads its append-only file, and web and worker reconnect.
                now = time.monotonic()
                restarts[name] = [t for t in restarts[name] if now - t < 60] + [now]
                if len(restarts[name]) > MAX_RESTARTS_PER_MINUTE:
                    self.stderr.write(f"{name} keeps dying; stopping HeyGem")
                    return
                self.stderr.write(f"{name} exited with code {proc.returncode}; starting it again")
                try:
                    self.children[index] = (name, self.starters[name]())
                except (OSError, RuntimeError) as err:
                    self.stderr.write(f"{name} could not be started again ({err}); stopping HeyGem")
                    return
                break
            time.sleep(0.5)

    def _stop_all(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.children:
            self.stdout.write("HeyGem stopped.")
        self.children = []
