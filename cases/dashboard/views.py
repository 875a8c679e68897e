"""Dashboard pages for town and county officials: figures of any node in the user's scope with its
children ranked, trends, breakdowns, a map, the cases behind every number and the exports.
Views shape HTTP into reads of cases.dashboard.selectors; the figures are defined in kpis."""

from __future__ import annotations

import time
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from cases.choices import Source
from cases.models import Category
from cases.selectors import near_due_window

from . import exports, selectors
from .forms import ExportForm, ListForm, PageForm, resolve_filters
from .kpis import KPIS, MEASURES, STATE_KEYS

PAGE_SIZE = 50
COUNT_KEYS = (
    "reported",
    "reported_problem",
    "closed",
    "due",
    "due_late",
    "extended",
    "open",
    "overdue",
    "near_due",
    "supervised",
)
MAP_METRICS = ("reported", "open", "overdue", "near_due", "due_late")
STALE_JOB_SECONDS = 600  # a job still pending after this: no worker picked it up


def dashboard_access(view):
    """Logged in, holding a zone/town/county post (or superuser); else 403."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not selectors.can_use_dashboard(request.user):
            raise PermissionDenied(_("只有片区、镇街和县级岗位可以查看统计看板"))
        return view(request, *args, **kwargs)

    return wrapped


def _filters_or_404(form, user, now=None):
    f = resolve_filters(form, user, now)
    if f is None:
        raise Http404(_("区域不存在或不在您的管辖范围内"))
    return f


def _query(f, drop: tuple[str, ...] = (), **extra) -> str:
    """The filter parameters (without the area) as a query string, for links to other pages."""
    params = {k: v for k, v in f.as_params().items() if k != "area" and k not in drop}
    params.update({k: v for k, v in extra.items() if v not in (None, "")})
    return urlencode(params)


@dashboard_access
def index(request):
    """The dashboard of one node: headline KPIs, counts by state, backlog, trend, breakdowns by
    category and source, children ranked by a KPI (drill-down), the map."""
    form = PageForm(request.GET)
    form.is_valid()
    f = _filters_or_404(form, request.user)
    kpi_key = form.kpi_key()
    children = list(f.node.get_children())
    figures = selectors.breakdown(request.user, f, children)
    ranked = selectors.rank(figures.children, kpi_key)
    trend = selectors.trend(request.user, f)
    categories, sources = figures.categories, figures.sources
    q_base = _query(f)
    list_url = reverse("dashboard:cases")
    chart_data = {
        "listUrl": list_url,
        "query": q_base,
        "nodeId": f.node.pk,
        "trend": {
            "days": [d["day"].isoformat() for d in trend],
            "reported": [d["reported"] for d in trend],
            "closed": [d["closed"] for d in trend],
            "labels": {"reported": str(MEASURES["reported"].label), "closed": str(MEASURES["closed"].label)},
        },
        "categories": [{"code": c["code"], "name": c["name"], "value": c["reported"]} for c in categories],
        "sources": [{"code": s["code"], "name": str(s["name"]), "value": s["reported"]} for s in sources],
    }
    map_config = {
        "dataUrl": reverse("dashboard:map_data") + "?" + _query(f, area=f.node.pk, kpi=kpi_key),
        "tileUrl": settings.GRIDGOV_TILE_URL,
        "attribution": settings.GRIDGOV_TILE_ATTRIBUTION,
        "kpi": kpi_key,
        "kpis": [{"key": k.key, "label": str(k.label), "higherIsBetter": k.higher_is_better} for k in KPIS.values()],
        "caseUrl": reverse("console:case", args=[0]).replace("/0/", "/{id}/"),
        "texts": {
            "noBoundaries": _("下级区域尚未绘制边界，地图只显示事件点位和热力。"),
            "noPoints": _("所选范围内没有带坐标的事件。"),
            "truncated": _("点位较多，只显示最近的 %(n)s 件。") % {"n": selectors.MAP_POINT_LIMIT},
            "points": _("事件点位"),
            "heat": _("热力图"),
            "areas": _("区域着色"),
            "noData": _("无数据"),
        },
    }
    return render(
        request,
        "dashboard/index.html",
        {
            "f": f,
            "form": form,
            "node": f.node,
            "breadcrumb": selectors.breadcrumb(request.user, f.node),
            "roots": selectors.scope_roots(request.user),
            "total": figures.total,
            "children": ranked,
            "other": figures.other,
            "visits_available": figures.visits_available,
            "kpi_key": kpi_key,
            "rank_kpi": KPIS[kpi_key],
            "kpis": list(KPIS.values()),
            "labels": {k: m.label for k, m in MEASURES.items()},
            "state_keys": STATE_KEYS,
            "count_keys": COUNT_KEYS,
            "snapshot_keys": [k for k, m in MEASURES.items() if m.snapshot],
            "breakdown_keys": selectors.BREAKDOWN_MEASURES,
            "map_metrics": MAP_METRICS,
            "categories": categories,
            "sources": sources,
            "trend": trend,
            "category_choices": selectors.top_categories(),
            "source_choices": Source.choices,
            "q_base": q_base,
            "q_nocat": _query(f, drop=("category",)),
            "list_url": list_url,
            "chart_data": chart_data,
            "map_config": map_config,
            "near_due_window": near_due_window(),
            "export_params": f.as_params(),
            "inline_max": exports.EXPORT_INLINE_MAX,
        },
    )


@dashboard_access
def case_list(request):
    """The cases behind a number: the same node, filters and measure definition as the figure."""
    form = ListForm(request.GET)
    form.is_valid()
    f = _filters_or_404(form, request.user)
    metric = form.metric_key()
    qs = selectors.case_list(request.user, f, metric).prefetch_related("attachments")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    category = Category.objects.filter(code=f.category).first() if f.category else None
    return render(
        request,
        "dashboard/cases.html",
        {
            "f": f,
            "category": category,
            "source_label": dict(Source.choices).get(f.source, ""),
            "form": form,
            "node": f.node,
            "metric": MEASURES[metric],
            "page": page,
            "now": timezone.now(),
            "back": reverse("dashboard:index") + "?" + _query(f, area=f.node.pk),
            "export_params": {**f.as_params(), "metric": metric},
            "inline_max": exports.EXPORT_INLINE_MAX,
        },
    )


@dashboard_access
def map_data(request):
    """GeoJSON of the node's children coloured by their KPIs (when they have boundaries) and the
    located cases behind a measure (points and heat)."""
    form = ListForm(request.GET)
    form.is_valid()
    f = _filters_or_404(form, request.user)
    children = list(f.node.get_children())
    # Colouring needs the children's figures only when some child has a boundary to colour.
    figures = selectors.breakdown(request.user, f, children) if any(c.boundary for c in children) else None
    features = []
    for row in figures.children if figures else []:
        if not row.area.boundary:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": row.area.boundary,
                "properties": {
                    "id": row.area.pk,
                    "name": row.area.name,
                    "kpis": row.kpis,
                    "reported": row.counts["reported"],
                    "overdue": row.counts["overdue"],
                    "url": reverse("dashboard:index") + "?" + _query(f, area=row.area.pk),
                },
            }
        )
    points, truncated = selectors.map_points(request.user, f, form.metric_key())
    return JsonResponse(
        {
            "areas": {"type": "FeatureCollection", "features": features},
            "node": {"id": f.node.pk, "name": f.node.name, "boundary": f.node.boundary},
            "points": points,
            "truncated": truncated,
        }
    )


# --- exports --------------------------------------------------------------------------------------


def _attachment(response: HttpResponse, name: str) -> HttpResponse:
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


@dashboard_access
def export(request):
    """POST: the ledger or the KPI tables with the current filters. Small files are written into
    the response; a ledger over EXPORT_INLINE_MAX rows becomes a background job with a page that
    waits for it."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = ExportForm(request.POST)
    form.is_valid()
    f = _filters_or_404(form, request.user)
    kind, fmt = form.cleaned_data.get("kind") or "ledger", form.cleaned_data.get("format") or "xlsx"
    name = exports.filename(f, kind, fmt)
    if kind == "kpis":
        return _export_kpis(request, f, fmt, name, form.cleaned_data.get("level") or "")
    metric = form.metric_key()
    qs = selectors.case_list(request.user, f, metric)
    count = qs.count()
    if count > exports.EXPORT_INLINE_MAX:
        from .tasks import build_export

        params = {**f.as_params(), "metric": metric, "format": fmt, "kind": kind}
        token = exports.new_job(request.user, params, name, count)
        build_export.delay(token)
        return redirect("dashboard:export_status", token=token)
    if fmt == "csv":
        rows = exports.ledger_rows(qs)
        response = StreamingHttpResponse(exports.csv_stream(exports.ledger_header(), rows), content_type=CSV)
        return _attachment(response, name)
    data = exports.xlsx_bytes(exports.write_ledger_xlsx, exports.ledger_rows(qs), exports.describe(f, metric))
    return _attachment(HttpResponse(data, content_type=XLSX), name)


