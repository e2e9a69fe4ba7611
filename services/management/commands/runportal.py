"""Start the whole portal on this machine: web server, Celery worker and beat, until Ctrl-C.

A child that dies is started again after a short backoff (1 s, doubling to at most 30 s; back to 1 s
once it has run for a minute), and the log says so: one crash does not take the portal down. The
portal's address is printed once the web server answers on it; a port already taken stops the
command at once with a hint to choose another (PORT=...)."""

from __future__ import annotations

import errno
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from services.models import Service

MAX_BACKOFF_SECONDS = 30.0
RESET_AFTER_SECONDS = 60.0  # a child that ran this long before dying is restarted after 1 s again


class Command(BaseCommand):
    help = (
        "Migrate, load the demo catalog if it is empty, make sure a demo admin exists, then run the web "
        "server (gunicorn), a Celery worker and Celery beat. Ctrl-C stops all of them."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo catalog.")

    def handle(self, *args: Any, host: str, port: int, web_workers: int, no_demo: bool, **options: Any) -> None:
        self._check_port(host, port)
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database ready: " + str(settings.DATABASES["default"]["NAME"]))
        if not no_demo and not Service.objects.exists():
            call_command("load_demo", stdout=self.stdout)
        password = self._ensure_admin()
        commands = {
            "web": [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"{host}:{port}",
                    "--workers", str(web_workers), "--access-logfile", "-", "--graceful-timeout", "10",
                    # One Prometheus counter directory for the web processes (services/http/gunicorn_hooks.py).
                    "--config", "python:services.http.gunicorn_hooks"],
            "worker": [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                       "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--concurrency", "2", "-n", "portal@%h"],
            "beat": [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                     "--schedule", str(Path(settings.DATA_DIR) / "celerybeat-schedule")],
        }
        processes = {name: self._start(name, cmd) for name, cmd in commands.items()}
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"  # noqa: S104
        if not self._wait_until_up(url, processes["web"]):
            self._stop_all(processes)
            raise CommandError(f"The web server did not start (exit code {processes['web'].returncode}); "
                               "its messages are above.")
        self.stdout.write(self.style.SUCCESS(
            f"\nSlipway is running at {url}\n"
            f"  Sign in as admin / {password}  (saved in {self._password_file()})\n"
            f"  API docs: {url}api/docs/   new API token: .venv/bin/python manage.py api_token admin\n"
            f"  Data directory: {settings.DATA_DIR}\n"
            "  Ctrl-C stops the web server, the worker and beat.\n"
        ))
        self._supervise(processes, commands)

    def _check_port(self, host: str, port: int) -> None:
        """Stop now, with a hint, when the port is taken (gunicorn would only retry and give up)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise CommandError(
                        f"Port {port} on {host} is taken (another Slipway, or another program). Start on another "
                        f"port: PORT={port + 1} make run   (or: manage.py runportal --port {port + 1})") from None
                raise CommandError(f"Cannot listen on {host}:{port}: {error.strerror}") from None

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=settings.BASE_DIR)
        self.stdout.write(f"{name} started (pid {process.pid})")
        return process

    def _wait_until_up(self, url: str, web: subprocess.Popen, timeout: float = 60) -> bool:
        """True once the web server answers /healthz; False if it died or never answered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and web.poll() is None:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as answer:  # noqa: S310 - our own URL
                    if answer.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def _password_file(self) -> Path:
        return Path(settings.DATA_DIR) / "admin-password.txt"

    def _ensure_admin(self) -> str:
        """A demo admin whose password is generated once and kept in the data directory."""
        password_file = self._password_file()
        user_model = get_user_model()
        admin = user_model.objects.filter(username="admin").first()
        if admin is not None and password_file.exists():
            return password_file.read_text().strip()
        password = secrets.token_urlsafe(12)
        if admin is None:
            admin = user_model.objects.create_superuser("admin", "admin@example.org", password)
        else:
            admin.set_password(password)
            admin.save()
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        return password

    def _supervise(self, processes: dict[str, subprocess.Popen], commands: dict[str, list[str]]) -> None:
        """Until Ctrl-C or SIGTERM: start again each child that dies, after a backoff; then stop all."""
        stopping = False

        def request_stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        started = {name: time.monotonic() for name in processes}
        backoff = dict.fromkeys(processes, 0.0)
        restart_at: dict[str, float] = {}
        while not stopping:
            now = time.monotonic()
            for name, process in processes.items():
                if name in restart_at:
                    if now >= restart_at[name]:
                        del restart_at[name]
                        processes[name], started[name] = self._start(name, commands[name]), now
                elif process.poll() is not None:
                    ran = now - started[name]
                    backoff[name] = 1.0 if ran > RESET_AFTER_SECONDS else min(max(backoff[name] * 2, 1.0),
                                                                                MAX_BACKOFF_SECONDS)
                    self.stderr.write(f"{name} exited with code {process.returncode} after {ran:.0f} s; "
                                      f"starting it again in {backoff[name]:.0f} s.")
                    restart_at[name] = now + backoff[name]
            time.sleep(0.2)
        self._stop_all(processes)

    def _stop_all(self, processes: dict[str, subprocess.Popen]) -> None:
        self.stdout.write("Stopping web server, worker and beat...")
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
