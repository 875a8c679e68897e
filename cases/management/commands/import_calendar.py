"""manage.py import_calendar FILE [--year Y] [--complete] [--replace] [--dry-run]

Imports holidays and make-up workdays from a text or CSV file in the format of the admin's fast
entry (see cases.forms): "元旦 2027-01-01 2027-01-03 休" lines, or CSV columns date,kind,name.
All or nothing: any bad line aborts the import and lists every error with its line number."""

import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cases import calendar
from cases.forms import parse_schedule


def read_text(path: str) -> str:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets on Chinese Windows save CSV as GBK.
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise CommandError(f"无法识别文件编码（请使用 UTF-8）：{exc}") from exc


class Command(BaseCommand):
    help = "从文本或 CSV 文件导入节假日和调休上班日（全部成功或全部不导入）"

    def add_arguments(self, parser):
        parser.add_argument("file", help="文件路径，- 表示标准输入")
        parser.add_argument("--year", type=int, help="只允许该年度的日期")
        parser.add_argument("--complete", action="store_true", help="导入后将涉及的年度标记为已完整录入")
        parser.add_argument("--replace", action="store_true", help="删除涉及年度中不在文件里的日期")
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")

    def handle(self, *args, file, year=None, complete=False, replace=False, dry_run=False, **options):
        try:
            text = read_text(file)
        except OSError as exc:
            raise CommandError(f"无法读取文件 {file}：{exc}") from exc
        try:
            entries = parse_schedule(text, year=year)
        except ValidationError as exc:
            raise CommandError("导入失败，未写入任何日期：\n" + "\n".join(exc.messages)) from exc
        years = {year} if year else {e.date.year for e in entries}
        if not entries and not (complete and year):
            raise CommandError("文件中没有任何日期")
        if dry_run:
            self.stdout.write(f"检查通过：{len(entries)} 天，年度 {', '.join(map(str, sorted(years)))}（未写入）")
            return
        with transaction.atomic():
            result = calendar.save_calendar_days(entries, years=years, replace=replace, mark_complete=complete)
        self.stdout.write(
            self.style.SUCCESS(
                f"已导入 {', '.join(map(str, sorted(result.years)))} 年：新增 {result.created} 天，"
                f"更新 {result.updated} 天，未变 {result.unchanged} 天，删除 {result.deleted} 天"
                + ("，已标记为完整录入" if complete else "")
            )
        )
