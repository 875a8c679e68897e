"""The dashboard's figures for other systems: /api/v1/stats/summary/, children/ and trend/.

Same filters, scope and definitions as the pages (cases.dashboard.forms / selectors / kpis). An
area outside the caller's scope is a 404 (`not_found`), a bad parameter a 400 (`invalid`, with
per-parameter `errors`), a user without a zone/town/county post a 403 (`permission_denied`).
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.choices import Source

from . import selectors
from .forms import PageForm, resolve_filters
from .kpis import KPIS, MEASURES

# --- parameters -----------------------------------------------------------------------------------

FILTER_PARAMETERS = [
    OpenApiParameter("area", OpenApiTypes.INT, description="area id in your scope (default: the top of your scope)"),
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="first local day (default: 29 days before date_to)"),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="last local day (default: today); at most 731 days"),
    OpenApiParameter("category", OpenApiTypes.STR, description="category code: a 大类 (2 digits) or a 小类"),
    OpenApiParameter("source", OpenApiTypes.STR, enum=Source.values, description="case source"),
]
KPI_PARAMETER = OpenApiParameter(
    "kpi", OpenApiTypes.STR, enum=list(KPIS), description="the KPI that ranks the children (default on_time_close_rate)"
)


class DashboardPermission(permissions.BasePermission):
    message = _("只有片区、镇街和县级岗位可以查看统计数据")

    def has_permission(self, request, view) -> bool:
        return selectors.can_use_dashboard(request.user)


def _form_errors(form) -> dict:
    return {
        field: [
            ErrorDetail(str(e.message % e.params if e.params else e.message), code=e.code or "invalid") for e in errs
        ]
        for field, errs in form.errors.as_data().items()
    }


# --- response shapes ------------------------------------------------------------------------------


class AreaRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField()


class PeriodSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    now = serializers.DateTimeField()


class FiltersSerializer(serializers.Serializer):
    category = serializers.CharField(allow_blank=True)
    source = serializers.CharField(allow_blank=True)


class KpiValueSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.FloatField(allow_null=True, help_text="0–1; null when the denominator is 0")
    numerator = serializers.IntegerField()
    denominator = serializers.IntegerField()
    numerator_measure = serializers.CharField()
    denominator_measure = serializers.CharField()
    higher_is_better = serializers.BooleanField()
    formula = serializers.CharField()


class BreakdownRowSerializer(serializers.Serializer):
    code = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    reported = serializers.IntegerField()
    closed = serializers.IntegerField()
    open = serializers.IntegerField()
    overdue = serializers.IntegerField()


class SummarySerializer(serializers.Serializer):
    area = AreaRefSerializer()
    period = PeriodSerializer()
    filters = FiltersSerializer()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="every measure of docs/kpis.md")
    kpis = serializers.DictField(child=KpiValueSerializer())
    by_category = BreakdownRowSerializer(many=True)
    by_source = BreakdownRowSerializer(many=True)
    visits_available = serializers.BooleanField()


class ChildSerializer(serializers.Serializer):
    area = AreaRefSerializer(allow_null=True)
    rank = serializers.IntegerField(allow_null=True)
    flagged = serializers.BooleanField(help_text="worst by the ranking KPI")
    counts = serializers.DictField(child=serializers.IntegerField())
    kpis = serializers.DictField(child=serializers.FloatField(allow_null=True))


class ChildrenSerializer(serializers.Serializer):
    area = AreaRefSerializer()
    period = PeriodSerializer()
    filters = FiltersSerializer()
    kpi = serializers.CharField()
    children = ChildSerializer(many=True)
    other = ChildSerializer(allow_null=True, help_text="cases under the area but under no current child")


class TrendDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    reported = serializers.IntegerField()
    closed = serializers.IntegerField()


class TrendSerializer(serializers.Serializer):
    area = AreaRefSerializer()
    period = PeriodSerializer()
    filters = FiltersSerializer()
    days = TrendDaySerializer(many=True)


def _area(a) -> dict:
    return {"id": a.pk, "code": a.code, "name": a.name, "level": a.level}


def _kpi_block(counts: dict) -> dict:
    out = {}
    for k in KPIS.values():
        out[k.key] = {
            "label": str(k.label),
            "value": k.value(counts),
            "numerator": counts.get(k.numerator, 0),
            "denominator": counts.get(k.denominator, 0),
            "numerator_measure": k.numerator,
            "denominator_measure": k.denominator,
            "higher_is_better": k.higher_is_better,
            "formula": k.formula,
        }
    return out


# --- views ----------------------------------------------------------------------------------------


class StatsView(APIView):
    permission_classes = [permissions.IsAuthenticated, DashboardPermission]

    def parse(self, request):
        form = PageForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        f = resolve_filters(form, request.user)
        if f is None:
            raise Http404
        return form, f

    @staticmethod
    def head(f) -> dict:
        return {
            "area": _area(f.node),
            "period": {"date_from": f.period.date_from, "date_to": f.period.date_to, "now": f.period.now},
            "filters": {"category": f.category, "source": f.source},
        }


class SummaryView(StatsView):
    @extend_schema(parameters=FILTER_PARAMETERS, responses=SummarySerializer, tags=["stats"])
    def get(self, request):
        """Every count and KPI of an area (see docs/kpis.md), with the breakdowns by 大类 and source."""
        _form, f = self.parse(request)
        figures = selectors.breakdown(request.user, f)
        counts = figures.total.counts
        data = {
            **self.head(f),
            "counts": {k: counts.get(k, 0) for k in MEASURES},
            "kpis": _kpi_block(counts),
            "by_category": figures.categories,
            "by_source": figures.sources,
            "visits_available": figures.visits_available,
        }
        return Response(SummarySerializer(data).data)


class ChildrenView(StatsView):
    @extend_schema(parameters=[*FILTER_PARAMETERS, KPI_PARAMETER], responses=ChildrenSerializer, tags=["stats"])
    def get(self, request):
        """The area's children with their counts and KPIs, ranked best first by `kpi`; the worst
        are flagged. One grouped query per source whatever the number of children."""
        form, f = self.parse(request)
        kpi_key = form.kpi_key()
        figures = selectors.breakdown(request.user, f)
        ranked = selectors.rank(figures.children, kpi_key)
        rows = []
        for i, row in enumerate(ranked, 1):
            has_value = row.kpis.get(kpi_key) is not None
            rows.append(
                {
                    "area": _area(row.area),
                    "rank": i if has_value else None,
                    "flagged": row.flagged,
                    "counts": row.counts,
                    "kpis": row.kpis,
                }
            )
        other = figures.other
        data = {
            **self.head(f),
            "kpi": kpi_key,
            "children": rows,
            "other": {"area": None, "rank": None, "flagged": False, "counts": other.counts, "kpis": other.kpis}
            if other
            else None,
        }
        return Response(ChildrenSerializer(data).data)


class TrendView(StatsView):
    @extend_schema(parameters=FILTER_PARAMETERS, responses=TrendSerializer, tags=["stats"])
    def get(self, request):
        """Cases reported and problems closed per local day of the period."""
        _form, f = self.parse(request)
        data = {**self.head(f), "days": selectors.trend(request.user, f)}
        return Response(TrendSerializer(data).data)
