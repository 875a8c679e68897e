import django_filters
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from ..choices import AppealStatus, SubjectKind
from ..models import Appeal, Score, ScoreLine
from ..periods import Period


def _month(queryset, prefix: str, value: str):
    try:
        period = Period.parse(value)
    except ValueError:
        raise ValidationError({"month": [_("月份格式应为 YYYY-MM，例如 2026-11")]}) from None
    return queryset.filter(**{f"{prefix}period__month": period.month})


class ScoreFilter(django_filters.FilterSet):
    month = django_filters.CharFilter(method="filter_month", label="month (YYYY-MM)")
    subject_kind = django_filters.ChoiceFilter(choices=SubjectKind.choices)
    town = django_filters.NumberFilter(field_name="town_id")
    user = django_filters.NumberFilter(field_name="user_id")
    mine = django_filters.BooleanFilter(method="filter_mine", label="mine")

    class Meta:
        model = Score
        fields = ["month", "subject_kind", "town", "user", "is_current"]

    def filter_month(self, queryset, name, value):
        return _month(queryset, "", value)

    def filter_mine(self, queryset, name, value):
        return queryset.filter(user=self.request.user) if value else queryset


class ScoreLineFilter(django_filters.FilterSet):
    score = django_filters.NumberFilter(field_name="score_id")
    month = django_filters.CharFilter(method="filter_month", label="month (YYYY-MM)")
    rule = django_filters.CharFilter(field_name="rule__code")

    class Meta:
        model = ScoreLine
        fields = ["score", "month", "rule", "voided", "capped"]

    def filter_month(self, queryset, name, value):
        return _month(queryset, "score__", value)


class AppealFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AppealStatus.choices)
    score = django_filters.NumberFilter(field_name="score_id")
    month = django_filters.CharFilter(method="filter_month", label="month (YYYY-MM)")

    class Meta:
        model = Appeal
        fields = ["status", "score", "month"]

    def filter_month(self, queryset, name, value):
        return _month(queryset, "score__", value)
