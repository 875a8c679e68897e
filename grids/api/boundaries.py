"""Boundary endpoints of the area API, mixed into AreaViewSet:

- `GET /api/v1/areas/locate/?lat=..&lon=..` — the deepest area in the caller's scope whose boundary
  covers the point, with its path; 400 `bad_coordinates` for missing or bad numbers, 404
  `not_located` when no area in scope contains it.
- `GET /api/v1/areas/{id}/boundaries/` — the boundaries of the area's subtree (scoped) as a GeoJSON
  FeatureCollection; `?include_empty=1` adds areas without a boundary (geometry null).
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from grids.boundaries import subtree_feature_collection
from grids.locate import locate

from .serializers import AreaBriefSerializer


class LocateQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(
        min_value=-90,
        max_value=90,
        error_messages={
            "required": gettext_lazy("缺少纬度参数 lat"),
            "invalid": gettext_lazy("纬度 lat 必须是数字"),
            "min_value": gettext_lazy("纬度 lat 应在 -90 到 90 之间，是否把经纬度写反了？"),
            "max_value": gettext_lazy("纬度 lat 应在 -90 到 90 之间，是否把经纬度写反了？"),
        },
    )
    lon = serializers.FloatField(
        min_value=-180,
        max_value=180,
        error_messages={
            "required": gettext_lazy("缺少经度参数 lon"),
            "invalid": gettext_lazy("经度 lon 必须是数字"),
            "min_value": gettext_lazy("经度 lon 应在 -180 到 180 之间"),
            "max_value": gettext_lazy("经度 lon 应在 -180 到 180 之间"),
        },
    )

    def validate(self, attrs):
        import math

        for key in ("lat", "lon"):
            if not math.isfinite(attrs[key]):
                raise serializers.ValidationError({key: [gettext_lazy("坐标必须是有限的数字")]})
        return attrs


class LocatedSerializer(AreaBriefSerializer):
    path = serializers.SerializerMethodField()

    class Meta(AreaBriefSerializer.Meta):
        fields = [*AreaBriefSerializer.Meta.fields, "path"]

    def get_path(self, obj) -> list[dict]:
        return AreaBriefSerializer(self.context["path"], many=True).data


class AreaBoundaryMixin:
    """Adds `locate` (list route) and `boundaries` (detail route) to the scoped area viewset."""

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True, description="WGS 84 latitude"),
            OpenApiParameter("lon", OpenApiTypes.DOUBLE, required=True, description="WGS 84 longitude"),
        ],
        responses={200: LocatedSerializer},
    )
    @action(detail=False, methods=["get"], url_path="locate", pagination_class=None, filter_backends=[])
    def locate(self, request):
        query = LocateQuerySerializer(data=request.query_params)
        if not query.is_valid():
            first = next(iter(query.errors.values()))[0]
            return Response(
                {"code": "bad_coordinates", "detail": str(first), "errors": query.errors},
                status=status.HTTP_400_BAD_REQUEST,
            )
        found = locate(lat=query.validated_data["lat"], lon=query.validated_data["lon"], user=request.user)
        if found is None:
            return Response(
                {"code": "not_located", "detail": _("该位置不在您管辖范围内的任何区域边界内")},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(LocatedSerializer(found.area, context={"path": found.path}).data)

    @extend_schema(
        parameters=[OpenApiParameter("include_empty", OpenApiTypes.BOOL, description="also areas without a boundary")],
        responses={
            200: inline_serializer(
                "FeatureCollection",
                {"type": serializers.CharField(), "features": serializers.ListField(child=serializers.DictField())},
            )
        },
    )
    @action(detail=True, methods=["get"], url_path="boundaries", pagination_class=None, filter_backends=[])
    def boundaries(self, request, pk=None):
        area = self.get_object()
        include_empty = request.query_params.get("include_empty", "").lower() in {"1", "true", "yes"}
        data = subtree_feature_collection(area, user=request.user, include_empty=include_empty)
        return Response(data, content_type="application/geo+json")
