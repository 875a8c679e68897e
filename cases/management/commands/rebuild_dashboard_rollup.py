"""Recount the dashboard rollup from cases_case (PostgreSQL): after restoring a backup made
without the rollup tables, after writes made with the triggers disabled, or to check it."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from cases.dashboard import rollup


class Command(BaseCommand):
    help = "重建统计看板的汇总表（县、镇页面读取的按日计数），并重装维护它的触发器。"

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")
        parser.add_argument("--compact", action="store_true", help="只合并触发器追加的行，不重建")

    def handle(self, *args, database: str, compact: bool, **options):
        if connections[database].vendor != "postgresql":
            raise CommandError("汇总表只在 PostgreSQL 上使用；当前数据库的看板直接统计事件表，无需重建。")
        started = time.monotonic()
        if compact:
            result = rollup.compact(database)
            if result is None:
                raise CommandError("另一个合并任务正在运行，请稍后再试。")
            self.stdout.write(self.style.SUCCESS(f"合并完成，用时 {time.monotonic() - started:.1f} 秒：{result}"))
            return
        rollup.install(database, force=True)
        self.stdout.write(self.style.SUCCESS(f"汇总表已重建，用时 {time.monotonic() - started:.1f} 秒。"))
