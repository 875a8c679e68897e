"""The assessment API: scores, their lines and appeals, each limited to what the caller may see
(`visible_to`, the same choke point as the pages); an object outside it is a 404. Refusals use
the project's error shape {"code", "detail", "errors"}."""

from django.db.models import OuterRef, Subquery
from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from gridgov.api import ScopedReadOnlyViewSet, ScopedViewSetMixin

from .. import services
from ..models import Appeal, Score, ScoreLine
from .filters import AppealFilter, ScoreFilter, ScoreLineFilter
from .serializers import (
    AppealCreateSerializer,
    AppealSerializer,
    DecisionSerializer,
    ScoreLineSerializer,
    ScoreSerializer,
)


class ScoreViewSet(ScopedReadOnlyViewSet):
    """Monthly scores: your own, the units you head, and — for centre staff, town leaders and
    county officials — everybody inside your posts. Filters: month=YYYY-MM, subject_kind, town, user, mine."""

    queryset_model = Score
    serializer_class = ScoreSerializer
    filterset_class = ScoreFilter

    def get_base_queryset(self):
        return Score.objects.select_related("period", "user", "area", "department", "town").order_by(
            "-period__month", "subject_kind", "-total", "id"
        )


class ScoreLineViewSet(ScopedReadOnlyViewSet):
    """The ledger: one line per deduction or bonus, each naming the record that caused it."""

    queryset_model = ScoreLine
    serializer_class = ScoreLineSerializer
    filterset_class = ScoreLineFilter

    def get_base_queryset(self):
        return ScoreLine.objects.select_related("rule").order_by("score_id", "occurred_on", "id")


class AppealViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """申诉: file one against a deduction of yours (multipart with `evidence` for a file); reviewers
    accept or reject it. 409 `conflict` when the line already has an open or upheld appeal or the
    appeal was already decided; 403 when it is not yours to file or decide."""

    queryset_model = Appeal
    serializer_class = AppealSerializer
    filterset_class = AppealFilter
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_base_queryset(self):
        line = ScoreLine.objects.filter(score_id=OuterRef("score_id"), key=OuterRef("line_key")).values("id")[:1]
        return (
            Appeal.objects.select_related("appellant", "reviewer")
            .annotate(line_id=Subquery(line))
            .order_by("-created_at", "-id")
        )

    def _reload(self, pk: int) -> dict:
        return AppealSerializer(self.get_base_queryset().get(pk=pk), context={"request": self.request}).data

    @extend_schema(request=AppealCreateSerializer, responses={201: AppealSerializer})
    def create(self, request, *args, **kwargs):
        body = AppealCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        line_id = body.validated_data["line"]
        if not ScoreLine.objects.visible_to(request.user).filter(pk=line_id).exists():
            raise Http404
        appeal = services.file_appeal(
            line_id=line_id,
            user=request.user,
            reason=body.validated_data["reason"],
            evidence=body.validated_data.get("evidence"),
        )
        return Response(self._reload(appeal.pk), status=status.HTTP_201_CREATED)

    def _decide(self, request, accept: bool):
        appeal = self.get_object()  # 404 outside scope
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.decide_appeal(
            appeal_id=appeal.pk, reviewer=request.user, accept=accept, note=body.validated_data.get("note", "")
        )
        return Response(self._reload(appeal.pk))

    @extend_schema(request=DecisionSerializer, responses={200: AppealSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Uphold the appeal: the line is voided and the score recomputed (caps included)."""
        return self._decide(request, accept=True)

    @extend_schema(request=DecisionSerializer, responses={200: AppealSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject the appeal; `note` (the reason) is required."""
        return self._decide(request, accept=False)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True)
    def evidence(self, request, pk=None):
        appeal = self.get_object()
        if not appeal.evidence:
            raise Http404
        return FileResponse(
            appeal.evidence.open("rb"),
            content_type=appeal.evidence_type or "application/octet-stream",
            filename=appeal.evidence_name or "evidence",
        )
