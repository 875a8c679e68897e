"""manage.py compute_assessment YYYY-MM [--close]

Computes (or recomputes) the month's scores and lines from the records; --close then locks the
month. A closed month is refused with the reason; only appeals change it."""

from django.core.management.base import BaseCommand, CommandError

from assessment import services
from assessment.periods import Period


class Command(BaseCommand):
    help = "计算某月的千分制考核（未关账月份可重复计算，结果相同）；--close 计算后关账"

    def add_arguments(self, parser):
        parser.add_argument("month", help="月份，格式 YYYY-MM，例如 2026-11")
        parser.add_argument("--close", action="store_true", help="计算后关账（关账后只能通过申诉更改）")

    def handle(self, *args, month, close=False, **options):
        try:
            period = Period.parse(month)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            result = services.compute_month(period)
        except services.AssessmentError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"{period.label}：{result.subjects} 个考核对象，{result.lines} 条记分，"
            f"用时 {result.took_ms / 1000:.1f} 秒（{result.rule_set.name}）"
        )
        if close:
            try:
                services.close_month(period)
            except services.AssessmentError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(f"{period.label} 已关账")
