"""import_households FILE [--dry-run]: households and residents from CSV/XLSX; see grids.importing."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grids.importing import ImportFileError, import_households


class Command(BaseCommand):
    help = _(
        "从 CSV/XLSX 导入户和居民（每行一位居民；列：household_code,area_code,address,household_tags,"
        "name,id_number,phone,relation,resident_tags）。按户编号和身份证号幂等；先校验整个文件，"
        "全部无误才写入。需要用 export_households --include-id-numbers 导出的原始数据才能重新导入。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("CSV（UTF-8 或 GB18030）或 XLSX 文件"))
        parser.add_argument("--dry-run", action="store_true", help=_("只校验并报告，不写入"))

    def handle(self, *args, file: str, dry_run: bool, **options):
        try:
            report = import_households(file, dry_run=dry_run)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        if report.errors:
            for message in report.error_messages():
                self.stderr.write(message)
            raise CommandError(report.failure_message())
        if dry_run:
            self.stdout.write(_("试运行：未写入任何数据"))
        self.stdout.write(self.style.SUCCESS(report.summary()))
