from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gridgov import pii
from grids.api.serializers import AreaBriefSerializer, ScopedAreaField, ScopedHouseholdField

from ..choices import Action, LimitUnit, Rating, Source, Urgency
from ..models import Attachment, Case, CaseEvent, Category, Notification
from ..transitions import allowed_actions


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Category
        fields = [
            "id",
            "code",
            "name",
            "parent",
            "kind",
            "kind_display",
            "default_level",
            "urgent",
            "accept_amount",
            "accept_unit",
            "handle_amount",
            "handle_unit",
            "verify_amount",
            "verify_unit",
            "default_department_name",
        ]


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "original_name", "content_type", "size", "created_at", "url", "case"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField)
    def get_url(self, obj) -> str:
        return f"/api/v1/attachments/{obj.pk}/download/"


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class UserBriefField(serializers.Field):
    def to_representation(self, user):
        if user is None:
            return None
        return {"id": user.pk, "name": user.get_full_name() or user.username}


class CaseListSerializer(serializers.ModelSerializer):
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    source_display = serializers.CharField(source="get_source_display", read_only=True)
    category = serializers.SerializerMethodField()
    area = AreaBriefSerializer(read_only=True)
    owner = serializers.CharField(source="owner_label", read_only=True)
    reporter = UserBriefField(read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "number",
            "title",
            "state",
            "state_display",
            "source",
            "source_display",
            "kind",
            "urgency",
            "category",
            "area",
            "owner",
            "reporter",
            "due_at",
            "is_overdue",
            "is_supervised",
            "created_at",
            "version",
        ]

    @extend_schema_field(serializers.DictField)
    def get_category(self, obj) -> dict:
        return {"id": obj.category_id, "code": obj.category.code, "name": obj.category.name}


class CaseDetailSerializer(CaseListSerializer):
    allowed_actions = serializers.SerializerMethodField()
    contact_phone = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)
    assignee = UserBriefField(read_only=True)
    household = serializers.PrimaryKeyRelatedField(read_only=True)
    merged_into = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(CaseListSerializer.Meta):
        fields = [
            *CaseListSerializer.Meta.fields,
            "description",
            "household",
            "latitude",
            "longitude",
            "contact_name",
            "contact_phone",
            "assignee",
            "self_resolved",
            "merged_into",
            "step",
            "step_started_at",
            "remind_at",
            "rework_count",
            "return_count",
            "dispatch_count",
            "reminder_count",
            "extension_count",
            "accepted_at",
            "feedback_at",
            "closed_at",
            "closed_on_time",
            "rating",
            "attachments",
            "allowed_actions",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_actions(self, obj) -> list[str]:
        return allowed_actions(obj, self.context["request"].user)

    @extend_schema_field(serializers.CharField)
    def get_contact_phone(self, obj) -> str:
        return pii.mask_phone(obj.contact_phone)


class CaseCreateSerializer(serializers.Serializer):
    area = ScopedAreaField()
    category = serializers.SlugRelatedField(slug_field="code", queryset=Category.objects.filter(is_active=True))
    description = serializers.CharField(max_length=4000)
    title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.PATROL)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    household = ScopedHouseholdField(required=False, allow_null=True)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)
    contact_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    attachments = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Attachment.objects.filter(case__isnull=True)
    )

    def validate_contact_phone(self, value):
        if value:
            try:
                pii.validate_phone(value)
            except Exception as exc:
                raise serializers.ValidationError(exc.messages, code="phone_format") from None
        return pii.normalize_phone(value)

    def validate_attachments(self, value):
        user = self.context["request"].user
        if any(a.uploaded_by_id != user.pk for a in value):
            raise serializers.ValidationError(_("附件无效或已被使用"), code="bad_attachment")
        if len(value) > 9:
            raise serializers.ValidationError(_("最多上传 9 张照片"), code="too_many_attachments")
        return value


class TargetSerializer(serializers.Serializer):
    department = serializers.IntegerField(required=False)
    area = serializers.IntegerField(required=False)

    def validate(self, attrs):
        if bool(attrs.get("department")) == bool(attrs.get("area")):
            raise serializers.ValidationError(_("请在部门和下级单位中选择其一"), code="bad_target")
        return attrs


class ActionSerializer(serializers.Serializer):
    """Parameters of an action; which ones are required depends on the action (see the table)."""

    version = serializers.IntegerField(required=False, help_text="The case version the caller saw (409 if stale).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    target = TargetSerializer(required=False)
    due_at = serializers.DateTimeField(required=False)
    amount = serializers.DecimalField(max_digits=6, decimal_places=2, required=False)
    unit = serializers.ChoiceField(choices=LimitUnit.choices, required=False)
    rating = serializers.ChoiceField(choices=Rating.choices, required=False)
    into = serializers.IntegerField(required=False)
    attachments = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Attachment.objects.filter(case__isnull=True)
    )

    def validate_attachments(self, value):
        user = self.context["request"].user
        if any(a.uploaded_by_id != user.pk for a in value):
            raise serializers.ValidationError(_("附件无效或已被使用"), code="bad_attachment")
        return value


class CaseEventSerializer(serializers.ModelSerializer):
    action_display = serializers.CharField(source="get_action_display", read_only=True)
    actor = UserBriefField(read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = CaseEvent
        fields = [
            "seq",
            "action",
            "action_display",
            "actor",
            "from_state",
            "to_state",
            "owner_before",
            "owner_after",
            "note",
            "data",
            "created_at",
            "attachments",
        ]


class NotificationSerializer(serializers.ModelSerializer):
    case_number = serializers.CharField(source="case.number", read_only=True, default=None)

    class Meta:
        model = Notification
        fields = ["id", "kind", "message", "case", "case_number", "is_read", "created_at"]
        read_only_fields = fields


ACTION_CHOICES = [a for a in Action.values]
