"""import_areas FILE [--dry-run]: the area tree from CSV/XLSX; see grids.importing."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grids.importing import ImportFileError, import_areas


class Command(BaseCommand):
    help = _("从 CSV/XLSX 导入区域树（列：code,name,level,parent_code）。按编码幂等；先校验整个文件，全部无误才写入。")

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("CSV（UTF-8 或 GB18030）或 XLSX 文件"))
        parser.add_argument("--dry-run", action="store_true", help=_("只校验并报告，不写入"))

    def handle(self, *args, file: str, dry_run: bool, **options):
        try:
            report = import_areas(file, dry_run=dry_run)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        if report.errors:
            for message in report.error_messages():
                self.stderr.write(message)
            raise CommandError(report.failure_message())
        if options["verbosity"] >= 2:
            for line, code, action in report.actions:
                self.stdout.write(f"{line}\t{code}\t{action}")
        if dry_run:
            self.stdout.write(_("试运行：未写入任何数据"))
        self.stdout.write(self.style.SUCCESS(report.summary()))
