from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from grids.api.serializers import AreaBriefSerializer
from staff.models import Department, Post


class DepartmentBriefSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Department
        fields = ["id", "code", "name", "kind", "kind_display"]


class PostSerializer(serializers.ModelSerializer):
    role_display = serializers.CharField(source="get_role_display", read_only=True)
    area = AreaBriefSerializer(read_only=True)
    department = DepartmentBriefSerializer(read_only=True)

    class Meta:
        model = Post
        fields = ["id", "role", "role_display", "title", "area", "department"]


class MeView(APIView):
    """The caller: user and active posts (each post grants its area's subtree)."""

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "username": serializers.CharField(),
                "name": serializers.CharField(),
                "is_superuser": serializers.BooleanField(),
                "posts": PostSerializer(many=True),
            },
        )
    )
    def get(self, request):
        user = request.user
        posts = Post.objects.active().filter(user=user).select_related("area", "department").order_by("id")
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "name": user.get_full_name() or user.get_username(),
                "is_superuser": user.is_superuser,
                "posts": PostSerializer(posts, many=True).data,
            }
        )
