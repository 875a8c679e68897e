from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from grids.models import Area, Household, Resident, Tag

from .boundaries import AreaBoundaryMixin
from .filters import AreaFilter, HouseholdFilter, ResidentFilter
from .serializers import (
    AreaDetailSerializer,
    AreaSerializer,
    HouseholdSerializer,
    ResidentSerializer,
    TagSerializer,
)


class AreaViewSet(AreaBoundaryMixin, ScopedReadOnlyViewSet):
    """The area tree, limited to the subtrees of the caller's posts."""

    queryset_model = Area
    filterset_class = AreaFilter

    def get_base_queryset(self):
        return Area.objects.order_by("tree_id", "lft")

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action in ("list", "children"):
            # A correlated subquery, not a JOIN + GROUP BY: PostgreSQL evaluates it for the page's
            # rows only, and the pagination COUNT(*) leaves it out.
            children = (
                Area.objects.filter(parent=OuterRef("pk"))
                .order_by()
                .values("parent")
                .annotate(n=Count("id"))
                .values("n")
            )
            qs = qs.annotate(children_count=Coalesce(Subquery(children), 0))
        return qs

    def get_serializer_class(self):
        return AreaDetailSerializer if self.action == "retrieve" else AreaSerializer

    @extend_schema(responses=AreaSerializer(many=True))
    @action(detail=True)
    def children(self, request, pk=None):
        area = self.get_object()
        qs = self.get_queryset().filter(parent=area)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(AreaSerializer(page, many=True).data)


class HouseholdViewSet(ScopedModelViewSet):
    queryset_model = Household
    serializer_class = HouseholdSerializer
    filterset_class = HouseholdFilter

    def get_base_queryset(self):
        return (
            Household.objects.select_related("area")
            .prefetch_related("tags")
            .annotate(residents_count=Count("residents"))
            .order_by("id")
        )

    def perform_destroy(self, instance):
        if instance.residents.exists():
            from rest_framework.exceptions import ValidationError

            raise ValidationError({"non_field_errors": ["该户还有居民，请先迁出或删除居民"]}, code="household_in_use")
        instance.delete()


class ResidentViewSet(ScopedModelViewSet):
    queryset_model = Resident
    serializer_class = ResidentSerializer
    filterset_class = ResidentFilter

    def get_base_queryset(self):
        return Resident.objects.prefetch_related("tags").order_by("id")


class TagViewSet(ScopedReadOnlyViewSet):
    serializer_class = TagSerializer
    pagination_class = None
    lookup_field = "code"

    def get_queryset(self):  # tags are a shared vocabulary, not scoped data
        return Tag.objects.all()

    def list(self, request, *args, **kwargs):
        return Response(TagSerializer(self.get_queryset(), many=True).data)
