from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from gridgov.api import ScopedViewSetMixin
from grids.models import Area
from staff.models import Department

from .. import idempotency, services
from ..attachments import validate_upload
from ..choices import Action
from ..models import Attachment, Case, Category, Notification
from ..transitions import USER_ACTIONS
from .filters import CaseFilter
from .serializers import (
    ActionSerializer,
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CaseCreateSerializer,
    CaseDetailSerializer,
    CaseEventSerializer,
    CaseListSerializer,
    CategorySerializer,
    NotificationSerializer,
)


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    """The catalogue: 大类 and 小类 with their handling level and time limits."""

    serializer_class = CategorySerializer
    queryset = Category.objects.filter(is_active=True).select_related("parent").order_by("code")
    pagination_class = None


class CaseViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Cases in the caller's scope. Filing takes an `Idempotency-Key` header: a retry with the same
    key returns the first response and files nothing new."""

    queryset_model = Case
    filterset_class = CaseFilter

    def get_base_queryset(self):
        qs = Case.objects.select_related("category", "area", "reporter", "owner_area", "owner_department")
        if self.action == "retrieve":
            qs = qs.select_related("assignee", "owner_department__area", "county").prefetch_related("attachments")
        return qs.order_by("-created_at", "-id")

    def get_serializer_class(self):
        if self.action == "create":
            return CaseCreateSerializer
        return CaseDetailSerializer if self.action == "retrieve" else CaseListSerializer

    @extend_schema(
        request=CaseCreateSerializer,
        responses={201: CaseDetailSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
    )
    def create(self, request, *args, **kwargs):
        key = idempotency.clean_key(request.headers.get("Idempotency-Key"))
        if not key:
            return self._file(request)

        def attempt() -> idempotency.Recorded:
            response = self._file(request)
            if response.status_code >= 400:
                raise idempotency.RolledBack(response)  # a failed attempt may be retried with the same key
            return idempotency.Recorded(
                value=response, case_id=response.data["id"], status_code=response.status_code, response=response.data
            )

        try:
            outcome = idempotency.run_once(
                user=request.user, key=key, digest=idempotency.request_hash(request.data), action=attempt
            )
        except idempotency.RolledBack as failed:
            return failed.value
        if not outcome.replayed:
            return outcome.value
        if outcome.mismatch:
            return Response(
                {"code": "idempotency_key_reused", "detail": _("该幂等键已用于另一份不同的提交")},
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        replay = Response(outcome.response, status=outcome.status_code)
        replay["Idempotent-Replayed"] = "true"
        return replay

    def _file(self, request) -> Response:
        serializer = CaseCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        case = services.case_report(reporter=request.user, **serializer.validated_data)
        case = self.get_base_queryset().get(pk=case.pk)
        data = CaseDetailSerializer(case, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ActionSerializer, responses={200: CaseDetailSerializer})
    @action(detail=True, methods=["post"], url_path=r"actions/(?P<action_name>[a-z_]+)")
    def act(self, request, pk=None, action_name=None):
        """Do one action of the transition table to the case (409 `illegal_transition` when the
        state does not allow it, 409 `conflict` when `version` is stale, 403 when not yours)."""
        case = self.get_object()  # 404 outside scope
        if action_name not in USER_ACTIONS:
            raise Http404
        serializer = ActionSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        params = dict(serializer.validated_data)
        target = params.pop("target", None)
        if target:
            params["target"] = self._target(target)
        services.case_act(case_id=case.pk, action=Action(action_name), actor=request.user, **params)
        case = self.get_base_queryset().select_related("assignee", "owner_department__area").get(pk=case.pk)
        return Response(CaseDetailSerializer(case, context={"request": request}).data)

    def _target(self, target: dict):
        if target.get("department"):
            dept = Department.objects.filter(pk=target["department"], is_active=True).select_related("area").first()
            if dept is None:
                raise ValidationError({"target": [_("部门不存在或已停用")]}, code="bad_target")
            return dept
        area = Area.objects.filter(pk=target["area"], is_active=True).first()
        if area is None:
            raise ValidationError({"target": [_("单位不存在或已停用")]}, code="bad_target")
        return area

    @extend_schema(responses=CaseEventSerializer(many=True))
    @action(detail=True)
    def events(self, request, pk=None):
        case = self.get_object()
        events = case.events.select_related("actor").prefetch_related("attachments").order_by("seq")
        return Response(CaseEventSerializer(events, many=True).data)


class AttachmentViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Upload first (returns an id), then name the ids when filing or acting. Files are checked by
    their magic bytes and size; downloads go through scope."""

    serializer_class = AttachmentSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        user = self.request.user
        visible_cases = Case.objects.visible_to(user).values("pk")
        from django.db.models import Q

        return Attachment.objects.filter(Q(case__in=visible_cases) | Q(case__isnull=True, uploaded_by=user))

    @extend_schema(request=AttachmentUploadSerializer, responses={201: AttachmentSerializer})
    def create(self, request, *args, **kwargs):
        upload = AttachmentUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        from django.core.exceptions import ValidationError as DjangoValidationError

        try:
            content_type, sha = validate_upload(file)
        except DjangoValidationError as exc:
            raise ValidationError({"file": exc.messages}, code=exc.code) from None
        attachment = Attachment(
            uploaded_by=request.user,
            original_name=(file.name or "")[:200],
            content_type=content_type,
            size=file.size,
            sha256=sha,
        )
        attachment.file.save(f"upload{attachment.extension}", file, save=False)
        attachment.save()
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @action(detail=True)
    def download(self, request, pk=None):
        attachment = self.get_object()
        return FileResponse(
            attachment.file.open("rb"), content_type=attachment.content_type, filename=attachment.original_name
        )


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = NotificationSerializer

    def get_queryset(self):
        qs = Notification.objects.filter(recipient=self.request.user).select_related("case")
        if self.request.query_params.get("unread") in ("1", "true"):
            qs = qs.filter(is_read=False)
        return qs

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        response.data["unread_count"] = Notification.objects.filter(recipient=request.user, is_read=False).count()
        return response

    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        notification.is_read = True
        notification.save(update_fields=["is_read"])
        return Response(NotificationSerializer(notification).data)

    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        n = Notification.objects.filter(recipient=request.user, is_read=False).update(is_read=True)
        return Response({"updated": n})
