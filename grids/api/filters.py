import django_filters
from django.db.models import Q

from grids.choices import AreaLevel
from grids.models import Area, Household, Resident


def _within(queryset, request, value, prefix: str):
    """Restrict to the subtree of area `value`; an area outside the caller's scope matches nothing."""
    node = Area.objects.visible_to(request.user).filter(pk=value).first()
    if node is None:
        return queryset.none()
    return queryset.filter(
        **{f"{prefix}tree_id": node.tree_id, f"{prefix}lft__gte": node.lft, f"{prefix}rght__lte": node.rght}
    )


class AreaFilter(django_filters.FilterSet):
    level = django_filters.MultipleChoiceFilter(choices=AreaLevel.choices)
    parent = django_filters.NumberFilter(field_name="parent_id")
    code = django_filters.CharFilter(field_name="code")
    search = django_filters.CharFilter(method="filter_search", label="search")
    within = django_filters.NumberFilter(method="filter_within", label="within")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Area
        fields = ["level", "parent", "code", "is_active"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(code__startswith=value))

    def filter_within(self, queryset, name, value):
        return _within(queryset, self.request, value, "")


class HouseholdFilter(django_filters.FilterSet):
    area = django_filters.NumberFilter(field_name="area_id")
    within = django_filters.NumberFilter(method="filter_within", label="within")
    tag = django_filters.CharFilter(field_name="tags__code")
    search = django_filters.CharFilter(method="filter_search", label="search")

    class Meta:
        model = Household
        fields = ["area", "is_active"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(code__startswith=value) | Q(address__icontains=value))

    def filter_within(self, queryset, name, value):
        return _within(queryset, self.request, value, "area__")


class ResidentFilter(django_filters.FilterSet):
    household = django_filters.NumberFilter(field_name="household_id")
    area = django_filters.NumberFilter(field_name="area_id")
    within = django_filters.NumberFilter(method="filter_within", label="within")
    tag = django_filters.CharFilter(field_name="tags__code")
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    id_number = django_filters.CharFilter(method="filter_id_number", label="id_number")

    class Meta:
        model = Resident
        fields = ["household", "area", "relation", "is_active"]

    def filter_id_number(self, queryset, name, value):
        return queryset.filter(id_number=value.strip().upper())

    def filter_within(self, queryset, name, value):
        return _within(queryset, self.request, value, "area__")
