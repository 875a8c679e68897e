"""The subsidy sheet (补贴表) as an Excel workbook: one row per assessed person, points × yuan per
point, with a total row."""

from __future__ import annotations

import io
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from .periods import Period

COLUMNS = [
    (gettext_lazy("序号"), 6),
    (gettext_lazy("镇街"), 14),
    (gettext_lazy("姓名"), 12),
    (gettext_lazy("账号"), 14),
    (gettext_lazy("考核类别"), 12),
    (gettext_lazy("网格/片区/部门"), 24),
    (gettext_lazy("基础分"), 9),
    (gettext_lazy("扣分"), 9),
    (gettext_lazy("加分"), 9),
    (gettext_lazy("得分"), 9),
    (gettext_lazy("每分补贴（元）"), 14),
    (gettext_lazy("补贴金额（元）"), 14),
]


def subsidy_workbook(scores, period: Period, scope_label: str = "") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = period.key
    title = _("%(month)s 千分制考核补贴表") % {"month": period.label}
    if scope_label:
        title = f"{title}（{scope_label}）"
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([str(name) for name, _width in COLUMNS])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    total = Decimal("0")
    count = 0
    for i, s in enumerate(scores, start=1):
        amount = s.amount
        total += amount
        count += 1
        ws.append(
            [
                i,
                s.town.name if s.town_id else "",
                s.subject_label,
                s.user.username if s.user_id else "",
                s.get_subject_kind_display(),
                s.place_label,
                float(s.base),
                float(s.deductions),
                float(s.bonuses),
                float(s.total),
                float(s.yuan_per_point),
                float(amount),
            ]
        )
    ws.append(["", _("合计"), _("%(n)d 人") % {"n": count}, "", "", "", "", "", "", "", "", float(total)])
    ws[ws.max_row][1].font = Font(bold=True)
    ws[ws.max_row][11].font = Font(bold=True)
    for idx, (_name, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(idx)].width = width
    for row in ws.iter_rows(min_row=3, min_col=7, max_col=12):
        for cell in row:
            cell.number_format = "0.00" if cell.column >= 11 else "0.0"
    ws.freeze_panes = "A3"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
