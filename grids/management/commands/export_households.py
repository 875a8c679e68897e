"""export_households [--root CODE] [--output FILE] [--format csv|xlsx] [--include-id-numbers]."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grids.importing import ImportFileError, export_households

from .export_areas import output_format


class Command(BaseCommand):
    help = _(
        "导出户和居民（每行一位居民，列同 import_households）。身份证号和电话默认脱敏，"
        "脱敏的文件不能重新导入；--include-id-numbers 导出原始身份证号和电话（请妥善保管）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--root", help=_("只导出该编码的区域及其下级的户"))
        parser.add_argument("--output", help=_("输出文件；不指定时以 CSV 写到标准输出"))
        parser.add_argument("--format", choices=["csv", "xlsx"], help=_("默认按输出文件扩展名，否则 csv"))
        parser.add_argument(
            "--include-id-numbers",
            action="store_true",
            help=_("导出未脱敏的身份证号和电话（重新导入需要这种文件）"),
        )

    def handle(self, *args, root, output, format, include_id_numbers: bool, **options):
        try:
            count = export_households(
                root,
                include_raw=include_id_numbers,
                fmt=output_format(format, output),
                output=output,
                stream=self.stdout,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        if not include_id_numbers:
            self.stderr.write(_("身份证号和电话已脱敏；此文件不能重新导入（需要时加 --include-id-numbers）"))
        if output:
            self.stderr.write(_("已导出 %(n)d 行到 %(path)s") % {"n": count, "path": output})
