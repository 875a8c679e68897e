"""The filters shared by the dashboard pages, the exports and the stats API: one validation."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.choices import Source
from cases.models import Category

from .kpis import DEFAULT_DAYS, DEFAULT_KPI, KPIS, MAX_DAYS, MEASURES, Period

EXPORT_KINDS = (("ledger", _("事件台账")), ("kpis", _("指标表")))
EXPORT_FORMATS = (("xlsx", "Excel (.xlsx)"), ("csv", "CSV"))


class FilterForm(forms.Form):
    area = forms.IntegerField(label=_("区域"), required=False, min_value=1)
    date_from = forms.DateField(label=_("从"), required=False)
    date_to = forms.DateField(label=_("到"), required=False)
    category = forms.CharField(label=_("类别"), required=False, max_length=8)
    source = forms.ChoiceField(label=_("来源"), required=False, choices=[("", _("全部来源")), *Source.choices])

    def clean_category(self) -> str:
        code = (self.cleaned_data.get("category") or "").strip()
        if code and not Category.objects.filter(code=code).exists():
            raise forms.ValidationError(_("没有编码为 %(code)s 的类别"), code="invalid", params={"code": code})
        return code

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", forms.ValidationError(_("结束日期不能早于开始日期"), code="invalid"))
            elif (end - start).days + 1 > MAX_DAYS:
                self.add_error(
                    "date_to",
                    forms.ValidationError(_("时间范围不能超过 %(n)s 天"), code="invalid", params={"n": MAX_DAYS}),
                )
        return data

    def period(self, now: dt.datetime | None = None) -> Period:
        """The valid dates, or the last 30 days (ending today, or DEFAULT_DAYS before date_to)."""
        now = now or timezone.now()
        data = getattr(self, "cleaned_data", {})
        end = data.get("date_to")
        start = data.get("date_from")
        if start and end:
            return Period(start, end, now)
        if start:
            return Period(start, max(start, timezone.localdate(now)), now)
        end = end or timezone.localdate(now)
        return Period(end - dt.timedelta(days=DEFAULT_DAYS - 1), end, now)


class PageForm(FilterForm):
    """The dashboard page: also which KPI ranks the children and colours the map."""

    kpi = forms.ChoiceField(required=False, choices=[(k.key, k.label) for k in KPIS.values()])

    def kpi_key(self) -> str:
        return getattr(self, "cleaned_data", {}).get("kpi") or DEFAULT_KPI


class ListForm(FilterForm):
    """The cases behind a number: which measure."""

    metric = forms.ChoiceField(required=False, choices=[(m.key, m.label) for m in MEASURES.values() if m.q is not None])

    def metric_key(self) -> str:
        return getattr(self, "cleaned_data", {}).get("metric") or "reported"


class ExportForm(ListForm):
    kind = forms.ChoiceField(choices=EXPORT_KINDS, initial="ledger", required=False)
    format = forms.ChoiceField(choices=EXPORT_FORMATS, initial="xlsx", required=False)
    level = forms.CharField(required=False, max_length=16)

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or "ledger"

    def clean_format(self) -> str:
        return self.cleaned_data.get("format") or "xlsx"


def resolve_filters(form: FilterForm, user, now: dt.datetime | None = None):
    """The form's filters for `user`: the node named by `area` if the user may see it (None when
    not: the caller answers 404), else the top of the user's scope (None when there is none)."""
    from .selectors import Filters, scope_roots, visible_node

    if "area" in form.errors:
        return None
    data = getattr(form, "cleaned_data", {})
    if data.get("area"):
        node = visible_node(user, data["area"])
    else:
        roots = scope_roots(user)
        node = roots[0] if roots else None
    if node is None:
        return None
    return Filters(node, form.period(now), data.get("category") or "", data.get("source") or "")
