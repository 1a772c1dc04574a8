"""`make run`: the whole platform on one machine.

Starts (as children of this process) the bundled redis-server when no
REDIS_URL is set, daphne serving HTTP + WebSocket, and one rq worker. Ctrl-C
(or SIGTERM) stops every child; children also die with this process if it is
killed outright (PR_SET_PDEATHSIG), so nothing is left behind.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from heygem_site import embedded_redis
from heygem_site.lifecycle import die_with_parent


class Command(BaseCommand):
    help = "Start redis (embedded unless REDIS_URL is set), daphne and one worker; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="start no rq worker")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options):
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.commands: dict[str, list[str]] = {}
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

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        # Own process group: the terminal's Ctrl-C reaches only this supervisor,
        # which then stops the children in order (worker and web before redis).
        proc = subprocess.Popen(args, start_new_session=True, preexec_fn=die_with_parent, env=self.env)
        self.children.append((name, proc))
        self.commands[name] = args
        return proc

    def _start(self, host: str, port: int, no_worker: bool) -> None:
        if settings.REDIS_EMBEDDED:
            redis_port = settings.EMBEDDED_REDIS_PORT
            self.stdout.write(f"Starting embedded redis-server on 127.0.0.1:{redis_port}")
            proc = embedded_redis.start(
                redis_port,
                settings.VAR_DIR / "redis",
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            self.children.append(("redis", proc))
        call_command("migrate", interactive=False, verbosity=0)
        self._ensure_admin()
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        self._spawn(
            "web",
            [python, "-m", "heygem_site.webserver", "-b", host, "-p", str(port), "--proxy-headers", "heygem_site.asgi:application"],
        )
        if not no_worker:
            self._spawn("worker", [python, manage, "renderworker", "--queues", "gpu", "default"])
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
        restarts: list[float] = []
        while not self.stopping:
            for index, (name, proc) in enumerate(self.children):
                if proc.poll() is None:
                    continue
                if name != "worker":
                    self.stderr.write(f"{name} exited with code {proc.returncode}; stopping HeyGem")
                    return
                # A worker that died (out of memory, killed) is replaced, as
                # systemd's Restart=always does in production; the new one
                # marks the render it was running as failed.
                restarts = [t for t in restarts if time.monotonic() - t < 60] + [time.monotonic()]
                if len(restarts) > 5:
                    self.stderr.write("the worker keeps dying; stopping HeyGem")
                    return
                self.stderr.write(f"worker exited with code {proc.returncode}; starting a new one")
                self.children.pop(index)
                self._spawn("worker", self.commands["worker"])
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
