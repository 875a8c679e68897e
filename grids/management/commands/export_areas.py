"""export_areas [--root CODE] [--output FILE] [--format csv|xlsx]: the columns import_areas reads."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grids.importing import ImportFileError, export_areas


def output_format(fmt: str | None, output: str | None) -> str:
    """--format, else the output file's suffix, else CSV."""
    if fmt:
        return fmt
    return "xlsx" if output and output.lower().endswith(".xlsx") else "csv"


class Command(BaseCommand):
    help = _("按树的顺序（上级在前）导出区域：code,name,level,parent_code，可直接用 import_areas 导入。")

    def add_arguments(self, parser):
        parser.add_argument("--root", help=_("只导出该编码的区域及其下级"))
        parser.add_argument("--output", help=_("输出文件；不指定时以 CSV 写到标准输出"))
        parser.add_argument("--format", choices=["csv", "xlsx"], help=_("默认按输出文件扩展名，否则 csv"))

    def handle(self, *args, root: str | None, output: str | None, format: str | None, **options):
        try:
            count = export_areas(root, fmt=output_format(format, output), output=output, stream=self.stdout)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        if output:
            self.stderr.write(_("已导出 %(n)d 个区域到 %(path)s") % {"n": count, "path": output})
