from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Appeal, Score, ScoreLine


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()

    def to_representation(self, user):
        if user is None:
            return None
        return {"id": user.pk, "name": user.get_full_name() or user.username}


class ScoreSerializer(serializers.ModelSerializer):
    month = serializers.SerializerMethodField()
    month_status = serializers.CharField(source="period.status", read_only=True)
    subject_kind_display = serializers.CharField(source="get_subject_kind_display", read_only=True)
    subject_label = serializers.CharField(read_only=True)
    place_label = serializers.CharField(read_only=True)
    user = UserBriefSerializer(read_only=True, allow_null=True)
    town_name = serializers.SerializerMethodField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = Score
        fields = [
            "id",
            "month",
            "month_status",
            "subject_kind",
            "subject_kind_display",
            "subject_label",
            "place_label",
            "user",
            "area",
            "department",
            "town",
            "town_name",
            "base",
            "deductions",
            "bonuses",
            "total",
            "yuan_per_point",
            "amount",
            "line_count",
            "is_current",
            "computed_at",
        ]
        read_only_fields = fields

    def get_month(self, obj) -> str:
        return f"{obj.period.month:%Y-%m}"

    def get_town_name(self, obj) -> str:
        return obj.town.name if obj.town_id else ""


class ScoreLineSerializer(serializers.ModelSerializer):
    rule_code = serializers.CharField(source="rule.code", read_only=True)
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    link = serializers.CharField(read_only=True)
    status_note = serializers.CharField(read_only=True)
    case = serializers.IntegerField(source="case_ref", read_only=True, allow_null=True)

    class Meta:
        model = ScoreLine
        fields = [
            "id",
            "score",
            "key",
            "rule_code",
            "rule_name",
            "occurred_on",
            "raw_points",
            "points",
            "capped",
            "voided",
            "status_note",
            "explanation",
            "source_model",
            "source_id",
            "case",
            "link",
        ]
        read_only_fields = fields


class AppealSerializer(serializers.ModelSerializer):
    appellant = UserBriefSerializer(read_only=True)
    reviewer = UserBriefSerializer(read_only=True, allow_null=True)
    line = serializers.IntegerField(source="line_id", read_only=True, allow_null=True)
    evidence_url = serializers.SerializerMethodField()
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Appeal
        fields = [
            "id",
            "score",
            "line",
            "line_key",
            "line_explanation",
            "line_points",
            "appellant",
            "reason",
            "evidence_url",
            "evidence_name",
            "status",
            "status_display",
            "reviewer",
            "reviewed_at",
            "decision_note",
            "total_before",
            "total_after",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_evidence_url(self, obj) -> str | None:
        if not obj.evidence:
            return None
        return reverse("assessment-api:appeal-evidence", args=[obj.pk])


class AppealCreateSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="要申诉的记分条目 id（/lines/ 中的 id）")
    reason = serializers.CharField(max_length=2000)
    evidence = serializers.FileField(required=False, allow_null=True)


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)
