import django_filters
from django.db.models import Q

from grids.models import Area
from grids.selectors import subtree_filter

from ..choices import CaseState, Source
from ..models import Case


class CaseFilter(django_filters.FilterSet):
    # distinct=False: a case has one state and one source, and DISTINCT would make PostgreSQL sort the
    # whole filtered set before the page (hundreds of ms on a million cases).
    state = django_filters.MultipleChoiceFilter(choices=CaseState.choices, distinct=False)
    source = django_filters.MultipleChoiceFilter(choices=Source.choices, distinct=False)
    ordering = django_filters.OrderingFilter(
        fields=(("due_at", "due_at"), ("created_at", "created_at")),
        help_text="due_at (most urgent first), -due_at, created_at, -created_at (default: newest first)",
    )
    category = django_filters.CharFilter(method="filter_category", help_text="category code or 大类 code prefix")
    within = django_filters.NumberFilter(method="filter_within", help_text="area id: cases filed in its subtree")
    overdue = django_filters.BooleanFilter(field_name="is_overdue")
    supervised = django_filters.BooleanFilter(field_name="is_supervised")
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")
    assignee = django_filters.CharFilter(method="filter_assignee", help_text="`me`")
    mine = django_filters.CharFilter(
        method="filter_mine", help_text="`reported`: cases I filed; `owned`: cases my posts hold"
    )
    number = django_filters.CharFilter(field_name="number")

    class Meta:
        model = Case
        fields = ["state", "source", "kind", "urgency"]

    def filter_category(self, queryset, name, value):
        return queryset.filter(category__code__startswith=value)

    def filter_within(self, queryset, name, value):
        node = Area.objects.visible_to(self.request.user).filter(pk=value).first()
        if node is None:
            return queryset.none()
        return queryset.filter(subtree_filter(node))

    def filter_assignee(self, queryset, name, value):
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        return queryset.none()

    def filter_mine(self, queryset, name, value):
        user = self.request.user
        if value == "reported":
            return queryset.filter(reporter=user)
        if value == "owned":
            from ..transitions import user_posts

            posts = user_posts(user)
            return queryset.filter(
                Q(owner_department_id__in=[p.department_id for p in posts if p.department_id])
                | Q(owner_area_id__in=[p.area_id for p in posts if p.area_id])
            )
        return queryset.none()
