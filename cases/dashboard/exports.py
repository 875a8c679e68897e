"""Exports: the case ledger (事件台账) with the dashboard's filters and the KPI tables per level, as
Excel (openpyxl, write-only) or CSV (UTF-8 with BOM, opens in Excel).

Small exports are written straight into the response. Large ledgers (over EXPORT_INLINE_MAX rows)
run as a Celery task (cases.dashboard.tasks.build_export) that writes the file under
MEDIA_ROOT/exports/. The state of a job lives next to the file, as `<token>.json`, where the
token is random and the JSON names the user who asked: only that user can poll or download it
(no database table: Django loads models only from an app's models module).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.choices import CaseKind, CaseState, Rating, Source, Urgency
from grids.choices import AreaLevel

from .kpis import KPIS, MEASURES
from .selectors import Figures

log = logging.getLogger(__name__)
EXPORT_INLINE_MAX = int(getattr(settings, "GRIDGOV_EXPORT_INLINE_MAX", 5000))
EXPORT_KEEP_HOURS = float(getattr(settings, "GRIDGOV_EXPORT_KEEP_HOURS", 24))
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")

# --- the ledger -----------------------------------------------------------------------------------

LEDGER_FIELDS = (
    "number",
    "title",
    "category__parent__name",
    "category__name",
    "kind",
    "source",
    "urgency",
    "state",
    "town__name",
    "zone__name",
    "village__name",
    "grid__name",
    "area__name",
    "created_at",
    "accepted_at",
    "accepted_on_time",
    "handle_due_at",
    "closed_at",
    "closed_on_time",
    "is_overdue",
    "extension_count",
    "dispatch_count",
    "return_count",
    "rework_count",
    "rating",
    "owner_department__name",
    "owner_area__name",
)


def ledger_header() -> list[str]:
    return [
        _("编号"),
        _("标题"),
        _("大类"),
        _("小类"),
        _("性质"),
        _("来源"),
        _("紧急程度"),
        _("状态"),
        _("镇街"),
        _("片区"),
        _("村/社区"),
        _("网格"),
        _("上报位置"),
        _("上报时间"),
        _("立案时间"),
        _("及时签收"),
        _("处置期限"),
        _("结案时间"),
        _("按期结案"),
        _("当前超时"),
        _("延期次数"),
        _("派遣次数"),
        _("退回次数"),
        _("返工次数"),
        _("回访评价"),
        _("当前承办"),
    ]


def _when(value: dt.datetime | None) -> dt.datetime | None:
    # Excel has no time zones: local wall-clock time, to the minute.
    return timezone.localtime(value).replace(tzinfo=None, second=0, microsecond=0) if value else None


def _yes_no(value: bool | None) -> str:
    if value is None:
        return ""
    return _("是") if value else _("否")


def ledger_rows(qs: QuerySet) -> Iterator[list]:
    """One list per case, in the order of ledger_header(); reads in chunks (server-side cursor on
    PostgreSQL), never the whole result in memory."""
    kinds, sources, urgencies = dict(CaseKind.choices), dict(Source.choices), dict(Urgency.choices)
    states, ratings = dict(CaseState.choices), dict(Rating.choices)
    for r in qs.values_list(*LEDGER_FIELDS).iterator(chunk_size=2000):
        (
            number, title, major, minor, kind, source, urgency, state, town, zone, village, grid, area,
            created, accepted, accepted_on_time, handle_due, closed, closed_on_time, overdue,
            extensions, dispatches, returns, reworks, rating, dept, owner_area,
        ) = r  # fmt: skip
        yield [
            number,
            title,
            major or "",
            minor,
            str(kinds.get(kind, kind)),
            str(sources.get(source, source)),
            str(urgencies.get(urgency, urgency)),
            str(states.get(state, state)),
            town or "",
            zone or "",
            village or "",
            grid or "",
            area or "",
            _when(created),
            _when(accepted),
            _yes_no(accepted_on_time),
            _when(handle_due),
            _when(closed),
            _yes_no(closed_on_time),
            _yes_no(overdue) if state not in (CaseState.CLOSED, CaseState.REJECTED) else "",
            extensions,
            dispatches,
            returns,
            reworks,
            str(ratings.get(rating, "")) if rating else "",
            dept or owner_area or "",
        ]


# --- KPI tables -----------------------------------------------------------------------------------

TABLE_MEASURES = (
    "reported",
    "closed",
    "open",
    "overdue",
    "due",
    "due_closed_on_time",
    "extended",
    "reworked",
    "returned",
    "dispatched",
    "grid_days",
    "compliant_days",
    "visited_households",
    "households",
)


def kpi_header() -> list[str]:
    return [
        _("区域"),
        _("编码"),
        _("层级"),
        *[str(KPIS[k].label) for k in KPIS],
        *[str(MEASURES[m].label) for m in TABLE_MEASURES],
    ]


def kpi_row(f: Figures, name: str | None = None) -> list:
    area = f.area
    return [
        name or (area.name if area else ""),
        area.code if area else "",
        str(area.get_level_display()) if area else "",
        *[round(f.kpis[k] * 100, 1) if f.kpis[k] is not None else None for k in KPIS],
        *[f.counts.get(m, 0) for m in TABLE_MEASURES],
    ]


LEVEL_SHEETS = {
    AreaLevel.TOWN: _("镇街"),
    AreaLevel.ZONE: _("片区"),
    AreaLevel.VILLAGE: _("村社区"),
    AreaLevel.GRID: _("网格"),
}


# --- writers --------------------------------------------------------------------------------------


def _workbook():
    from openpyxl import Workbook

    return Workbook(write_only=True)


def _sheet(wb, title: str, header: list[str], widths: dict[int, int] | None = None):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    ws = wb.create_sheet(title=title[:31])
    for col, width in (widths or {}).items():
        ws.column_dimensions[_column_letter(col)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    cells = []
    for value in header:
        cell = WriteOnlyCell(ws, value=value)
        cell.font = bold
        cells.append(cell)
    ws.append(cells)
    return ws


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


DATE_FORMAT = "yyyy-mm-dd hh:mm"


def _append(ws, row: list) -> None:
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for value in row:
        cell = WriteOnlyCell(ws, value=value)
        if isinstance(value, dt.datetime):
            cell.number_format = DATE_FORMAT
        cells.append(cell)
    ws.append(cells)


def write_ledger_xlsx(target, rows: Iterable[list], title: str) -> int:
    """Write the ledger to `target` (a path or a binary file); returns the number of rows."""
    wb = _workbook()
    ws = _sheet(wb, _("事件台账"), ledger_header(), {1: 16, 2: 36, 14: 17, 15: 17, 17: 17, 18: 17})
    n = 0
    for row in rows:
        _append(ws, row)
        n += 1
    info = wb.create_sheet(title=_("说明"))
    info.append([title])
    info.append([_("导出时间"), _when(timezone.now())])
    info.append([_("行数"), n])
    wb.save(target)
    return n


def write_kpis_xlsx(
    target, summary: list[Figures], node_name: str, tables: list[tuple[str, list[Figures]]], title: str
):
    wb = _workbook()
    ws = _sheet(wb, _("汇总"), kpi_header(), {1: 24})
    for f in summary:
        _append(ws, kpi_row(f, node_name if f.area is None else None))
    for level, rows in tables:
        ws = _sheet(wb, str(LEVEL_SHEETS.get(level, level)), kpi_header(), {1: 24})
        for f in rows:
            _append(ws, kpi_row(f))
    info = wb.create_sheet(title=_("说明"))
    info.append([title])
    info.append([_("比率单位为 %；无数据的比率留空。指标口径见 docs/kpis.md。")])
    for kpi in KPIS.values():
        info.append([str(kpi.label), kpi.formula])
    wb.save(target)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """CSV lines one by one (for StreamingHttpResponse), with a BOM so Excel reads UTF-8."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow(
            ["" if v is None else (v.strftime("%Y-%m-%d %H:%M") if isinstance(v, dt.datetime) else v) for v in row]
        )