def _export_kpis(request, f, fmt: str, name: str, level: str) -> HttpResponse:
    summary = selectors.breakdown(request.user, f)
    tables = selectors.level_tables(request.user, f)
    if fmt == "csv":
        # CSV has no sheets: the node and its children, or one level (?level=town|zone|village|grid).
        rows = [exports.kpi_row(summary.total, f.node.name)]
        chosen = dict(tables).get(level) if level else None
        rows += [exports.kpi_row(r) for r in (chosen if chosen is not None else summary.children)]
        return _attachment(
            StreamingHttpResponse(exports.csv_stream(exports.kpi_header(), rows), content_type=CSV), name
        )
    data = exports.xlsx_bytes(
        exports.write_kpis_xlsx,
        [summary.total, *summary.children],
        f.node.name,
        tables,
        exports.describe(f, "reported"),
    )
    return _attachment(HttpResponse(data, content_type=XLSX), name)


def _job_or_404(request, token: str) -> dict:
    job = exports.job_for(token, request.user)
    if job is None:
        raise Http404(_("导出任务不存在"))
    return job


def _job_state(token: str, job: dict) -> dict:
    stale = job["status"] == "pending" and time.time() - job.get("created", 0) > STALE_JOB_SECONDS
    return {
        "status": job["status"],
        "rows": job.get("rows", 0),
        "written": job.get("written", 0),
        "error": job.get("error", ""),
        "stale": stale,
        "download": reverse("dashboard:export_download", args=[token]) if job["status"] == "done" else "",
    }


@dashboard_access
def export_status(request, token: str):
    job = _job_or_404(request, token)
    return render(
        request,
        "dashboard/export_status.html",
        {
            "job": job,
            "state": _job_state(token, job),
            "token": token,
            "status_url": reverse("dashboard:export_status_json", args=[token]),
        },
    )


@dashboard_access
def export_status_json(request, token: str):
    return JsonResponse(_job_state(token, _job_or_404(request, token)))


@dashboard_access
def export_download(request, token: str):
    job = _job_or_404(request, token)
    if job["status"] != "done":
        raise Http404(_("导出文件尚未生成"))
    path = exports.data_path(token, job.get("format", "xlsx"))
    if not path.exists():
        raise Http404(_("导出文件已过期，请重新导出"))
    return FileResponse(
        open(path, "rb"),
        as_attachment=True,
        filename=job["filename"],
        content_type=XLSX if job.get("format") == "xlsx" else CSV,
    )
