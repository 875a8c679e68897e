"""`make run`: the web server, a Celery worker and Celery beat in one terminal, on the embedded
defaults (SQLite file and kombu's SQLAlchemy transport under var/) unless the environment names
PostgreSQL/Redis. Ctrl-C stops all three."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from gridgov.demo import DEMO_LOGINS, DEMO_PASSWORD


class Command(BaseCommand):
    help = "Run web server + Celery worker + Celery beat (development)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("GRIDGOV_ADDR", "127.0.0.1:8000"))

    def handle(self, *args, addr: str, **options):
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "gridgov"]
        commands = {
            "web": [python, "manage.py", "runserver", addr],
            "worker": [
                *celery,
                "worker",
                "--loglevel",
                "info",
                "--pool",
                "solo",
                "--without-mingle",
                "--without-gossip",
            ],
            "beat": [*celery, "beat", "--loglevel", "info", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
        }
        procs = {name: subprocess.Popen(cmd, cwd=settings.BASE_DIR) for name, cmd in commands.items()}
        time.sleep(2)
        db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"gridgov 已启动：http://{addr}/   (数据库 {db}，消息队列 {broker})"))
        self.stdout.write(f"API 文档：http://{addr}/api/docs/   健康检查：http://{addr}/healthz")
        self.stdout.write(
            f"演示账号（密码 {DEMO_PASSWORD}）：" + "，".join(f"{u}（{label}）" for u, _, label in DEMO_LOGINS)
        )
        self.stdout.write("按 Ctrl-C 停止。")

        def stop(*_):
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            for p in procs.values():
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()

        signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
        try:
            while all(p.poll() is None for p in procs.values()):
                time.sleep(1)
            dead = [n for n, p in procs.items() if p.poll() is not None]
            self.stderr.write(f"进程已退出：{', '.join(dead)}，正在停止其余进程。")
        except KeyboardInterrupt:
            pass
        finally:
            stop()
