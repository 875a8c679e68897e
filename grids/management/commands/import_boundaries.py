"""import_boundaries FILE [--dry-run] [--effective-from DATE]: area boundaries from a GeoJSON
FeatureCollection, matched by properties.code (or a unique properties.name); see grids.boundaries."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grids.boundaries import BoundaryFileError, import_boundaries


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(_("生效日期格式应为 YYYY-MM-DD：%(value)s") % {"value": value}) from None


class Command(BaseCommand):
    help = _(
        "从 GeoJSON FeatureCollection 导入区域边界：按 properties.code（或唯一的 properties.name）对应区域，"
        "先校验全部要素，全部无误才在一个事务中写入新的边界版本。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("GeoJSON 文件（UTF-8，WGS 84 经纬度）"))
        parser.add_argument("--dry-run", action="store_true", help=_("只校验并列出匹配、未匹配和无效的要素，不写入"))
        parser.add_argument("--effective-from", type=_date, help=_("新版本的生效日期，默认今天"))
        parser.add_argument("--author", help=_("记为修改人的用户名"))
        parser.add_argument("--note", default="", help=_("版本说明"))

    def handle(self, *args, file: str, dry_run: bool, effective_from, author, note: str, **options):
        user = None
        if author:
            user = get_user_model().objects.filter(username=author).first()
            if user is None:
                raise CommandError(_("用户不存在：%(name)s") % {"name": author})
        try:
            report = import_boundaries(file, dry_run=dry_run, effective_from=effective_from, author=user, note=note)
        except BoundaryFileError as exc:
            raise CommandError(str(exc)) from exc
        for result in report.features:
            line = f"{result.index}\t{result.label}\t{result.status_label}"
            if result.area is not None:
                line += f"\t{result.area.name}"
            if result.reasons:
                line += "\t" + "；".join(result.reasons)
            if result.status in ("unmatched", "invalid"):
                self.stderr.write(line)
            elif options["verbosity"] >= 2 or dry_run:
                self.stdout.write(line)
            if result.warnings and options["verbosity"] >= 2:
                for warning in result.warnings:
                    self.stdout.write(f"\t{_('提示')}：{warning}")
        if not report.ok:
            raise CommandError(report.failure_message())
        if dry_run:
            self.stdout.write(_("试运行：未写入任何数据"))
        else:
            self.stdout.write(_("写入 %(n)d 个新的边界版本") % {"n": report.versions})
        self.stdout.write(self.style.SUCCESS(report.summary()))