def xlsx_bytes(write, *args) -> bytes:
    buffer = io.BytesIO()
    write(buffer, *args)
    return buffer.getvalue()


# --- background jobs ------------------------------------------------------------------------------


def export_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _status_path(token: str) -> Path:
    if not TOKEN_RE.match(token or ""):
        raise ValueError("bad token")
    return export_dir() / f"{token}.json"


def data_path(token: str, fmt: str) -> Path:
    if fmt not in ("xlsx", "csv"):
        raise ValueError("bad format")
    return _status_path(token).with_suffix(f".{fmt}")


def new_job(user, params: dict, filename: str, rows: int) -> str:
    token = secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]
    write_job(
        token,
        {
            "user_id": user.pk,
            "params": params,
            "filename": filename,
            "format": params.get("format", "xlsx"),
            "status": "pending",
            "rows": rows,
            "written": 0,
            "created": time.time(),
            "error": "",
        },
    )
    return token


def write_job(token: str, data: dict) -> None:
    path = _status_path(token)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a poll never reads half a file


def update_job(token: str, **changes) -> dict:
    data = read_job(token) or {}
    data.update(changes)
    write_job(token, data)
    return data


def read_job(token: str) -> dict | None:
    try:
        return json.loads(_status_path(token).read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None


def job_for(token: str, user) -> dict | None:
    """The job if it exists and belongs to `user`; None otherwise (the views answer 404)."""
    data = read_job(token)
    if data is None or data.get("user_id") != user.pk:
        return None
    return data


def purge_jobs(max_age_hours: float = EXPORT_KEEP_HOURS) -> int:
    """Delete export files and their status older than `max_age_hours`."""
    cutoff = time.time() - max_age_hours * 3600
    removed = 0
    for path in export_dir().iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# --- one export, inline or in the background -------------------------------------------------------


def describe(f, measure: str) -> str:
    """A title line naming what was exported: place, measure, period and filters."""
    parts = [f.node.name, str(MEASURES[measure].label), f"{f.period.date_from:%Y-%m-%d} ~ {f.period.date_to:%Y-%m-%d}"]
    if f.category:
        parts.append(_("类别 %(code)s") % {"code": f.category})
    if f.source:
        parts.append(str(dict(Source.choices).get(f.source, f.source)))
    return " · ".join(parts)


def filename(f, kind: str, fmt: str) -> str:
    stem = _("事件台账") if kind == "ledger" else _("指标表")
    return f"{stem}_{f.node.name}_{f.period.date_from:%Y%m%d}-{f.period.date_to:%Y%m%d}.{fmt}"


def write_ledger(target: Path, user, f, measure: str, fmt: str, progress=None) -> int:
    """Write the ledger of the cases behind `measure` to a file; returns the row count."""
    from .selectors import case_list

    rows = ledger_rows(case_list(user, f, measure))
    if progress is not None:
        rows = _counting(rows, progress)
    if fmt == "csv":
        n = 0
        with open(target, "w", encoding="utf-8", newline="") as fh:
            for line in csv_stream(ledger_header(), rows):
                fh.write(line)
                n += 1
        return max(n - 1, 0)
    return write_ledger_xlsx(target, rows, describe(f, measure))


def _counting(rows: Iterator[list], progress, every: int = 5000) -> Iterator[list]:
    for n, row in enumerate(rows, 1):
        if n % every == 0:
            progress(n)
        yield row


def run_job(token: str) -> None:
    """Build the file of an export job (called by the Celery task). Scope is the user's at the
    time the job runs; a job whose area left the user's scope fails."""
    from django.contrib.auth import get_user_model

    from .forms import ExportForm, resolve_filters

    job = read_job(token)
    if job is None or job.get("status") not in ("pending", "running"):
        return
    update_job(token, status="running", started=time.time())
    fmt = job.get("format", "xlsx")
    target = data_path(token, fmt)
    partial = target.with_name(target.name + ".part")
    try:
        user = get_user_model().objects.get(pk=job["user_id"], is_active=True)
        form = ExportForm(job["params"])
        form.is_valid()
        f = resolve_filters(form, user)
        if f is None:
            raise PermissionError(_("区域不在您的管辖范围内"))
        n = write_ledger(partial, user, f, form.metric_key(), fmt, progress=lambda n: update_job(token, written=n))
        os.replace(partial, target)
        update_job(token, status="done", written=n, rows=n, finished=time.time())
    except Exception as exc:  # the page shows the failure; the log has the traceback
        log.exception("export %s failed", token)
        partial.unlink(missing_ok=True)
        update_job(token, status="failed", error=str(exc) or exc.__class__.__name__, finished=time.time())
