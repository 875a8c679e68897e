import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gridgov.demo import DEMO_PASSWORD, SCALES, DemoBuilder, DemoRefused
from gridgov.demo_cases import CaseHistoryBuilder
from gridgov.demo_visits import VisitHistoryBuilder
from grids.models import Area

DEFAULT_CASES = {"demo": 600}


class Command(BaseCommand):
    help = (
        "Build a believable demo place (Faker zh_CN): every tree level, households, residents, staff posts, "
        "a case history of the last 90 days (--cases) and the household visits of the last 90 days (--visit-days)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="demo")
        parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed builds the same place")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when areas already exist (make run)")
        parser.add_argument(
            "--cases",
            type=int,
            default=None,
            help="demo cases to generate over the last 90 days (default: 600 for --scale demo, 0 otherwise)",
        )
        parser.add_argument(
            "--cases-only",
            action="store_true",
            help="add --cases cases to the areas and staff of an already seeded database, touching nothing else",
        )
        parser.add_argument(
            "--visit-days",
            type=int,
            default=90,
            help="days of household visits (入户走访) to generate up to yesterday (0: none)",
        )

    def handle(
        self,
        *args,
        scale: str,
        seed: int,
        if_empty: bool,
        cases: int | None,
        cases_only: bool,
        visit_days: int,
        **options,
    ):
        if cases is None:
            cases = DEFAULT_CASES.get(scale, 0)
        if cases < 0:
            raise CommandError("--cases 不能为负数")
        if visit_days < 0:
            raise CommandError("--visit-days 不能为负数")
        if cases_only:
            self._cases(cases, seed)
            return
        if if_empty and Area.objects.exists():
            self.stdout.write("数据库已有区域数据，跳过演示数据生成。")
            return
        started = time.monotonic()
        self.stdout.write(f"生成演示数据：规模 {scale}，随机种子 {seed} …")
        builder = DemoBuilder(scale=scale, seed=seed, log=self.stdout.write)
        try:
            stats = builder.build()
        except DemoRefused as exc:
            raise CommandError(f"拒绝生成演示数据：{exc}") from None
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"完成，用时 {elapsed:.1f} 秒：{stats}"))
        if cases:
            self._cases(cases, seed)
        if visit_days:
            self.stdout.write(f"生成入户走访记录：近 {visit_days} 天 …")
            visits = VisitHistoryBuilder(days=visit_days, seed=seed, log=self.stdout.write).build()
            self.stdout.write(self.style.SUCCESS(f"走访完成，用时 {visits['seconds']} 秒：{visits}"))
        self.stdout.write("")
        self.stdout.write(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
        for username, label, where in builder.logins:
            self.stdout.write(f"  {username:<12} {label:<6} {where}")

    def _cases(self, count: int, seed: int) -> None:
        if not getattr(settings, "GRIDGOV_ALLOW_DEMO_USERS", False):
            raise CommandError("拒绝生成演示数据：demo data is refused under production settings")
        if not count:
            self.stdout.write("未指定事件数量（--cases），不生成演示事件。")
            return
        self.stdout.write(f"生成演示事件：{count:,} 件（近 90 天），随机种子 {seed} …")
        builder = CaseHistoryBuilder(count, seed=seed, log=self.stdout.write)
        try:
            stats = builder.build()
        except ValueError as exc:
            raise CommandError(f"无法生成演示事件：{exc}") from None
        rate = stats["cases"] / stats["seconds"] if stats["seconds"] else 0
        self.stdout.write(self.style.SUCCESS(f"事件完成，用时 {stats['seconds']} 秒（{rate:,.0f} 件/秒）：{stats}"))
