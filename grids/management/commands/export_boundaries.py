"""export_boundaries [--root CODE] [--output FILE]: a GeoJSON FeatureCollection that
import_boundaries reads back (properties: code, name, level, parent_code, version, effective_from)."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grids.boundaries import BoundaryError, export_boundaries


class Command(BaseCommand):
    help = _("把区域边界导出为 GeoJSON FeatureCollection（WGS 84 经纬度），可直接用 import_boundaries 导入。")

    def add_arguments(self, parser):
        parser.add_argument("--root", help=_("只导出该编码的区域及其下级"))
        parser.add_argument("--output", help=_("输出文件；不指定时写到标准输出"))

    def handle(self, *args, root: str | None, output: str | None, **options):
        try:
            data = export_boundaries(root)
        except BoundaryError as exc:
            raise CommandError(exc.message) from exc
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stderr.write(_("已导出 %(n)d 个区域边界到 %(path)s") % {"n": len(data["features"]), "path": output})
        else:
            self.stdout.write(text)
