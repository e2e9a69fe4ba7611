"""Start the whole portal on this machine: web server, Celery worker and beat, until Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from services.models import Service


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
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database ready: " + str(settings.DATABASES["default"]["NAME"]))
        if not no_demo and not Service.objects.exists():
            call_command("load_demo", stdout=self.stdout)
        password = self._ensure_admin()
        commands = {
            "web": [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"{host}:{port}",
                    "--workers", str(web_workers), "--access-logfile", "-", "--graceful-timeout", "10"],
            "worker": [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                       "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--concurrency", "2", "-n", "portal@%h"],
            "beat": [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                     "--schedule", str(Path(settings.DATA_DIR) / "celerybeat-schedule")],
        }
        processes = {name: subprocess.Popen(cmd, cwd=settings.BASE_DIR) for name, cmd in commands.items()}
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"  # noqa: S104
        self.stdout.write(self.style.SUCCESS(
            f"\nSlipway is starting at {url}\n"
            f"  Sign in as admin / {password}  (saved in {self._password_file()})\n"
            f"  API docs: {url}api/docs/   new API token: python manage.py api_token admin\n"
            f"  Data directory: {settings.DATA_DIR}\n"
            "  Ctrl-C stops the web server, the worker and beat.\n"
        ))
        self._supervise(processes)

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

    def _supervise(self, processes: dict[str, subprocess.Popen]) -> None:
        """Wait until Ctrl-C, SIGTERM or one process dies; then stop all of them."""
        stopping = False

        def request_stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping the others.")
                    exit_code, stopping = 1, True
                    break
            time.sleep(0.5)
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
        if exit_code:
            sys.exit(exit_code)
